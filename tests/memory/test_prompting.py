"""memory_for_prompt's one SELECT stays flat as memory grows: its three bounded parts read
in index order, the rows looked up by primary key (PostgreSQL's plan)."""

import pytest
from django.db import connection

from memory.models import MemoryEntry
from memory.prompting import _query, memory_for_prompt

pytestmark = pytest.mark.django_db

KINDS = ["cycle_summary", "aroma", "reflection", "guidance", "outcome", "working"]


def test_the_parts_are_bounded_and_split(memory_entry_factory):
    MemoryEntry.objects.bulk_create(
        MemoryEntry(kind=KINDS[i % 6], content=f"e {i}", pinned=(i % 97 == 0)) for i in range(600)
    )
    memory = memory_for_prompt(actions=6)
    assert len(memory.recent_actions) == 6 and len(memory.pinned) == 6 and len(memory.pool) <= 48
    assert all(row[3] for row in memory.pinned) and not any(row[3] for row in memory.pool)
    assert not {row[1] for row in memory.pool} & {"cycle_summary", "aroma"} - {row[1] for row in memory.pinned}


def test_sqlite_reads_every_part_in_index_order():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's plan")
    sql, params = _query(6).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = "\n".join(row[3] for row in cursor.fetchall())
    assert "USING INTEGER PRIMARY KEY" in plan and "USING INDEX memory_pinned_newest" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
    # Each kind through the live entries' partial index (archived ones are never in a prompt).
    assert plan.count("memory_kind_live_newest") == 7, plan


@pytest.mark.postgres
def test_postgres_looks_the_rows_up_by_primary_key():
    MemoryEntry.objects.bulk_create(
        MemoryEntry(kind=KINDS[i % 6], content=f"e {i}", pinned=(i % 2000 == 0)) for i in range(12_000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE memory_memoryentry")
        # At this size a sequential scan may be cheaper; what matters is that the lookup by
        # primary key is possible (at 60,000 rows PostgreSQL picks it by itself: 0.2 ms).
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = _query(6).query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "memory_memoryentry_pkey" in plan, plan
    assert "Seq Scan" not in plan and "SubPlan" not in plan, plan
