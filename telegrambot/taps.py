"""Approval buttons, both ways: the inline keyboard an approval request carries (derived
when the message is sent, from the approval it asks about: decisions stores no Telegram
detail) and the Master's tap on one of them (approve:<id>, reject:<id>, ans:<id>:<option>),
decided through the approval services, with the line saying how it ended. A decision with
a text (its action's EDITABLE_TEXT_FIELD, e.g. an outreach's message) also gets "✏️ Edit"
(edit:<id>): the Master's next text in that chat becomes the new text, then it is approved
(`conversation.master_text_handle` -> `edit_by_text`).
"""

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from agentsite.core.errors import ApplicationError
from decisions.approval_edits import editable_text_field
from decisions.approvals import (
    approval_answer_option,
    approval_approve,
    approval_approve_text,
    approval_edit_request,
    approval_reject,
)
from decisions.errors import ApprovalEditInvalid, ApprovalNotFound, ApprovalNotPending, ApprovalWrongKind
from decisions.models import Approval, ApprovalKind, ApprovalStatus, Notification, NotificationKind, Surface
from decisions.outbox import notification_enqueue
from decisions.selectors import approval_effective_status

# The callback_data verbs: "approve:<id>", "reject:<id>", "edit:<id>", "ans:<id>:<option index>".
APPROVE, REJECT, EDIT, ANSWER = "approve", "reject", "edit", "ans"
EDIT_LABEL = "✏️ Edit"


@dataclass(frozen=True)
class TapOutcome:
    """What to tell the Master after a button tap: `answer` for the callback query (a
    toast), `footer` to append to the message while removing its buttons (None: leave
    the message alone)."""

    answer: str
    footer: str | None = None


def notification_keyboard(notification: Notification) -> InlineKeyboardMarkup | None:
    """The buttons a message carries: only an approval request has any (see `approval_keyboard`)."""
    if notification.kind != NotificationKind.APPROVAL_REQUEST or notification.approval_id is None:
        return None
    return approval_keyboard(notification.approval)


def approval_keyboard(approval: Approval) -> InlineKeyboardMarkup | None:
    """A decision: Approve and Reject on one row; a question with options: one button per
    option, one per row; a question without options: none (the Master replies in words)."""
    if approval.kind == ApprovalKind.DECISION:
        rows = [[("Approve", f"{APPROVE}:{approval.pk}"), ("Reject", f"{REJECT}:{approval.pk}")]]
        if editable_text_field(approval.action):
            rows.append([(EDIT_LABEL, f"{EDIT}:{approval.pk}")])
    else:
        rows = [[(option, f"{ANSWER}:{approval.pk}:{i}")] for i, option in enumerate(approval.options or [])]
    if not rows:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data) for text, data in row]
                                 for row in rows])


def callback_data_parse(data: str) -> tuple[str, int, int | None] | None:
    """("approve", 12, None) for "approve:12", ("ans", 12, 0) for "ans:12:0"; None if malformed."""
    parts = (data or "").split(":")
    if not all(part.isascii() and part.isdigit() and len(part) <= 18 for part in parts[1:]):
        return None
    if len(parts) == 2 and parts[0] in (APPROVE, REJECT, EDIT):
        return parts[0], int(parts[1]), None
    if len(parts) == 3 and parts[0] == ANSWER:
        return parts[0], int(parts[1]), int(parts[2])
    return None


def approval_tap(*, data: str, by: str, chat_id: int | None = None) -> TapOutcome:
    """A tap on an approval's button (approve:<id>, reject:<id>, edit:<id>, ans:<id>:<option>)."""
    parsed = callback_data_parse(data)
    if parsed is None:
        return TapOutcome("Unknown action")
    verb, approval_id, option = parsed
    try:
        if verb == EDIT:
            return _edit_tap(approval_id=approval_id, chat_id=chat_id)
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
    except (ApprovalWrongKind, ApprovalEditInvalid) as exc:
        return TapOutcome(_sentence(exc.message))
    return TapOutcome(answer[:200], approval_outcome(approval))


def _edit_tap(*, approval_id: int, chat_id: int | None) -> TapOutcome:
    """Edit: wait for the Master's next text in this chat; say so in the chat (the buttons stay)."""
    if chat_id is None:
        return TapOutcome("Use /edit <id> <new text>")
    approval = approval_edit_request(approval_id=approval_id, chat_id=chat_id)
    field = editable_text_field(approval.action)
    current = (approval.payload.get("details") or {}).get(field, "")
    notification_enqueue(
        kind=NotificationKind.MESSAGE, chat_id=chat_id,
        key=f"approval:{approval.pk}:edit:{approval.edit_requested_at.timestamp():.6f}",
        text=f"Send me the new {field} for #{approval.pk} ({approval.action}) as your next message; "
        f"it is approved with it. Now it reads:\n{current}",
    )
    return TapOutcome(f"Send the new {field} as your next message")


def edit_by_text(*, approval: Approval, text: str, by: str) -> str:
    """The Master's text after an Edit tap: the decision's new text; approved with it."""
    try:
        approval_approve_text(approval_id=approval.pk, text=text, by=by, via=Surface.TELEGRAM)
    except ApplicationError as exc:
        return f"Not changed, #{approval.pk} still waits: {exc.message}."
    return f"Edited and approved #{approval.pk} ({approval.action}); it will be carried out shortly."


def approval_outcome(approval: Approval) -> str | None:
    """One line saying how an approval ended (None while it is pending)."""
    status = approval_effective_status(approval)
    by = f" by {approval.decided_by}" if approval.decided_by else ""
    if status in (ApprovalStatus.APPROVED, ApprovalStatus.EXECUTED, ApprovalStatus.FAILED):
        return f"✅ Edited and approved{by}" if approval.edited_details is not None else f"✅ Approved{by}"
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
