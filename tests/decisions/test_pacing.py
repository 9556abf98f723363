import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decisions.pacing import DAY_SECONDS, DaySpend, even_interval, failure_backoff, next_run_delay, pacing_interval

MIN, MAX = 60, 3600
BOUNDED = settings(max_examples=200, deadline=None)


def interval(u: float, low: int = MIN, high: int = MAX) -> int:
    return pacing_interval(usage_ratio=u, min_seconds=low, max_seconds=high)


@pytest.mark.parametrize(
    ("u", "seconds"),
    [(0, 60), (0.25, 180), (0.5, 300), (0.6, 800), (0.8, 1800), (0.9, 2700), (1.0, 3600)],
)
def test_interval_at_known_points(u, seconds):
    assert interval(u) == seconds


def test_returns_whole_seconds():
    assert all(isinstance(interval(u / 100), int) for u in range(101))


@pytest.mark.parametrize("breakpoint", [0.5, 0.8])
def test_no_jump_at_the_breakpoints(breakpoint):
    eps = 1e-6
    assert abs(interval(breakpoint + eps) - interval(breakpoint - eps)) < 0.01 * (MAX - MIN)


@BOUNDED
@given(st.floats(-1, 2, allow_nan=False), st.floats(-1, 2, allow_nan=False))
def test_monotonic_non_decreasing(a, b):
    low, high = sorted((a, b))
    assert interval(low) <= interval(high)


@BOUNDED
@given(u=st.floats(-1, 2, allow_nan=False), low=st.integers(1, 5_000), span=st.integers(0, 10_000),
       delta=st.floats(0, 1))
def test_any_bounds_are_respected_and_monotonic(u, low, span, delta):
    high = low + span
    here, later = interval(u, low, high), interval(u + delta, low, high)
    assert low <= here <= later <= high


@pytest.mark.parametrize(("u", "seconds"), [(-0.5, 60), (-1e9, 60), (1.5, 3600), (1e9, 3600), (float("inf"), 3600)])
def test_ratio_outside_zero_one_is_clamped(u, seconds):
    assert interval(u) == seconds


def test_unknown_ratio_is_treated_as_spent():
    assert interval(float("nan")) == MAX


def test_min_above_the_first_breakpoint():
    # min 600 > 300: flat at 600 until the curve rises past it, then as usual.
    assert [interval(u, 600, 3600) for u in (0, 0.25, 0.5, 0.55)] == [600, 600, 600, 600]
    assert interval(0.6, 600, 3600) == 800
    assert interval(1.0, 600, 3600) == 3600


def test_max_below_the_second_breakpoint():
    assert interval(0.6, 60, 1000) == 800
    assert [interval(u, 60, 1000) for u in (0.7, 0.8, 0.9, 1.0)] == [1000, 1000, 1000, 1000]


def test_max_below_min_is_lifted_to_min():
    assert {interval(u, 500, 100) for u in (0, 0.5, 1)} == {500}


def test_equal_bounds():
    assert {interval(u, 900, 900) for u in (0, 0.3, 0.5, 0.8, 1)} == {900}


@pytest.mark.parametrize(("failures", "seconds"), [(0, 60), (1, 120), (2, 240), (3, 480), (5, 1920), (6, 3600),
                                                   (50, 3600), (10**9, 3600)])
def test_backoff_doubles_up_to_the_cap(failures, seconds):
    assert failure_backoff(consecutive_failures=failures, min_seconds=MIN, max_seconds=MAX) == seconds


def test_backoff_never_below_min():
    assert failure_backoff(consecutive_failures=-3, min_seconds=MIN, max_seconds=MAX) == MIN


def delay(**kwargs) -> int:
    return next_run_delay(**{"usage_ratio": 0.0, "min_seconds": MIN, "max_seconds": MAX} | kwargs)


def test_next_run_delay_is_the_pacing_by_default():
    assert delay(usage_ratio=0.6) == 800


def test_failures_stretch_the_delay():
    assert delay(consecutive_failures=3) == 480
    assert delay(usage_ratio=0.6, consecutive_failures=1) == 800  # pacing is already longer
    assert delay(usage_ratio=0.9, consecutive_failures=40) == MAX


def test_meditation_sets_a_floor():
    assert delay(at_least=600) == 600
    assert delay(usage_ratio=0.6, at_least=120) == 800
    assert delay(at_least=None) == 60
    assert delay(at_least=0) == 60


