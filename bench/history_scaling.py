"""Issue 12: does a cycle get slower as history grows? Cycle time with 1M ledger rows,
100k memories, 10k tasks and 10k cycles against the same site empty, and the query plans.

    python bench/history_scaling.py [--scale 0.1] [--cycles 100] [--where disk,pg] [-v]

For each database (a SQLite file on disk; a throw-away PostgreSQL database, dropped after),
in one process per kind of database: `cycle_run()` (median of --cycles, the loopback fake
answering a sure meditation) with and without history. The history is bulk-inserted (timestamps spread over
the past two years, 60% of the tasks open) into one of two fresh databases, ANALYZE on
PostgreSQL (what autovacuum does soon enough), then time cycles in blocks of ten alternating
between the empty and the filled database (one process, the connection switched between
them), so a busy machine slows both alike. Then EXPLAIN of the open-task selection
(`actions.selectors.task_list_open`), flagged when it sorts (SQLite: a temp B-tree for
ORDER BY; PostgreSQL: a full Sort node); with -v the plan of every SELECT of one
cycle, flagged likewise.
"""

from __future__ import annotations

import argparse
import itertools
import re
import time
from datetime import timedelta

from _common import (
    SqlCount,
    child_report,
    database,
    django_setup,
    header,
    keep_no_requests,
    median,
    row,
    run_child,
    site_env,
    start_fake_anthropic,
    timed_ms,
)

TARGET_RATIO = 1.10
HISTORY = {"ledger": 1_000_000, "memories": 100_000, "tasks": 10_000, "cycles": 10_000}
BATCH = 5_000
SPAN = timedelta(days=730)
ROUND = 10  # cycles per block; blocks alternate between the empty and the filled database


# --- the history, bulk-inserted -------------------------------------------------------------------------


def _past(n: int, total: int, now):
    """The n-th of `total` moments spread evenly over SPAN, oldest first, all before `now`."""
    return now - SPAN + SPAN * (n / max(1, total)) - timedelta(minutes=5)


def _insert(model, total: int, make) -> None:
    """bulk_create `total` rows made by make(n), with auto_now(_add) off so the made
    timestamps stay (this process only)."""
    fields = [f for f in model._meta.fields if getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False)]
    saved = [(f, f.auto_now_add, f.auto_now) for f in fields]
    for f in fields:
        f.auto_now_add = f.auto_now = False
    try:
        numbers = iter(range(total))
        while batch := [make(n) for n in itertools.islice(numbers, BATCH)]:
            model.objects.bulk_create(batch)
    finally:
        for f, add, now in saved:
            f.auto_now_add, f.auto_now = add, now


def history_fill(scale: float) -> dict:
    from agentsite.core.clock import utc_now
    from actions.models import Task, TaskSource, TaskStatus
    from budget.models import LedgerEntry, Scope
    from decisions.models import Cycle, CycleStatus
    from memory.models import MemoryEntry, MemoryKind

    now = utc_now()
    counts = {name: max(1, int(n * scale)) for name, n in HISTORY.items()}
    memory_kinds = [MemoryKind.CYCLE_SUMMARY, MemoryKind.AROMA, MemoryKind.REFLECTION, MemoryKind.OUTCOME,
                    MemoryKind.GUIDANCE, MemoryKind.FOCUS]
    task_statuses = [TaskStatus.PENDING] * 5 + [TaskStatus.RUNNING] + [TaskStatus.DONE] * 3 + [TaskStatus.CANCELLED]

    def ledger(n):
        at = _past(n, counts["ledger"], now)
        return LedgerEntry(scope=Scope.PROACTIVE if n % 4 else Scope.REACTIVE, day=at.date(), model="bench",
                           input_tokens=3000, output_tokens=120, request_id=f"req_{n}",
                           meta={"cycle_id": n, "purpose": "decision"}, created_at=at)

    def memory(n):
        at = _past(n, counts["memories"], now)
        return MemoryEntry(kind=memory_kinds[n % len(memory_kinds)], content=f"history entry {n}: " + "x" * 120,
                           meta={"n": n}, cycle_id=n, created_at=at, updated_at=at)

    def task(n):
        at = _past(n, counts["tasks"], now)
        return Task(title=f"task {n}", description="y" * 200, priority=1 + n % 5,
                    status=task_statuses[n % len(task_statuses)], source=TaskSource.TELEGRAM, created_at=at,
                    updated_at=at)

    def cycle(n):
        at = _past(n, counts["cycles"], now)
        return Cycle(status=CycleStatus.COMPLETED, trigger="schedule", prompt="p" * 2000, raw_response="r" * 400,
                     decision={"action": "meditate"}, action="meditate", certainty=0.9, significance=0.2,
                     executed=True, result={"status": "ok"}, input_tokens=3000, output_tokens=120,
                     started_at=at, finished_at=at + timedelta(seconds=2), duration_ms=2000)

    started = time.monotonic()
    _insert(LedgerEntry, counts["ledger"], ledger)
    _insert(MemoryEntry, counts["memories"], memory)
    _insert(Task, counts["tasks"], task)
    _insert(Cycle, counts["cycles"], cycle)
    return {**counts, "fill_seconds": round(time.monotonic() - started, 1)}


