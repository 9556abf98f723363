"""The budget's notion of time: the UTC calendar day (reset at 00:00 UTC, no job), and the
clock and sleep model calls are timed with.

`monotonic` and `sleep` are looked up on this module at call time, so tests replace them
to let a 270 s retry-after pass in simulated time instead of real time.
"""

import time
from datetime import date, datetime, timedelta, timezone


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def utc_today() -> date:
    return utc_now().date()


def utc_day_start(day: date) -> datetime:
    """00:00 UTC of `day`: where a budget day begins. The one place that arithmetic lives."""
    return datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc)


def next_utc_midnight(now: datetime | None = None) -> datetime:
    """The next 00:00 UTC after `now` (a naive `now` is taken as UTC)."""
    now = now or utc_now()
    now = now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)
    return utc_day_start(now.date() + timedelta(days=1))


def monotonic() -> float:
    """Seconds on a clock that never jumps: what call deadlines are measured on."""
    return time.monotonic()


def sleep(seconds: float) -> None:
    """Wait (retry backoff, retry-after). The one sleep of the budget app."""
    time.sleep(seconds)
