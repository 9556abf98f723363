"""The one approval state machine, shared by Telegram, the admin, the API and the CLI.

pending -> approved -> executed | failed;  pending -> rejected;  pending -> expired;
questions: pending -> answered | expired. Every transition is one transaction with the
state checked under `select_for_update`, so two Masters tapping at once, or a tap racing
the expiry, produce exactly one outcome.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction

from agentsite.core.clock import utc_now
from agentsite.core.tasks import task_enqueue
from memory.models import MemoryKind
from memory.services import memory_record

from .approval_edits import details_edit_summary, details_edited, editable_text_field
from .errors import ApprovalEditInvalid, ApprovalNotFound, ApprovalNotPending, ApprovalWrongKind
from .models import Approval, ApprovalKind, ApprovalStatus, Cycle, NotificationKind, Surface
from .outbox import notification_enqueue
from .policy import policy_current
from .selectors import approval_effective_status
from .texts import approval_request_text, expired_text, question_text

# "Ask the action's policy for the timeout" (a caller with the cycle's policy passes its own).
FROM_POLICY = object()

# How long a Telegram "Edit" tap waits for the Master's next text (and never past the
# approval's own deadline).
EDIT_REPLY_WINDOW = timedelta(minutes=30)
FEEDBACK_MAX_CHARS = 2_000


def _timeout_seconds(*, action: str, timeout_seconds) -> int:
    """The action's policy timeout, else APPROVAL_TIMEOUT_SECONDS."""
    if timeout_seconds is FROM_POLICY:
        timeout_seconds = policy_current().rule(action).approval_timeout_seconds
    return timeout_seconds or settings.APPROVAL_TIMEOUT_SECONDS


def _approval_open(*, text, key: str, timeout_seconds=FROM_POLICY, **fields) -> Approval:
    """A pending approval and, in the same transaction, the outbox message that asks for it."""
    wait = _timeout_seconds(action=fields["action"], timeout_seconds=timeout_seconds)
    approval = Approval.objects.create(expires_at=utc_now() + timedelta(seconds=wait), **fields)
    notification_enqueue(
        kind=NotificationKind.APPROVAL_REQUEST,
        text=text(approval),
        key=f"approval:{approval.pk}:{key}",
        approval=approval,
    )
    return approval


@transaction.atomic
def approval_request_decision(*, decision: dict, cycle: Cycle | None, timeout_seconds=FROM_POLICY) -> Approval:
    """A decision awaiting the Master's consent, and the message that asks for it. It waits
    `timeout_seconds` (None: APPROVAL_TIMEOUT_SECONDS; by default, the action's policy's)."""
    return _approval_open(
        text=approval_request_text, key="request", timeout_seconds=timeout_seconds,
        kind=ApprovalKind.DECISION, action=decision["action"], payload=decision, cycle=cycle,
    )


@transaction.atomic
def approval_ask(*, question: str, context: str = "", options: tuple[str, ...] = (), cycle: Cycle | None) -> Approval:
    """A question for the Master; nothing waits for the answer."""
    return _approval_open(
        text=question_text, key="question",
        kind=ApprovalKind.QUESTION, action="ask_master", question=question, options=list(options),
        payload={"question": question, "context": context, "options": list(options)}, cycle=cycle,
    )


def _what(approval: Approval) -> str:
    """How memory names an approval: its action, or the question (shortened)."""
    return approval.action if approval.kind == ApprovalKind.DECISION else f"question '{approval.question[:200]}'"


def _lock_pending(*, approval_id: int) -> Approval:
    try:
        approval = Approval.objects.select_for_update().get(pk=approval_id)
    except Approval.DoesNotExist:
        raise ApprovalNotFound(f"approval #{approval_id} does not exist") from None
    if approval_effective_status(approval) == ApprovalStatus.EXPIRED:
        raise ApprovalNotPending(f"approval #{approval_id} has expired", extra={"status": "expired"})
    if approval.status != ApprovalStatus.PENDING:
        raise ApprovalNotPending(
            f"approval #{approval_id} is already {approval.status}", extra={"status": approval.status}
        )
    return approval