# --- plans -------------------------------------------------------------------------------------------------


def plan(sql: str, params) -> tuple[str, bool]:
    """The query plan of one statement and whether it sorts what it scans."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            text = "\n".join(str(r[-1]) for r in cursor.fetchall())
            return text, "TEMP B-TREE" in text.upper()
        cursor.execute("EXPLAIN " + sql, params)
        text = "\n".join(r[0] for r in cursor.fetchall())
        # A full Sort node reads all its input before its first row: its cost grows with the
        # table. An Incremental Sort over an index's presorted key under a LIMIT stops at the
        # first match in index order (PostgreSQL picks it when matches are dense, and the
        # kind's partial index when they are rare), so it is not flagged.
        return text, re.search(r"(?:^|->)\s*Sort\s+\(", text, re.MULTILINE) is not None


class Recorder(SqlCount):
    """SqlCount that also keeps each statement's raw sql and params, for EXPLAIN."""

    def __init__(self) -> None:
        super().__init__()
        self.raw: list[tuple[str, tuple]] = []

    def _wrapper(self, execute, sql, params, many, context):
        self.raw.append((sql, params))
        return super()._wrapper(execute, sql, params, many, context)


def open_task_plan() -> tuple[str, bool]:
    from actions.selectors import task_list_open

    with Recorder() as rec:
        task_list_open()
    selects = [(s, p) for s, p in rec.raw if s.lstrip().upper().startswith("SELECT")]
    return plan(*selects[-1])


def cycle_plans(cycle) -> list[tuple[str, str, bool, float]]:
    """Each distinct SELECT of one cycle: its plan, whether it sorts, and its median time
    (ms, run again 5 times outside the cycle)."""
    from django.db import connection

    with Recorder() as rec:
        cycle()
    out, seen = [], set()
    for sql, params in rec.raw:
        if sql.lstrip().upper().startswith("SELECT") and sql not in seen and "FOR UPDATE" not in sql:
            seen.add(sql)
            text, flagged = plan(sql, params)
            with connection.cursor() as cursor:
                took = median([timed_ms(lambda: (cursor.execute(sql, params), cursor.fetchall())) for _ in range(5)])
            out.append((sql, text, flagged, took))
    return out


# --- one database, in its own process -----------------------------------------------------------------


def child(where: str, args) -> None:
    fake = start_fake_anthropic()
    keep_no_requests(fake)
    with database(where) as filled_url, database(where) as empty_url:
        django_setup(site_env(filled_url, anthropic_url=fake.url))
        result = measure(args, empty_name=_db_name(empty_url))
        from django.db import connections

        connections.close_all()  # so the throw-away PostgreSQL databases can be dropped
    fake.stop()
    child_report({"where": where, **result})


def _db_name(url: str) -> str:
    return url.removeprefix("sqlite:///") if url.startswith("sqlite:") else url.rsplit("/", 1)[1]


class Switch:
    """Points Django's default connection at one of two databases (same server, same
    options), so cycles on the empty and the filled one can be interleaved in one process
    and a busy machine slows both alike."""

    def __init__(self, empty_name: str) -> None:
        from django.db import connections

        self.connections = connections
        self.filled = dict(connections.settings["default"])
        self.empty = {**self.filled, "NAME": empty_name}

    def use(self, config: dict) -> None:
        self.connections["default"].close()
        self.connections.settings["default"] = config
        del self.connections["default"]


