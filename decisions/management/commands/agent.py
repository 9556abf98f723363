import json

from agentsite.core.console import OperatorCommand
from decisions.agent import agent_pause, agent_resume
from decisions.selectors import agent_status


class Command(OperatorCommand):  # prints only its answer unless -v 2
    help = "Pause, resume, or show the agent's state."

    def add_arguments(self, parser):
        parser.add_argument("verb", choices=["pause", "resume", "status"])
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, verb, **options):
        if verb == "pause":
            agent_pause()
        elif verb == "resume":
            agent_resume()
        status = agent_status()
        for key in ("next_cycle_at", "last_cycle_at"):
            status[key] = status[key].isoformat() if status[key] else None
        if options["json"]:
            self.stdout.write(json.dumps(status))
            return
        self.stdout.write(f"Agent is {'paused' if status['paused'] else 'running'}")
        self.stdout.write(f"  next cycle: {status['next_cycle_at'] or 'as soon as the scheduler ticks'}")
        self.stdout.write(f"  last cycle: {status['last_cycle_at'] or 'never'}")
        self.stdout.write(f"  pending approvals: {status['pending_approvals']}")
