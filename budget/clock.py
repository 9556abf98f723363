"""The budget's notion of time: the UTC calendar day (reset at 00:00 UTC, no job)."""

from datetime import date, datetime, timedelta, timezone


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def utc_today() -> date:
    return utc_now().date()


def next_utc_midnight(now: datetime | None = None) -> datetime:
    now = now or utc_now()
    return datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