def measure(args, *, empty_name: str) -> dict:
    from django.core.management import call_command
    from django.db import connection

    from decisions.models import CycleStatus
    from decisions.services import cycle_run

    def cycle() -> None:
        status = cycle_run(trigger="manual").cycle.status
        if status != CycleStatus.COMPLETED:
            raise SystemExit(f"the cycle ended {status}, not completed")

    switch = Switch(empty_name)
    for _ in range(5):  # the filled one's first cycles (its singleton rows), before its history
        cycle()
    switch.use(switch.empty)
    call_command("migrate", verbosity=0)
    for _ in range(5):
        cycle()
    with SqlCount() as count_empty:
        cycle()
    switch.use(switch.filled)
    filled_with = history_fill(args.scale)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    samples: dict[str, list[float]] = {"empty": [], "filled": []}
    rounds = max(1, args.cycles // ROUND)
    for _ in range(rounds):  # ROUND cycles on each in turn, each block after one unmeasured cycle
        for name in ("empty", "filled"):
            switch.use(getattr(switch, name))
            cycle()
            samples[name] += [timed_ms(cycle) for _ in range(ROUND)]
    with SqlCount() as count_filled:
        cycle()
    task_plan, task_sorts = open_task_plan()
    plans = cycle_plans(cycle)
    flagged = [(sql, text) for sql, text, bad, _ in plans if bad]
    slowest = sorted(plans, key=lambda p: -p[3])[:3]
    if args.verbose:
        print(f"\n--- {where_name(connection.vendor)}: plan of the open-task selection ---\n{task_plan}")
        for sql, text in flagged:
            print(f"\n--- a cycle's SELECT that sorts or scans ---\n{sql[:600]}\n{text}")
        for sql, text, _, took in slowest:
            print(f"\n--- one of a cycle's slowest SELECTs with history: {took:.2f} ms ---\n{sql[:600]}\n{text}")
    return {
        "vendor": connection.vendor, "empty": median(samples["empty"]), "filled": median(samples["filled"]),
        "history": filled_with, "statements": [count_empty.total, count_filled.total], "task_plan": task_plan,
        "task_sorts": task_sorts, "flagged": sorted({_table(sql) for sql, _ in flagged}),
        "slowest": [f"{_table(sql)} {took:.2f} ms" for sql, _, _, took in slowest],
    }


def _table(sql: str) -> str:
    after = sql.split(" FROM ", 1)[-1].split()[0]
    return after.strip('"')


def where_name(vendor_or_where: str) -> str:
    return {"disk": "SQLite on disk", "tmpfs": "SQLite on tmpfs", "pg": "PostgreSQL",
            "sqlite": "SQLite", "postgresql": "PostgreSQL"}[vendor_or_where]


# --- the table -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the history (0.1: a quick run)")
    parser.add_argument("--cycles", type=int, default=100, help="measured cycles, empty and filled each")
    parser.add_argument("--where", default="disk,pg", help="comma-separated: disk, tmpfs, pg")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the plans")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args)
        return

    extra = [f"--scale={args.scale}", f"--cycles={args.cycles}"] + (["-v"] if args.verbose else [])
    results = [run_child("history_scaling.py", where, *extra) for where in args.where.split(",")]
    h = results[0]["history"]
    header(f"history scaling ({h['ledger']:,} ledger rows, {h['memories']:,} memories, {h['tasks']:,} tasks,"
           f" {h['cycles']:,} cycles; median of {args.cycles} cycles each)")
    for r in results:
        place = where_name(r["where"])
        ratio = r["filled"] / r["empty"]
        row(f"cycle time with history vs empty, {place}",
            f"{ratio:.2f}x ({r['filled']:.2f} vs {r['empty']:.2f} ms; fill {r['history']['fill_seconds']} s)",
            "—", f"<= {TARGET_RATIO:.2f}x", ratio <= TARGET_RATIO)
        empty_n, filled_n = r["statements"]
        row(f"SQL statements per cycle, empty -> with history, {place}", f"{empty_n} -> {filled_n}", "—",
            "constant", empty_n == filled_n)
        first = r["task_plan"].replace("\n", " / ")
        row(f"open-task selection plan, {place}", ("sorts: " if r["task_sorts"] else "") + first[:160], "—",
            "an index serves it (no temp B-tree / Seq Scan + Sort)", not r["task_sorts"])
        row(f"a cycle's SELECTs that sort (or seq-scan and sort) with history, {place}",
            f"{len(r['flagged'])}: {', '.join(r['flagged'])}" if r["flagged"] else "0", "—", "0", not r["flagged"])
        row(f"a cycle's slowest SELECTs with history (run alone), {place}", "; ".join(r["slowest"]), "—", "—", None)


if __name__ == "__main__":
    main()
