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
