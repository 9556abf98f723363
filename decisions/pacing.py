"""How long to wait before the next cycle. Pure arithmetic: the caller passes today's spend
and the interval bounds (from settings), so this is trivially testable.

Two rules, one bounded by the other:
- the seed's usage bands (`pacing_interval`): the more of today's budget is spent, the
  longer the pause: brisk while under half, moderate up to 80%, conserving beyond. The
  curve is continuous so a cycle that nudges usage past a breakpoint does not jump.
- time-aware pacing (`even_interval`), used whenever today's cycles give a cost estimate:
  spend follows the even line (limit x elapsed fraction of the UTC day). The next cycle is
  due when the line has earned its cost, so usage above the line slows down and usage
  below it speeds up, never under min_seconds nor over max_seconds. Being feedback on
  today's actual spend, a wrong cost estimate only shifts one step, it never accumulates.
"""

import math
from dataclasses import dataclass

DAY_SECONDS = 86_400
# (usage ratio, seconds) breakpoints between the configured min (at 0) and max (at 1).
ACTIVE_UNTIL = (0.5, 300)
MODERATE_UNTIL = (0.8, 1_800)
_MAX_BACKOFF_EXPONENT = 32  # beyond this every sane max is reached; avoids huge ints


@dataclass(frozen=True)
class DaySpend:
    """Today's proactive spend as pacing sees it (read once by
    `decisions.selectors.pacing_day_spend`)."""

    spent: int  # tokens used or reserved today
    limit: int  # today's proactive limit
    cycles: int  # cycles started today, whose mean cost estimates the next one's
    elapsed: float  # seconds since 00:00 UTC
    used: int | None = None  # used alone (what the usage bands read); None: all of `spent`

    @property
    def usage_ratio(self) -> float:
        used = self.spent if self.used is None else self.used
        return used / self.limit if self.limit > 0 else 1.0

    @property
    def cycle_cost(self) -> float | None:
        """Mean tokens per cycle today; None before the first cycle that cost anything."""
        if self.cycles <= 0 or self.spent <= 0:
            return None
        return self.spent / self.cycles


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


def even_interval(*, day: DaySpend, min_seconds: int, max_seconds: int) -> int | None:
    """Seconds until the even line reaches today's spend plus one more cycle: after the next
    cycle, usage is back on the line. None when there is no estimate (no cycle today yet)
    or no sane limit: the caller then keeps the usage bands alone."""
    cost = day.cycle_cost
    if cost is None or day.limit <= 0 or not math.isfinite(day.elapsed):
        return None
    min_seconds, max_seconds = _bounds(min_seconds, max_seconds)
    if day.spent >= day.limit:
        return max_seconds
    due = DAY_SECONDS * (day.spent + cost) / day.limit
    return _clamp(math.ceil(due - day.elapsed), min_seconds, max_seconds)


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
    day: DaySpend | None = None,
) -> int:
    """The pause before the next cycle: pacing (time-aware when `day` gives an estimate,
    else the usage bands), stretched by failures, and never shorter than `at_least` (a
    meditation's duration), which alone may exceed max_seconds."""
    delay = None if day is None else even_interval(day=day, min_seconds=min_seconds, max_seconds=max_seconds)
    if delay is None:
        delay = pacing_interval(usage_ratio=usage_ratio, min_seconds=min_seconds, max_seconds=max_seconds)
    if consecutive_failures > 0:
        delay = max(delay, failure_backoff(
            consecutive_failures=consecutive_failures, min_seconds=min_seconds, max_seconds=max_seconds))
    if at_least is not None:
        delay = max(delay, int(at_least))
    return delay


def _ratio(value: float) -> float:
    # Unknown usage (NaN) is treated as spent: pausing longer is the safe mistake.
    value = float(value)
    return 1.0 if math.isnan(value) else min(max(value, 0.0), 1.0)


def _bounds(min_seconds: int, max_seconds: int) -> tuple[int, int]:
    low = max(1, int(min_seconds))
    return low, max(low, int(max_seconds))


def _clamp(value: int, low: int, high: int) -> int:
    return min(max(int(value), low), high)
