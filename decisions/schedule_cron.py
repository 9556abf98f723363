"""When a Master's schedule runs: a 5-field cron in UTC, or a few words that name one.

`cron_clean(when)` accepts either and returns the cron ("weekday 08:00" -> "0 8 * * 1-5");
anything else is a `ScheduleInvalid` that says what is accepted. `cron_next(cron, after=)`
is the first run strictly after a moment (the one rule for "next run")."""

import re
from datetime import UTC, datetime

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from .errors import ScheduleInvalid

CRON_MAX_CHARS = 100
WHEN_HELP = (
    'a 5-field cron in UTC ("0 8 * * 1-5") or words: "hour", "day 08:00" (or "daily 08:00"), '
    '"weekday 08:00", "weekend 10:00", "monday 09:30"'
)

_DAYS = {
    "day": "*", "daily": "*", "weekday": "1-5", "weekdays": "1-5", "weekend": "0,6", "weekends": "0,6",
    "sunday": "0", "monday": "1", "tuesday": "2", "wednesday": "3", "thursday": "4", "friday": "5", "saturday": "6",
    "sun": "0", "mon": "1", "tue": "2", "wed": "3", "thu": "4", "fri": "5", "sat": "6",
}
_HOURLY = {"hour", "hourly", "every hour"}
_AT = re.compile(r"(?P<days>[a-z]+)\s+(?:at\s+)?(?P<hour>\d{1,2}):(?P<minute>\d{2})")
# The words `cron_clean` understands, as a regex other parsers can embed (the Telegram /every).
WHEN_WORDS_PATTERN = r"(?:every\s+)?(?:hourly|hour|[a-z]+\s+(?:at\s+)?\d{1,2}:\d{2})"
CRON_PATTERN = r"(?:[\w*/,\-?]+\s+){4}[\w*/,\-?]+"


def _cron_from_words(when: str) -> str | None:
    words = " ".join(when.lower().split()).removeprefix("every ")
    if words in _HOURLY:
        return "0 * * * *"
    match = _AT.fullmatch(words)
    if match is None or match["days"] not in _DAYS:
        return None
    hour, minute = int(match["hour"]), int(match["minute"])
    if hour > 23 or minute > 59:
        raise ScheduleInvalid(f"{match['hour']}:{match['minute']} is not a time of day (00:00 to 23:59, UTC)")
    return f"{minute} {hour} * * {_DAYS[match['days']]}"


def cron_clean(when: str) -> str:
    """The 5-field cron for `when` (a cron or words), validated: it must run some day."""
    when = " ".join((when or "").split())
    if not when:
        raise ScheduleInvalid(f"A schedule needs a time: {WHEN_HELP}")
    if len(when) > CRON_MAX_CHARS:
        raise ScheduleInvalid(f"A schedule's time can be at most {CRON_MAX_CHARS} characters")
    cron = _cron_from_words(when)
    if cron is None:
        if len(when.split()) != 5 or not croniter.is_valid(when):
            raise ScheduleInvalid(f"Not a schedule time: {when!r}; use {WHEN_HELP}")
        cron = when.lower()
    cron_next(cron, after=datetime(2000, 1, 1, tzinfo=UTC))  # raises if it never runs
    return cron


def cron_next(cron: str, *, after: datetime) -> datetime:
    """The first time `cron` fires strictly after `after` (UTC)."""
    try:
        return croniter(cron, after).get_next(datetime)
    except (CroniterBadDateError, CroniterBadCronError) as exc:
        raise ScheduleInvalid(f"The schedule {cron!r} never runs") from exc
