"""manage.py schedules list|add|remove|enable|disable: the Master's own schedules from the shell.

`add WHEN TEXT` takes a 5-field cron in UTC or words ("weekday 08:00"); `--digest` makes
a digest schedule (TEXT is then its heading, optional). With --json the output is JSON only."""

import json

from django.core.management.base import BaseCommand, CommandError

from agentsite.core.errors import ApplicationError

from ...master_schedules import (
    master_schedule_create,
    master_schedule_delete,
    master_schedule_list,
    master_schedule_update,
)
from ...models import MasterSchedule, ScheduleKind, Surface


def schedule_as_dict(schedule: MasterSchedule) -> dict:
    return {
        "id": schedule.pk, "cron": schedule.cron, "kind": schedule.kind, "text": schedule.text,
        "enabled": schedule.enabled, "runs": schedule.runs,
        "next_run_at": schedule.next_run_at.isoformat() if schedule.next_run_at else None,
        "last_run_at": schedule.last_run_at.isoformat() if schedule.last_run_at else None,
    }


def _line(s: MasterSchedule) -> str:
    when = f"next {s.next_run_at:%Y-%m-%d %H:%M} UTC" if s.enabled else "disabled"
    text = " ".join(s.text.split())[:80]
    return f"#{s.pk:<4} {s.kind:<6} {s.cron:<16} {when}" + (f"  {text}" if text else "")


class Command(BaseCommand):
    requires_system_checks = []  # print only the answer
    help = "List, add, remove, enable or disable the Master's schedules (cron in UTC)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{list,add,remove,enable,disable}")
        listing = sub.add_parser("list", help="every schedule, with its next run")
        listing.add_argument("--json", action="store_true")
        add = sub.add_parser("add", help='add one: WHEN is a cron ("0 8 * * 1-5") or words ("weekday 08:00")')
        add.add_argument("when")
        add.add_argument("text", nargs="?", default="")
        add.add_argument("--digest", action="store_true", help="send a digest instead of queuing a task")
        add.add_argument("--json", action="store_true")
        for name, what in (("remove", "delete"), ("enable", "enable"), ("disable", "disable")):
            one = sub.add_parser(name, help=f"{what} the schedule ID")
            one.add_argument("schedule_id", type=int)

    def handle(self, *args, **options):
        try:
            getattr(self, f"_{options['subcommand']}")(options)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc

    def _list(self, options) -> None:
        schedules = list(master_schedule_list())
        if options["json"]:
            self.stdout.write(json.dumps([schedule_as_dict(s) for s in schedules]))
            return
        self.stdout.write("\n".join(_line(s) for s in schedules) if schedules else "No schedules.")

    def _add(self, options) -> None:
        kind = ScheduleKind.DIGEST if options["digest"] else ScheduleKind.TASK
        schedule = master_schedule_create(cron=options["when"], text=options["text"], kind=kind, by="cli",
                                          via=Surface.CLI)
        if options["json"]:
            self.stdout.write(json.dumps(schedule_as_dict(schedule)))
        else:
            self.stdout.write(f"Added schedule {_line(schedule)}")

    def _remove(self, options) -> None:
        master_schedule_delete(schedule_id=options["schedule_id"])
        self.stdout.write(f"Removed schedule #{options['schedule_id']}.")

    def _enable(self, options) -> None:
        self.stdout.write(_line(master_schedule_update(schedule_id=options["schedule_id"], enabled=True)))

    def _disable(self, options) -> None:
        self.stdout.write(_line(master_schedule_update(schedule_id=options["schedule_id"], enabled=False)))
