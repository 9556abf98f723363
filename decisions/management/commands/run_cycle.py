"""Run one proactive cycle now, in the foreground (ignores the schedule; honours pause,
lock and budget). Exit status: 0 completed/awaiting_approval/skipped, 1 failed, 2 configuration error."""

import json
import sys

from agentsite.core.console import OperatorCommand
from budget.client import claude_configured
from budget.errors import ClaudeNotConfigured
from budget.pricing import usd
from decisions.models import CycleStatus
from decisions.prompts import prompt_build
from decisions.selectors import prompt_context_gather
from decisions.services import Reason, cycle_run


class Command(OperatorCommand):  # prints only its answer unless -v 2
    help = "Run one proactive cycle now."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="end with one JSON line describing the cycle")
        parser.add_argument("--dry-run", action="store_true", help="print the prompt that would be sent; call and write nothing")

    def handle(self, *args, **options):
        if options["dry_run"]:
            return self._dry_run()
        run = cycle_run(trigger="manual")
        cycle = run.cycle
        self.stdout.write(
            f"Cycle {cycle.pk}: {cycle.status}"
            + (f" ({cycle.reason})" if cycle.reason else "")
            + (f", action {cycle.action} (certainty {cycle.certainty}, significance {cycle.significance})" if cycle.action else "")
        )
        if cycle.error:
            self.stdout.write(f"  error: {cycle.error}")
        if options["json"]:
            self.stdout.write(json.dumps(_as_json(run)))
        if cycle.reason == Reason.NO_CREDENTIALS:
            self.stderr.write(ClaudeNotConfigured().message)
            sys.exit(2)
        if cycle.status == CycleStatus.FAILED:
            sys.exit(1)

    def _dry_run(self):
        prompt = prompt_build(context=prompt_context_gather())
        self.stdout.write("=== system ===\n" + prompt.system)
        self.stdout.write("=== user ===\n" + prompt.user)
        self.stdout.write(f"=== size: {prompt.size} characters (system {len(prompt.system)}, user {len(prompt.user)}) ===")
        if not claude_configured():
            self.stdout.write("(no Claude credentials: a real run would be skipped)")


def _as_json(run) -> dict:
    cycle = run.cycle
    return {
        "cycle_id": cycle.pk,
        "status": cycle.status,
        "reason": cycle.reason or None,
        "action": cycle.action or None,
        "certainty": cycle.certainty,
        "significance": cycle.significance,
        "executed": cycle.executed,
        "approval_id": run.approval_id,
        "tokens": cycle.tokens,  # every call of the cycle: the decision's and its action's own
        "cost_usd": str(usd(cycle.cost_micros)),
        "next_run_in_seconds": run.next_run_in_seconds,
    }
