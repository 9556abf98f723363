"""The full-text index memory_search reads on PostgreSQL: a GIN index on the very
expression the search filters by (`memory.search.SEARCH_VECTOR_SQL`). SQLite has no
tsvector; there the search falls back to word matching and this migration does nothing.
Raw SQL, so `makemigrations` sees no model change (tests/test_migrations.py)."""

from django.db import migrations

INDEX = "memory_content_fts"
CREATE = (
    f"CREATE INDEX IF NOT EXISTS {INDEX} ON memory_memoryentry "
    "USING GIN (to_tsvector('english'::regconfig, COALESCE(content, '')))"
)
DROP = f"DROP INDEX IF EXISTS {INDEX}"


def _on_postgres(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("memory", "0003_memory_shape"),
    ]

    operations = [
        migrations.RunPython(_on_postgres(CREATE), _on_postgres(DROP), elidable=False),
    ]
