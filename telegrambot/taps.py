"""Button taps: the Master's one-tap decisions on an approval (approve:<id>, reject:<id>,
ans:<id>:<option>), made through the approval services, and the line saying how it ended.
"""

from dataclasses import dataclass

from decisions.approvals import (
    ANSWER,
    APPROVE,
    REJECT,
    approval_answer_option,
    approval_approve,
    approval_reject,
)
from decisions.errors import ApprovalNotFound, ApprovalNotPending, ApprovalWrongKind
from decisions.models import Approval, ApprovalStatus, Surface
from decisions.selectors import approval_effective_status


@dataclass(frozen=True)
class TapOutcome:
    """What to tell the Master after a button tap: `answer` for the callback query (a
    toast), `footer` to append to the message while removing its buttons (None: leave
    the message alone)."""

    answer: str
    footer: str | None = None


def callback_data_parse(data: str) -> tuple[str, int, int | None] | None:
    """("approve", 12, None) for "approve:12", ("ans", 12, 0) for "ans:12:0"; None if malformed."""
    parts = (data or "").split(":")
    if not all(part.isascii() and part.isdigit() and len(part) <= 18 for part in parts[1:]):
        return None
    if len(parts) == 2 and parts[0] in (APPROVE, REJECT):
        return parts[0], int(parts[1]), None
    if len(parts) == 3 and parts[0] == ANSWER:
        return parts[0], int(parts[1]), int(parts[2])
    return None


def approval_tap(*, data: str, by: str) -> TapOutcome:
    """A tap on an approval's button (approve:<id>, reject:<id>, ans:<id>:<option>)."""
    parsed = callback_data_parse(data)
    if parsed is None:
        return TapOutcome("Unknown action")
    verb, approval_id, option = parsed
    try:
        if verb == APPROVE:
            approval = approval_approve(approval_id=approval_id, by=by, via=Surface.TELEGRAM)
            answer = "Approved"
        elif verb == REJECT:
            approval = approval_reject(approval_id=approval_id, by=by, via=Surface.TELEGRAM)
            answer = "Rejected"
        else:
            approval = approval_answer_option(approval_id=approval_id, option_index=option, by=by,
                                              via=Surface.TELEGRAM)
            answer = f"Answered: {approval.answer}"
    except ApprovalNotFound:
        return TapOutcome("This approval no longer exists", "(This approval no longer exists.)")
    except ApprovalNotPending as exc:
        status = exc.extra.get("status", "")
        answer = "This approval has expired" if status == "expired" else f"Already {status}"
        approval = Approval.objects.filter(pk=approval_id).first()
        return TapOutcome(answer, approval_outcome(approval) if approval else None)
    except ApprovalWrongKind as exc:
        return TapOutcome(_sentence(exc.message))
    return TapOutcome(answer[:200], approval_outcome(approval))


def approval_outcome(approval: Approval) -> str | None:
    """One line saying how an approval ended (None while it is pending)."""
    status = approval_effective_status(approval)
    by = f" by {approval.decided_by}" if approval.decided_by else ""
    if status in (ApprovalStatus.APPROVED, ApprovalStatus.EXECUTED, ApprovalStatus.FAILED):
        return f"✅ Approved{by}"
    if status == ApprovalStatus.REJECTED:
        return f"❌ Rejected{by}"
    if status == ApprovalStatus.ANSWERED:
        return f"💬 Answered{by}: {approval.answer[:300]}"
    if status == ApprovalStatus.EXPIRED:
        return "⌛ Expired unanswered"
    return None


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:])[:200]
