"""The UTC day boundary (agentsite.core.clock.next_utc_midnight): the tests of the dead
`decisions.pacing.seconds_until_next_utc_midnight`, moved to the function in use."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentsite.core.clock import next_utc_midnight


def seconds_until(now: datetime) -> float:
    aware = now.replace(tzinfo=UTC) if now.tzinfo is None else now
    return (next_utc_midnight(now) - aware).total_seconds()


@pytest.mark.parametrize(
    ("now", "seconds"),
    [
        (datetime(2024, 12, 17, 0, 0, tzinfo=UTC), 86_400),
        (datetime(2024, 12, 17, 23, 59, 30, tzinfo=UTC), 30),
        (datetime(2024, 12, 17, 23, 59, 59, 500_000, tzinfo=UTC), 0.5),
        (datetime(2024, 12, 17, 12, 0, tzinfo=UTC), 43_200),
        (datetime(2024, 12, 31, 22, 0, tzinfo=UTC), 7_200),  # across a year boundary
        (datetime(2024, 2, 28, 23, 0, tzinfo=UTC), 3_600),  # leap day follows
        (datetime(2024, 12, 17, 22, 0), 7_200),  # naive means UTC
    ],
)
def test_seconds_until_next_utc_midnight(now, seconds):
    assert seconds_until(now) == seconds


def test_midnight_uses_the_utc_day_not_the_local_one():
    # 01:00 on the 18th at +02:00 is 23:00 UTC on the 17th: one hour to go, not 23.
    local = datetime(2024, 12, 18, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert next_utc_midnight(local) == datetime(2024, 12, 18, tzinfo=UTC)
    assert seconds_until(local) == 3_600
    # 20:00 on the 17th at -05:00 is already 01:00 UTC on the 18th.
    west = datetime(2024, 12, 17, 20, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert seconds_until(west) == 23 * 3_600


@settings(max_examples=200, deadline=None)
@given(st.datetimes(max_value=datetime(9998, 12, 31), timezones=st.just(UTC)))
def test_midnight_is_always_within_a_day_and_lands_on_midnight(now):
    midnight = next_utc_midnight(now)
    assert 0 < (midnight - now).total_seconds() <= 86_400
    assert midnight.date() == now.date() + timedelta(days=1)
    assert midnight.time() == datetime.min.time() and midnight.utcoffset() == timedelta(0)