def _decide(approval: Approval, *, status: str, by: str, via: str, note: str = "", answer: str = "") -> None:
    approval.status = status
    approval.decided_by = by[:150]
    approval.decided_via = via
    approval.decided_at = utc_now()
    approval.note = note
    approval.answer = answer
    approval.edit_chat_id = approval.edit_requested_at = None  # a waiting Telegram edit ends with it
    approval.save(update_fields=[
        "status", "decided_by", "decided_via", "decided_at", "note", "answer", "edited_details",
        "edit_chat_id", "edit_requested_at", "updated_at",
    ])


@transaction.atomic
def approval_approve(
    *, approval_id: int, by: str, via: str = Surface.SYSTEM, note: str = "", details: dict | None = None
) -> Approval:
    """Approve a pending decision; its execution is queued once the approval is committed.

    `details`: the Master's changes to the decision's details (the fields given replace
    the decision's, the others stay), validated by the action's schema; an invalid edit
    raises ApprovalEditInvalid and nothing changes. The original stays in `payload`."""
    approval = _lock_pending(approval_id=approval_id)
    if approval.kind != ApprovalKind.DECISION:
        raise ApprovalWrongKind(f"approval #{approval_id} is a question: answer it instead")
    original = (approval.payload or {}).get("details") or {}
    if details is not None:
        approval.edited_details = details_edited(action=approval.action, original=original, changes=details)
    _decide(approval, status=ApprovalStatus.APPROVED, by=by, via=via, note=note)
    content = f"The Master approved {approval.action} (approval #{approval.pk})"
    if approval.edited_details is not None:
        content += " after editing it: " + details_edit_summary(original=original, edited=approval.edited_details)
    if note:
        content += f" (note: {note})" if approval.edited_details is not None else f": {note}"
    memory_record(
        kind=MemoryKind.OUTCOME,
        content=content,
        meta={"approval_id": approval.pk, "status": "approved", "edited": approval.edited_details is not None},
        cycle_id=approval.cycle_id,
    )
    # robust: a broker outage must not turn a recorded approval into an error; the sweep
    # (approval_execute_stranded) picks it up.
    transaction.on_commit(lambda: _queue_execution(approval.pk), robust=True)
    return approval


def _queue_execution(approval_id: int) -> None:
    # By name (execution.approval_execute): that module imports this one through effects.
    task_enqueue("decisions.approval_execute", approval_id, task_name=f"approval-{approval_id}-execute")


@transaction.atomic
def approval_reject(
    *, approval_id: int, by: str, via: str = Surface.SYSTEM, feedback: str = "", note: str = ""
) -> Approval:
    """Reject a pending approval. `feedback` (or, as before, `note`) is kept as the note and
    becomes guidance the next prompt shows: "The Master rejected X: <feedback>"."""
    feedback = (feedback or note or "").strip()[:FEEDBACK_MAX_CHARS]
    approval = _lock_pending(approval_id=approval_id)
    _decide(approval, status=ApprovalStatus.REJECTED, by=by, via=via, note=feedback)
    what = _what(approval)
    memory_record(
        kind=MemoryKind.GUIDANCE if feedback else MemoryKind.OUTCOME,
        content=f"The Master rejected {what} (approval #{approval.pk})"
        + (f": {feedback}" if feedback else ": no reason given"),
        meta={"approval_id": approval.pk, "status": "rejected", "feedback": bool(feedback)},
        cycle_id=approval.cycle_id,
    )
    return approval


def approval_approve_text(*, approval_id: int, text: str, by: str, via: str) -> Approval:
    """Approve a decision with its text (its action's EDITABLE_TEXT_FIELD, e.g. an
    outreach's `message`) replaced by `text`: Telegram's Edit and /edit, `approvals edit`."""
    if not (text or "").strip():
        raise ApprovalEditInvalid("the new text is empty", extra={"field": "text"})
    approval = Approval.objects.filter(pk=approval_id).only("kind", "action").first()
    if approval is None:
        raise ApprovalNotFound(f"approval #{approval_id} does not exist")
    field = editable_text_field(approval.action) if approval.kind == ApprovalKind.DECISION else None
    if field is None:
        raise ApprovalEditInvalid(
            f"approval #{approval_id} ({approval.action or 'a question'}) has no text to replace: "
            "edit its details in the admin or the API"
        )
    return approval_approve(approval_id=approval_id, by=by, via=via, details={field: text})


