"""Hot reads compiled once: a queryset's SQL is built by the ORM once per connection and
key, then run raw, its rows converted by the same compiler (so values come back exactly as
the ORM would give them). For the cycle's few hot reads, where building the query costs the
ORM many times what running it costs the database."""

from collections.abc import Callable, Hashable

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import QuerySet

_MAX_ENTRIES = 64  # keys that change daily (a day's view) must not pile up
_compiled: dict[tuple, tuple] = {}


def query_compiled(key: Hashable, build: Callable[[], QuerySet], conn) -> tuple:
    """(compiler, sql, params) of `build()` on `conn`, built the first time `key` is seen."""
    entry = _compiled.get((key, conn))
    if entry is None:
        if len(_compiled) >= _MAX_ENTRIES:
            _compiled.clear()
        compiler = build().query.get_compiler(connection=conn)
        entry = _compiled[(key, conn)] = (compiler, *compiler.as_sql())
    return entry


def rows_compiled(key: Hashable, build: Callable[[], QuerySet], *, alias: str = DEFAULT_DB_ALIAS,
                  most: int | None = None, bind: dict | None = None) -> tuple[list[tuple], object]:
    """The rows of `build()` (at most `most`), through its SQL compiled once; and the
    compiler (its `query` names the columns). `bind` swaps parameters at each run: a
    placeholder value `build()` was made with (as the database gets it) for this run's."""
    conn = connections[alias]
    compiler, sql, params = query_compiled(key, build, conn)
    if bind:
        params = tuple(bind.get(p, p) if isinstance(p, Hashable) else p for p in params)
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall() if most is None else cursor.fetchmany(most)
    return (list(compiler.results_iter(results=[rows])) if rows else []), compiler
