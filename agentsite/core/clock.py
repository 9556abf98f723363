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


def next_utc_midnight(now: datetime | None = None) -> datetime:
    now = now or utc_now()
    return datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)


def monotonic() -> float:
    """Seconds on a clock that never jumps: what call deadlines are measured on."""
    return time.monotonic()


def sleep(seconds: float) -> None:
    """Wait (retry backoff, retry-after). The one sleep of the budget app."""
    time.sleep(seconds)
