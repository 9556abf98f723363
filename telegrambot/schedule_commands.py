"""The Master's schedules on Telegram: /every, /schedules, /unschedule (listed in
commands.COMMANDS). Each returns its reply; bad input raises an ApplicationError whose
message says what is accepted (commands.command_reply turns it into the reply)."""

import re

from agentsite.core.errors import ApplicationError
from decisions.master_schedules import master_schedule_create, master_schedule_delete, master_schedule_list
from decisions.models import MasterSchedule, ScheduleKind, Surface
from decisions.schedule_cron import CRON_PATTERN, WHEN_WORDS_PATTERN

LIST_LIMIT = 20
TEXT_CHARS = 80
EVERY_USAGE = "<when>: <what to do>  or  /every <when> digest"
EVERY_HELP = (
    "Usage: /every <when>: <what to do>, or /every <when> digest\n"
    "<when> is a cron in UTC (0 8 * * 1-5) or hour, day 08:00, weekday 08:00, weekend 10:00, monday 09:30.\n"
    "Example: /every weekday 08:00: summarize yesterday and list what needs me"
)
_EVERY = re.compile(
    rf"\s*(?P<when>{CRON_PATTERN}|{WHEN_WORDS_PATTERN})\s*(?::\s*(?P<text>[\s\S]*?)|\s+(?P<digest>digest))\s*",
    re.IGNORECASE,
)
_DIGEST_WORD = "digest"


class ScheduleUsage(ApplicationError):
    kind = "invalid"


def every_parse(args: str) -> tuple[str, str, str]:
    """'weekday 08:00: summarize' -> ('weekday 08:00', 'summarize', 'task'); a text (or a
    last word) `digest` makes a digest schedule. ScheduleUsage when it is not that shape."""
    match = _EVERY.fullmatch(args or "")
    if match is None:
        raise ScheduleUsage(EVERY_HELP)
    text = (match["text"] or "").strip()
    if match["digest"] or text.lower() == _DIGEST_WORD:
        return match["when"], "", ScheduleKind.DIGEST
    if not text:
        raise ScheduleUsage(EVERY_HELP)
    return match["when"], text, ScheduleKind.TASK


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"


def _line(schedule: MasterSchedule) -> str:
    what = "digest" if schedule.kind == ScheduleKind.DIGEST else "task"
    text = _short(schedule.text)
    when = f"next {schedule.next_run_at:%Y-%m-%d %H:%M} UTC" if schedule.enabled else "disabled"
    return f"#{schedule.pk} [{what}] {schedule.cron} ({when})" + (f": {text}" if text else "")


def every(args: str, actor: str) -> str:
    when, text, kind = every_parse(args)
    schedule = master_schedule_create(cron=when, text=text, kind=kind, by=actor, via=Surface.TELEGRAM)
    what = "a digest" if kind == ScheduleKind.DIGEST else f"the task “{_short(schedule.text)}”"
    return (f"Scheduled #{schedule.pk}: {what} at {schedule.cron} (cron, UTC); next run "
            f"{schedule.next_run_at:%Y-%m-%d %H:%M} UTC. /unschedule {schedule.pk} removes it.")


def schedules(args: str, actor: str) -> str:
    rows = list(master_schedule_list()[: LIST_LIMIT + 1])
    if not rows:
        return "No schedules. Add one with /every " + EVERY_USAGE.split("  or")[0]
    shown = rows[:LIST_LIMIT]
    lines = [f"Your schedules ({len(shown)}{'+' if len(rows) > LIST_LIMIT else ''}):"]
    lines += [_line(s) for s in shown]
    lines.append("Remove one with /unschedule <id>.")
    return "\n".join(lines)


def unschedule(args: str, actor: str) -> str:
    words = args.split()
    head = words[0].removeprefix("#") if len(words) == 1 else ""
    if not (head.isascii() and head.isdigit() and 0 < int(head) < 2**63):
        raise ScheduleUsage("Usage: /unschedule <id> (the ids are in /schedules)")
    master_schedule_delete(schedule_id=int(head))
    return f"Removed schedule #{head}."
