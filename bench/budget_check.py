"""Benchmark: the budget check's cost at 0 and at 1,000,000 ledger rows.

Compares the counter-row check the project uses (`budget_stats`, `budget_remaining`)
with the naive approach of summing the ledger. Prints figures; asserts nothing.

    .venv/bin/python bench/budget_check.py [--rows 1000000]

Uses a throw-away SQLite file unless BENCH_DATABASE_URL points elsewhere.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="agentsite-bench-")
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentsite.settings.dev")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command

    from agentsite.core.clock import utc_today
    from budget.models import LedgerEntry, Scope
    from budget.selectors import budget_remaining, budget_stats, ledger_usage_summed
    from budget.services import budget_reserve, budget_settle
    from budget.usage import TokenUsage

    call_command("migrate", verbosity=0)
    LedgerEntry.objects.all().delete()

    def measure(label: str) -> None:
        rows = LedgerEntry.objects.count()
        counter = timed(budget_remaining, args.repeat)
        stats = timed(budget_stats, args.repeat)
        summed = timed(lambda: ledger_usage_summed(scope=Scope.PROACTIVE), max(5, args.repeat // 10))
        print(f"{label:>12} {rows:>10,} rows | counter check {counter:8.3f} ms | stats {stats:8.3f} ms"
              f" | ledger sum {summed:9.3f} ms")

    print(f"database: {django.db.connection.vendor}; median of {args.repeat} runs")
    measure("empty")
    today = utc_today()
    batch = 20_000
    for start in range(0, args.rows, batch):
        LedgerEntry.objects.bulk_create(
            LedgerEntry(scope=Scope.PROACTIVE, day=today, model="bench", input_tokens=1, output_tokens=1)
            for _ in range(min(batch, args.rows - start))
        )
    # Keep the counter honest too: one real settle on top.
    r = budget_reserve(amount=10)
    budget_settle(reservation_id=r.pk, usage=TokenUsage(input=1), model="bench")
    measure("filled")


if __name__ == "__main__":
    main()
