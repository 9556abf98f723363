"""Create (idempotently) the Django-Q2 schedules that drive the agent, and announce it."""

from django.core.management.base import BaseCommand

from agentsite.schedules import schedules_ensure


class Command(BaseCommand):
    help = "Create or update the agent's Django-Q2 schedules (safe to run at every start)."

    def add_arguments(self, parser):
        parser.add_argument("--announce", action="store_true", help="queue an 'agent online' message for the Master")

    def handle(self, *args, **options):
        for name, created in schedules_ensure(announce=options["announce"]):
            self.stdout.write(f"{'created' if created else 'up to date'}: {name}")
