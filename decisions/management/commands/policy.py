"""The Master's per-action policy from the command line (the same service as the admin and
the API): `policy list [--json]`, `policy set ACTION MODE [--min-certainty X] [--timeout S]`.
Exit 1 on an unknown action or a bad value, with the reason on stderr."""

import dataclasses
import json
import sys

from django.core.management.base import BaseCommand

from agentsite.core.errors import ApplicationError
from decisions.models import Surface
from decisions.policy import EffectivePolicy, action_policy_line, action_policy_read, action_policy_set
from decisions.rules import PolicyMode


def _as_dict(policy: EffectivePolicy) -> dict:
    data = dataclasses.asdict(policy)
    data["updated_at"] = policy.updated_at.isoformat() if policy.updated_at else None
    data["is_default"] = policy.is_default
    return data


class Command(BaseCommand):
    requires_system_checks = []  # print only the answer
    help = "Show or set the per-action policy: list | set ACTION MODE [--min-certainty X] [--timeout SECONDS]"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        sub.add_parser("list").add_argument("--json", action="store_true")
        setting = sub.add_parser("set")
        setting.add_argument("action")
        setting.add_argument("mode", choices=PolicyMode.values)
        setting.add_argument("--min-certainty", type=float, default=None)
        setting.add_argument("--timeout", type=int, default=None, help="approval timeout in seconds")
        setting.add_argument("--json", action="store_true")

    def handle(self, *args, verb, **options):
        if verb == "set":
            try:
                policies = [action_policy_set(
                    action=options["action"], mode=options["mode"], min_certainty=options["min_certainty"],
                    approval_timeout_seconds=options["timeout"], by="cli", via=Surface.CLI,
                )]
            except ApplicationError as exc:
                self.stderr.write(f"Error: {exc.message}")
                sys.exit(1)
        else:
            policies = action_policy_read()
        if options["json"]:
            data = [_as_dict(p) for p in policies]
            self.stdout.write(json.dumps(data if verb == "list" else data[0]))
            return
        for policy in policies:
            self.stdout.write(action_policy_line(policy))