@transaction.atomic
def approval_edit_request(*, approval_id: int, chat_id: int) -> Approval:
    """Telegram's Edit tap: the Master's next text in `chat_id` becomes the decision's text
    (`approval_edit_waiting`), until EDIT_REPLY_WINDOW passes or the approval is decided."""
    approval = _lock_pending(approval_id=approval_id)
    if approval.kind != ApprovalKind.DECISION or editable_text_field(approval.action) is None:
        raise ApprovalEditInvalid(
            f"approval #{approval_id} has no text to replace: edit its details in the admin or the API"
        )
    # One waiting edit per chat: the newest tap wins.
    Approval.objects.filter(edit_chat_id=chat_id).exclude(pk=approval.pk).update(
        edit_chat_id=None, edit_requested_at=None
    )
    approval.edit_chat_id, approval.edit_requested_at = chat_id, utc_now()
    approval.save(update_fields=["edit_chat_id", "edit_requested_at", "updated_at"])
    return approval


def approval_edit_waiting(*, chat_id: int) -> Approval | None:
    """The pending decision whose Edit the Master tapped in this chat, if still waiting."""
    now = utc_now()
    return (
        Approval.objects.filter(
            edit_chat_id=chat_id, status=ApprovalStatus.PENDING, expires_at__gt=now,
            edit_requested_at__gt=now - EDIT_REPLY_WINDOW,
        ).order_by("-edit_requested_at").first()
    )


@transaction.atomic
def approval_answer(*, approval_id: int, answer: str, by: str, via: str = Surface.SYSTEM) -> Approval:
    answer = (answer or "").strip()
    if not answer:
        raise ApprovalWrongKind("an answer needs some text")
    approval = _lock_pending(approval_id=approval_id)
    if approval.kind != ApprovalKind.QUESTION:
        raise ApprovalWrongKind(f"approval #{approval_id} is a decision: approve or reject it")
    _decide(approval, status=ApprovalStatus.ANSWERED, by=by, via=via, answer=answer[:4000])
    memory_record(
        kind=MemoryKind.GUIDANCE,
        content=f"Q: {approval.question[:500]}\nMaster's answer: {answer[:2000]}",
        meta={"approval_id": approval.pk},
        cycle_id=approval.cycle_id,
    )
    return approval


def approval_answer_option(*, approval_id: int, option_index: int, by: str, via: str) -> Approval:
    """A tap on one of a question's option buttons."""
    approval = Approval.objects.filter(pk=approval_id).first()
    if approval is None:
        raise ApprovalNotFound(f"approval #{approval_id} does not exist")
    if not 0 <= option_index < len(approval.options):
        raise ApprovalWrongKind(f"approval #{approval_id} has no option {option_index}")
    return approval_answer(approval_id=approval_id, answer=approval.options[option_index], by=by, via=via)


def approval_expire_due() -> int:
    """Sweep: mark overdue pending approvals expired, tell the Master, remember it."""
    expired = 0
    due = Approval.objects.filter(status=ApprovalStatus.PENDING, expires_at__lte=utc_now()).values_list("pk", flat=True)
    for approval_id in list(due[:500]):
        with transaction.atomic():
            approval = Approval.objects.select_for_update().filter(
                pk=approval_id, status=ApprovalStatus.PENDING
            ).first()
            if approval is None:
                continue  # decided meanwhile
            approval.status = ApprovalStatus.EXPIRED
            approval.decided_at = utc_now()
            approval.decided_via = Surface.SYSTEM
            approval.edit_chat_id = approval.edit_requested_at = None  # a waiting Telegram edit expires with it
            approval.save(update_fields=[
                "status", "decided_at", "decided_via", "edit_chat_id", "edit_requested_at", "updated_at",
            ])
            what = _what(approval)
            memory_record(
                kind=MemoryKind.OUTCOME,
                content=f"No answer from the Master: {what} (approval #{approval.pk}) expired unanswered",
                meta={"approval_id": approval.pk, "status": "expired"},
                cycle_id=approval.cycle_id,
            )
            notification_enqueue(
                kind=NotificationKind.APPROVAL_EXPIRED,
                text=expired_text(approval),
                key=f"approval:{approval.pk}:expired",
                approval=approval,
            )
            expired += 1
    return expired
