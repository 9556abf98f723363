"""How long to wait before the next cycle. Pure arithmetic: the caller passes the
usage ratio and the interval bounds (from settings), so this is trivially testable.

The more of today's budget is spent, the longer the pause: brisk while under half,
moderate up to 80%, conserving beyond. The curve is continuous so a cycle that
nudges usage past a breakpoint does not make the schedule jump.
"""

import math
from datetime import UTC, datetime, timedelta

# (usage ratio, seconds) breakpoints between the configured min (at 0) and max (at 1).
ACTIVE_UNTIL = (0.5, 300)
MODERATE_UNTIL = (0.8, 1_800)
_MAX_BACKOFF_EXPONENT = 32  # beyond this every sane max is reached; avoids huge ints


def pacing_interval(*, usage_ratio: float, min_seconds: int, max_seconds: int) -> int:
    """Seconds to wait after a normal cycle, rising continuously with usage."""
    min_seconds, max_seconds = _bounds(min_seconds, max_seconds)
    u = _ratio(usage_ratio)
    points = [(0.0, min_seconds), ACTIVE_UNTIL, MODERATE_UNTIL, (1.0, max_seconds)]
    for (u0, s0), (u1, s1) in zip(points, points[1:]):
        if u <= u1:
            seconds = s0 + (s1 - s0) * (u - u0) / (u1 - u0)
            break
    # Clamping after interpolation keeps odd bounds (min above 300, max below 1800) monotonic.
    return _clamp(round(seconds), min_seconds, max_seconds)


def failure_backoff(*, consecutive_failures: int, min_seconds: int, max_seconds: int) -> int:
    """Exponential wait after failures: min * 2**n, capped at max (min when n < 1)."""
    min_seconds, max_seconds = _bounds(min_seconds, max_seconds)
    n = min(max(0, int(consecutive_failures)), _MAX_BACKOFF_EXPONENT)
    return _clamp(min_seconds * 2**n, min_seconds, max_seconds)


def next_run_delay(
    *,
    usage_ratio: float,
    min_seconds: int,
    max_seconds: int,
    at_least: int | None = None,
    consecutive_failures: int = 0,
) -> int:
    """The pause before the next cycle: pacing, stretched by failures, and never shorter
    than `at_least` (a meditation's duration), which alone may exceed max_seconds."""
    delay = pacing_interval(usage_ratio=usage_ratio, min_seconds=min_seconds, max_seconds=max_seconds)
    if consecutive_failures > 0:
        delay = max(delay, failure_backoff(
            consecutive_failures=consecutive_failures, min_seconds=min_seconds, max_seconds=max_seconds))
    if at_least is not None:
        delay = max(delay, int(at_least))
    return delay


def seconds_until_next_utc_midnight(now: datetime) -> int:
    """Whole seconds (rounded up, at least 1) until the next 00:00 UTC; naive means UTC."""
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return max(1, math.ceil((midnight - now).total_seconds()))


def _ratio(value: float) -> float:
    # Unknown usage (NaN) is treated as spent: pausing longer is the safe mistake.
    value = float(value)
    return 1.0 if math.isnan(value) else min(max(value, 0.0), 1.0)


def _bounds(min_seconds: int, max_seconds: int) -> tuple[int, int]:
    low = max(1, int(min_seconds))
    return low, max(low, int(max_seconds))


def _clamp(value: int, low: int, high: int) -> int:
    return min(max(int(value), low), high)