def test_at_least_alone_may_exceed_max():
    assert delay(max_seconds=300, at_least=600) == 600
    assert delay(max_seconds=300, usage_ratio=1.0, consecutive_failures=20) == 300


# Time-aware pacing: 7M a day is 81.0 tokens a second on the even line.
LIMIT = 7_000_000
RATE = LIMIT / DAY_SECONDS


def spend(spent: int, hour: float, cycles: int = 10, limit: int = LIMIT, used: int | None = None) -> DaySpend:
    return DaySpend(spent=spent, limit=limit, cycles=cycles, elapsed=hour * 3600, used=used)


def even(day: DaySpend, low: int = MIN, high: int = MAX) -> int | None:
    return even_interval(day=day, min_seconds=low, max_seconds=high)


def test_on_the_line_the_next_cycle_waits_for_the_line_to_earn_its_cost():
    # 12:00, half spent by 10 cycles of 350k: the line needs 350k / 81 tokens/s = 4320 s, capped at max.
    assert even(spend(LIMIT // 2, 12)) == MAX
    # 100 cycles of 35k: 35k / 81 = 432 s.
    assert even(spend(LIMIT // 2, 12, cycles=100)) == 432


def test_above_the_line_slows_down_below_it_speeds_up_but_never_under_min():
    on_line = even(spend(LIMIT // 2, 12, cycles=100))  # 432 s
    # 200k ahead, and a 37k cycle to earn: 237k / 81 tokens a second.
    assert even(spend(LIMIT // 2 + 200_000, 12, cycles=100)) == 2926
    # 10k behind, and a 34.9k cycle: 24.9k / 81.
    assert MIN < even(spend(LIMIT // 2 - 10_000, 12, cycles=100)) == 308 < on_line
    assert even(spend(LIMIT // 4, 12, cycles=100)) == MIN  # far behind: as fast as allowed


def test_no_estimate_before_the_first_cycle_that_cost_anything():
    assert spend(0, 3, cycles=0).cycle_cost is None
    assert spend(0, 3, cycles=4).cycle_cost is None  # four cycles that failed before any call
    assert even(spend(0, 3, cycles=0)) is None
    assert spend(120_000, 3, cycles=4).cycle_cost == 30_000


def test_spent_budget_waits_the_maximum():
    assert even(spend(LIMIT, 12)) == MAX
    assert even(spend(LIMIT + 5, 23.99)) == MAX
    assert even(spend(100, 1, limit=0)) is None  # no sane limit: the usage bands decide


def test_the_last_cycle_of_the_day_is_due_at_midnight():
    # 30k a cycle, one cycle's worth left at 23:50: the line reaches the limit at 24:00.
    day = spend(239 * 30_000, 23 + 50 / 60, cycles=239, limit=240 * 30_000)
    assert even(day) == 600


@BOUNDED
@given(spent=st.integers(0, 2 * LIMIT), extra=st.integers(0, LIMIT), hour=st.floats(0, 24),
       cycles=st.integers(1, 2000), low=st.integers(1, 600), span=st.integers(0, 7200))
def test_time_aware_is_bounded_and_slows_with_spend(spent, extra, hour, cycles, low, span):
    high = low + span
    here = even(spend(spent + 1, hour, cycles), low, high)
    later = even(spend(spent + 1 + extra, hour, cycles), low, high)
    assert low <= here <= later <= high


def test_next_run_delay_follows_the_day_when_given():
    day = spend(LIMIT // 2, 12, cycles=100)
    assert delay(usage_ratio=0.5, day=day) == 432  # the bands alone would say 300
    assert delay(usage_ratio=0.5, day=spend(0, 0, cycles=0)) == 300  # no estimate: the bands
    assert delay(usage_ratio=0.5, day=None) == 300


def test_failures_and_meditation_still_stretch_time_aware_pacing():
    behind = spend(LIMIT // 4, 12, cycles=300)  # time-aware says min
    assert delay(day=behind) == MIN
    assert delay(day=behind, consecutive_failures=3) == 480
    assert delay(day=behind, at_least=600) == 600
    assert delay(day=spend(LIMIT, 12), max_seconds=300, at_least=900) == 900


def test_the_usage_ratio_of_a_day_reads_used_alone_when_given():
    assert spend(3_500_000, 12).usage_ratio == 0.5
    assert spend(3_600_000, 12, used=3_500_000).usage_ratio == 0.5
    assert spend(1, 12, limit=0).usage_ratio == 1.0
