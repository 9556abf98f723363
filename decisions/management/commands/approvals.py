"""The operator's command line for the approval state machine (the same services as
Telegram, the admin and the API). Exit 1 when an approval is unknown or not pending, or
an edit is invalid (one line on stderr).

  approvals approve 7 --set message="Hello again"     # edit, then approve
  approvals approve 7 --details '{"message": "Hi"}'
  approvals edit 7 "Hello again"                      # the decision's text, then approve
  approvals reject 7 --feedback "Not before Monday"   # becomes the agent's guidance
"""

import json
import sys

from agentsite.core.console import OperatorCommand
from agentsite.core.errors import ApplicationError
from decisions.approvals import approval_answer, approval_approve, approval_approve_text, approval_reject
from decisions.models import Approval, ApprovalStatus, Surface
from decisions.selectors import approval_list
from decisions.serialize import approval_as_dict
from decisions.texts import approval_gist

STATUSES = ApprovalStatus.values


class Command(OperatorCommand):  # prints only its answer unless -v 2
    help = (
        "List and decide approvals: list | approve ID [--details JSON] [--set FIELD=VALUE ...] | "
        "edit ID TEXT | reject ID [--feedback TEXT] | answer ID TEXT"
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        listing = sub.add_parser("list")
        listing.add_argument("--status", choices=STATUSES)
        listing.add_argument("--json", action="store_true")
        for verb in ("approve", "reject"):
            p = sub.add_parser(verb)
            p.add_argument("id", type=int)
            p.add_argument("--note", default="")
            p.add_argument("--json", action="store_true")
            if verb == "approve":
                p.add_argument("--details", help="a JSON object of detail fields to change before approving")
                p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                               help="change one detail before approving (repeatable)")
            else:
                p.add_argument("--feedback", default="", help="why not: the agent's guidance next cycle")
        edit = sub.add_parser("edit", help="replace the decision's text (e.g. an outreach's message), then approve")
        edit.add_argument("id", type=int)
        edit.add_argument("text")
        edit.add_argument("--json", action="store_true")
        answer = sub.add_parser("answer")
        answer.add_argument("id", type=int)
        answer.add_argument("text")
        answer.add_argument("--json", action="store_true")

    def handle(self, *args, verb, **options):
        if verb == "list":
            approvals = list(approval_list(status=options.get("status"), limit=200))
            if options["json"]:  # only JSON, so it can be piped
                self.stdout.write(json.dumps([approval_as_dict(a) for a in approvals]))
                return
            for a in approvals:
                what = a.action if a.kind == "decision" else "question"
                self.stdout.write(f"#{a.pk} {what} [{approval_as_dict(a)['status']}] {approval_gist(a)}")
            if not approvals:
                self.stdout.write("No approvals.")
            return
        try:
            approval = self._decide(verb, options)
        except ApplicationError as exc:
            self.stderr.write(f"Error: {exc.message}")
            sys.exit(1)
        approval = Approval.objects.get(pk=approval.pk)
        if options["json"]:
            self.stdout.write(json.dumps(approval_as_dict(approval)))
        else:
            self.stdout.write(f"Approval #{approval.pk} is now {approval.status}")

    def _decide(self, verb: str, options: dict) -> Approval:
        by = "cli"
        if verb == "approve":
            return approval_approve(
                approval_id=options["id"], by=by, via=Surface.CLI, note=options["note"], details=_details(options),
            )
        if verb == "edit":
            return approval_approve_text(approval_id=options["id"], text=options["text"], by=by, via=Surface.CLI)
        if verb == "reject":
            return approval_reject(
                approval_id=options["id"], by=by, via=Surface.CLI, feedback=options["feedback"], note=options["note"],
            )
        return approval_answer(approval_id=options["id"], answer=options["text"], by=by, via=Surface.CLI)


def _details(options: dict) -> dict | None:
    """--details JSON and --set FIELD=VALUE (which wins) as one dict; None when neither."""
    if options["details"] is None and not options["set"]:
        return None
    details = {}
    if options["details"] is not None:
        try:
            details = json.loads(options["details"])
        except ValueError as exc:
            raise ApplicationError(f"--details is not JSON ({exc.msg})") from None
        if not isinstance(details, dict):
            raise ApplicationError("--details must be a JSON object of field: value")
    for item in options["set"]:
        field, sep, value = item.partition("=")
        if not sep or not field.strip():
            raise ApplicationError(f"--set {item!r}: expected FIELD=VALUE")
        details[field.strip()] = value
    return details
