"""Re-sync (idempotently) the Django-Q2 schedules that drive the agent, and announce it.

`migrate` already does this (agentsite.schedules.schedules_on_migrate); this command is the
explicit re-sync."""

from agentsite.core.console import OperatorCommand
from agentsite.schedules import ANNOUNCE_QUIET_MINUTES, schedules_ensure


class Command(OperatorCommand):  # prints only its answer unless -v 2
    help = "Create or repair the agent's Django-Q2 schedules (migrate does it too; safe to run at any time)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--announce", action="store_true",
            help=f"queue an 'agent online' message for the Master (unless one was queued in the last "
                 f"{ANNOUNCE_QUIET_MINUTES} minutes)",
        )

    def handle(self, *args, **options):
        for name, state in schedules_ensure(announce=options["announce"]):
            self.stdout.write(f"{state}: {name}")
