"""Issue 12's pacing targets on a simulated UTC day (bench/pacing_day.py, the real pacing
functions, arithmetic only): at 12k, 30k and 60k tokens per cycle, >= 90% of the 7M budget
used by 24:00, never exhausted before 22:00, always within 15 points of even spend."""

import math
from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from bench.pacing_day import DAY_SECONDS, LIMIT, MIN_SECONDS, simulate_day
from decisions.models import Cycle, CycleStatus
from decisions.pacing import DaySpend
from decisions.selectors import pacing_day_spend
from decisions.services import cycle_run
from tests.factories import decision_text


@pytest.mark.parametrize("cost", [12_000, 30_000, 60_000])
def test_time_aware_pacing_meets_the_targets(cost):
    day = simulate_day(cost)
    assert day.used_ratio >= 0.90
    assert day.exhausted_at is None or day.exhausted_at >= 22 * 3600
    assert day.max_deviation <= 0.15
    assert day.met
    assert all(b - a >= MIN_SECONDS for a, b in zip(day.starts, day.starts[1:]))  # min interval holds


@pytest.mark.parametrize("cost", [12_000, 30_000, 60_000])
def test_the_targets_hold_when_cycles_vary_and_the_tick_is_late(cost):
    # Costs swinging ±60% around the mean, and cycles starting at the next minute tick.
    day = simulate_day(cost, spread=0.6, on_time=False)
    assert day.met and len(set(day.costs)) > 10


@pytest.mark.parametrize("cost", [12_000, 30_000, 60_000])
def test_spend_never_runs_ahead_of_the_line_by_more_than_a_cycle(cost):
    day = simulate_day(cost)
    for t in range(0, DAY_SECONDS, 300):
        assert day.used_at(t) <= LIMIT * t / DAY_SECONDS + 2 * cost


def test_the_seed_formula_misses_them():
    # The simulation can fail: the usage bands alone front-load at 60k and under-spend at 12k.
    heavy = simulate_day(60_000, time_aware=False, on_time=False)
    light = simulate_day(12_000, time_aware=False, on_time=False)
    assert not heavy.met and heavy.at_ratio(0.5) < 4 * 3600
    assert not light.met and light.used_ratio < 0.6


# The same rule inside a real cycle: the selector reads today's spend once, the cycle paces by it.
MIDNIGHT = datetime(2026, 3, 2, tzinfo=timezone.utc)


@pytest.mark.django_db
def test_the_selector_reads_todays_spend_cycles_and_time_of_day(claude, budget_limit):
    budget_limit(50_000)
    with time_machine.travel(MIDNIGHT + timedelta(hours=6), tick=False):
        assert pacing_day_spend() == DaySpend(spent=0, used=0, limit=50_000, cycles=0, elapsed=6 * 3600)
        claude.reply_text(decision_text(action="meditate", duration=1))
        cycle_run()
        Cycle.objects.create(status=CycleStatus.SKIPPED, reason="locked")  # skips cost nothing, never count
        assert pacing_day_spend() == DaySpend(spent=120, used=120, limit=50_000, cycles=1, elapsed=6 * 3600)


@pytest.mark.django_db
def test_a_cycle_early_in_the_day_waits_for_the_even_line(claude, budget_limit):
    budget_limit(50_000)  # 0.58 tokens a second on the even line; the fake's cycle costs 120
    with time_machine.travel(MIDNIGHT + timedelta(seconds=30), tick=False):
        claude.reply_text(decision_text(action="meditate", duration=1))
        run = cycle_run()
    # Due when the line reaches 240 (this cycle's 120 and the next one's): 414.72 s after midnight.
    assert run.next_run_in_seconds == math.ceil(DAY_SECONDS * 240 / 50_000 - 30) == 385
    assert run.cycle.next_run_at == MIDNIGHT + timedelta(seconds=30 + 385)
