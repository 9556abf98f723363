"""Writes of the Telegram app: the inbox of updates and what is done with them.

One handling path, whichever way an update arrives:

    webhook view ──┐                         ┌── update_process_task (Django-Q2, queued on commit)
                   ├─ update_store (once per ┤
    run_bot poll ──┘   update_id)            └── update_process inline (polling)
                                                     │
                                   telegrambot.application.update_dispatch (PTB handlers)

`update_process` claims the stored update (a conditional UPDATE, so two workers never
handle it at once), runs it through the handlers and marks it processed. An exception
leaves it `received` with the attempt counted, a short secret-free `last_error` and a
backed-off `next_attempt_at`; the sweep `updates_retry_due` (every minute) tries again,
up to MAX_ATTEMPTS, then marks it `failed` (visible in the admin, retryable from there).

Everything the handlers say goes out through the outbox (`reply_send` →
`decisions.outbox.notification_enqueue`), keyed on the update, so a Telegram outage
delays a reply but never loses it, and a retried update never answers twice.
"""

import logging
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from telegram.error import BadRequest, Forbidden, TelegramError

from agentsite.logging import redact_short
from budget.clock import utc_now, utc_today
from budget.errors import ApplicationError
from decisions.approvals import (
    ANSWER,
    APPROVE,
    REJECT,
    approval_answer,
    approval_answer_option,
    approval_approve,
    approval_reject,
)
from decisions.errors import ApprovalNotFound, ApprovalNotPending, ApprovalWrongKind
from decisions.models import (
    Approval,
    ApprovalStatus,
    NotificationKind,
    Surface,
)
from decisions.outbox import notification_enqueue
from decisions.selectors import approval_effective_status

from .bot import telegram_configured
from .models import (
    ChatMessage,
    Direction,
    MessageKind,
    TelegramUpdate,
    UpdateSource,
    UpdateStatus,
)
from .selectors import chat_reply_exists, question_for_reply, updates_due

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_BASE_SECONDS = 30
RETRY_CAP_SECONDS = 1800

def processing_lease() -> timedelta:
    """Longer than a Django-Q2 task may run, so a live claim is never stolen."""
    return timedelta(seconds=settings.Q_CLUSTER["timeout"] + 60)

# A stored update whose queued task never ran (broker down, crash) is picked up by the sweep after this.
SWEEP_GRACE = timedelta(seconds=60)
SWEEP_TIME_BUDGET_SECONDS = 120.0
LAST_ERROR_MAX_CHARS = 500
INBOUND_TEXT_MAX_CHARS = 8192
MAX_UPDATE_ID = 2**63 - 1

STRANGER_NOTICE = "This is a private agent; your message was noted for its owner."

PROCESSED, RETRYING, FAILED, SKIPPED = "processed", "retrying", "failed", "skipped"


class UpdateInvalid(ApplicationError):
    kind = "invalid"


class UpdateInProgress(ApplicationError):
    """The update is being handled by a worker right now (a live claim): not retried."""

    kind = "conflict"


# --- the inbox ------------------------------------------------------------------------

# PostgreSQL stores neither NUL in text nor "\u0000" in jsonb, and no database driver
# encodes a lone UTF-16 surrogate (which JSON's "\ud800" escape decodes to).
_NUL = "\x00"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def text_storable(text: str) -> str:
    """`text` without NUL characters, lone surrogates replaced by U+FFFD: storable in any database."""
    if _NUL in text:
        text = text.replace(_NUL, "")
    return _LONE_SURROGATE.sub("\ufffd", text)


def payload_storable(value):
    """A JSON value with every string (object keys included) made `text_storable`."""
    if isinstance(value, str):
        return text_storable(value)
    if isinstance(value, dict):
        return {payload_storable(k) if isinstance(k, str) else k: payload_storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [payload_storable(item) for item in value]
    return value


def update_validate(payload: object) -> int:
    """The update_id of a plausible Update (a JSON object with an integer update_id)."""
    if not isinstance(payload, dict):
        raise UpdateInvalid("an Update must be a JSON object")
    update_id = payload.get("update_id")
    if isinstance(update_id, bool) or not isinstance(update_id, int) or not 0 <= update_id <= MAX_UPDATE_ID:
        raise UpdateInvalid("an Update needs an integer update_id")
    return update_id


@transaction.atomic
def update_store(*, payload: dict, source: str = UpdateSource.WEBHOOK) -> tuple[TelegramUpdate, bool]:
    """Store an update once (idempotent on update_id); returns (row, created).

    A redelivered update returns the stored row untouched: it is never handled twice.
    Characters no database stores (NUL, lone surrogates) are dropped from its strings
    first, so one odd message cannot block the webhook or the poller.
    """
    update_id = update_validate(payload)
    return TelegramUpdate.objects.get_or_create(
        update_id=update_id,
        defaults={"payload": payload_storable(payload), "source": source, "next_attempt_at": utc_now() + SWEEP_GRACE},
    )


def update_receive(*, payload: dict, source: str = UpdateSource.WEBHOOK) -> tuple[TelegramUpdate, bool]:
    """Store an update and, if it is new, queue its processing once the row is committed."""
    with transaction.atomic():
        update, created = update_store(payload=payload, source=source)
        if created:
            transaction.on_commit(partial(_queue_processing, update.update_id))
    return update, created


def _queue_processing(update_id: int) -> None:
    from django_q.tasks import async_task

    try:
        async_task("telegrambot.tasks.update_process_task", update_id, group="telegram")
    except Exception:  # the broker being down must not lose the update: the sweep takes it
        logger.warning("Could not queue Telegram update %s; the retry sweep will process it", update_id)


def update_process(*, update_id: int) -> str:
    """Handle one stored update through the bot's handlers; returns processed, retrying,
    failed or skipped (already processed, claimed by another worker, or Telegram not
    configured: left as it is)."""
    if not telegram_configured():
        logger.warning("Telegram update %s left unprocessed: TELEGRAM_BOT_TOKEN is empty", update_id)
        return SKIPPED
    now = utc_now()
    claimed = (
        TelegramUpdate.objects.filter(update_id=update_id, status=UpdateStatus.RECEIVED)
        .filter(Q(processing_until__isnull=True) | Q(processing_until__lt=now))
        .update(processing_until=now + processing_lease(), attempts=F("attempts") + 1)
    )
    if not claimed:
        return SKIPPED
    update = TelegramUpdate.objects.get(update_id=update_id)

    # Imported here: application imports handlers, which import this module.
    from .application import update_dispatch

    try:
        update_dispatch(update.payload)
    except Exception as exc:
        return _processing_failed(update, exc)
    TelegramUpdate.objects.filter(pk=update.pk).update(
        status=UpdateStatus.PROCESSED, processed_at=utc_now(), processing_until=None,
        next_attempt_at=None, last_error="",
    )
    logger.info("Telegram update %s (%s) processed, attempt %d", update_id, update.kind, update.attempts)
    return PROCESSED


def _processing_failed(update: TelegramUpdate, exc: Exception) -> str:
    reason = error_summary(exc)
    if _telegram_unavailable(exc):
        # Telegram itself (getMe when the bot starts) is down or refuses the token: not the
        # update's fault, so the attempt is not counted and the update never fails for it.
        TelegramUpdate.objects.filter(pk=update.pk).update(
            processing_until=None, attempts=F("attempts") - 1, next_attempt_at=utc_now() + SWEEP_GRACE,
            last_error=error_summary_text(
                f"Telegram unavailable: {reason}; not counted as an attempt; "
                f"next try in {int(SWEEP_GRACE.total_seconds())} s"),
        )
        logger.warning("Telegram update %s waits: Telegram unavailable (%s)", update.update_id, reason)
        return RETRYING
    attempts = update.attempts  # already counted by the claim
    fields = {"processing_until": None}
    if attempts >= MAX_ATTEMPTS:
        fields.update(status=UpdateStatus.FAILED, next_attempt_at=None,
                      last_error=error_summary_text(f"gave up after {attempts} attempts; last: {reason}"))
        result = FAILED
        logger.error("Telegram update %s failed for good: %s", update.update_id, reason, exc_info=exc)
    else:
        delay = retry_delay(attempts)
        fields.update(next_attempt_at=utc_now() + delay,
                      last_error=error_summary_text(
                          f"attempt {attempts} of {MAX_ATTEMPTS} failed: {reason}; "
                          f"next try in {int(delay.total_seconds())} s"))
        result = RETRYING
        logger.warning("Telegram update %s: %s", update.update_id, fields["last_error"], exc_info=exc)
    TelegramUpdate.objects.filter(pk=update.pk).update(**fields)
    return result


def _telegram_unavailable(exc: Exception) -> bool:
    """A Bot API error that reached the handling path: the handlers' own calls (answers,
    edits) never raise, so it comes from starting the bot (getMe): network trouble, 5xx,
    flood control, a rejected token. A 400/403 would be the update's own doing."""
    return isinstance(exc, TelegramError) and not isinstance(exc, (BadRequest, Forbidden))


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: 30 s, 60 s, 120 s ... at most 30 min."""
    return timedelta(seconds=min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_CAP_SECONDS))


def updates_retry_due(*, limit: int = 50, time_budget_seconds: float = SWEEP_TIME_BUDGET_SECONDS) -> dict:
    """The sweep: process stored updates still waiting (failed earlier, or never picked
    up), oldest first, within a time budget. Returns counts per outcome."""
    report = {PROCESSED: 0, RETRYING: 0, FAILED: 0, SKIPPED: 0}
    if not telegram_configured():
        return report
    started = time.monotonic()
    for update_id in updates_due(now=utc_now(), limit=limit):
        if time.monotonic() - started > time_budget_seconds:
            break
        report[update_process(update_id=update_id)] += 1
    return report


def update_retry(*, update_id: int) -> TelegramUpdate:
    """Put a failed update back in the queue with fresh attempts (the admin's "retry").

    An update a worker is handling right now (a live claim) is left to it: resetting its
    claim would let a second worker handle it too (UpdateInProgress)."""
    now = utc_now()
    updated = (
        TelegramUpdate.objects.filter(update_id=update_id)
        .exclude(status=UpdateStatus.PROCESSED)
        .filter(Q(processing_until__isnull=True) | Q(processing_until__lt=now))
        .update(status=UpdateStatus.RECEIVED, attempts=0, next_attempt_at=now, processing_until=None)
    )
    if not updated:
        row = TelegramUpdate.objects.filter(update_id=update_id).only("status").first()
        if row is None or row.status == UpdateStatus.PROCESSED:
            raise UpdateInvalid(f"update {update_id} does not exist or was already processed")
        raise UpdateInProgress(
            f"update {update_id} is being processed right now; retry it later if it fails",
            extra={"update_id": update_id},
        )
    update = TelegramUpdate.objects.get(update_id=update_id)
    transaction.on_commit(partial(_queue_processing, update_id))
    return update


# --- the conversation ------------------------------------------------------------------


@dataclass(frozen=True)
class Sender:
    """Who wrote an inbound message (as much as Telegram tells)."""

    user_id: int | None = None
    username: str = ""
    first_name: str = ""

    @property
    def name(self) -> str:
        """For decided_by: the Telegram username, else the user id."""
        return self.username or (str(self.user_id) if self.user_id is not None else "telegram")


def chat_message_record(
    *,
    chat_id: int,
    direction: str,
    text: str,
    kind: str,
    is_master: bool,
    update_id: int | None = None,
    sender: Sender | None = None,
    telegram_message_id: int | None = None,
    reply_to_message_id: int | None = None,
) -> ChatMessage:
    """Store a message of a chat; with an update_id, at most one per direction (a retried
    update returns the row stored the first time)."""
    sender = sender or Sender()
    text = text_storable(text)
    if direction == Direction.IN:
        text = text[:INBOUND_TEXT_MAX_CHARS]
    fields = {
        "chat_id": chat_id, "direction": direction, "text": text, "kind": kind, "is_master": is_master,
        "user_id": sender.user_id, "username": text_storable(sender.username)[:64],
        "first_name": text_storable(sender.first_name)[:128],
        "telegram_message_id": telegram_message_id, "reply_to_message_id": reply_to_message_id,
    }
    if update_id is None:
        return ChatMessage.objects.create(**fields)
    fields.pop("direction")
    row, _ = ChatMessage.objects.get_or_create(update_id=update_id, direction=direction, defaults=fields)
    return row


@transaction.atomic
def reply_send(*, chat_id: int, text: str, update_id: int, kind: str, is_master: bool = True) -> ChatMessage:
    """The one reply to an update: stored, and queued in the outbox (which splits long
    texts and survives Telegram outages). Idempotent per update."""
    if not text.strip():
        text = "(nothing to say)"
    row = chat_message_record(
        chat_id=chat_id, direction=Direction.OUT, text=text, kind=kind, is_master=is_master, update_id=update_id
    )
    notification_enqueue(kind=NotificationKind.MESSAGE, text=row.text, key=f"chat:{update_id}", chat_id=chat_id)
    return row


@transaction.atomic
def stranger_message_note(
    *, update_id: int, chat_id: int, text: str, sender: Sender,
    telegram_message_id: int | None = None, reply_to_message_id: int | None = None,
) -> bool:
    """A message from someone who is not the Master: stored for the admin, answered with
    one fixed notice at most once per chat and UTC day, and nothing else (no model call,
    no command). Returns whether the notice was queued."""
    chat_message_record(
        chat_id=chat_id, direction=Direction.IN, text=text,
        kind=MessageKind.COMMAND if text.startswith("/") else MessageKind.CHAT, is_master=False,
        update_id=update_id, sender=sender, telegram_message_id=telegram_message_id,
        reply_to_message_id=reply_to_message_id,
    )
    # The outbox row (unique on its key) is what makes the notice once a day: enqueueing
    # first means a concurrent message of the same chat waits on that key until this
    # transaction commits, and then sees the NOTICE row written with it below.
    key = f"stranger:{chat_id}:{utc_today().isoformat()}"
    [notification] = notification_enqueue(
        kind=NotificationKind.MESSAGE, text=STRANGER_NOTICE, key=key, chat_id=chat_id,
    )
    already_noted = ChatMessage.objects.filter(
        chat_id=chat_id, direction=Direction.OUT, kind=MessageKind.NOTICE,
        created_at__gte=notification.created_at,
    ).exists()
    if already_noted:
        return False
    chat_message_record(
        chat_id=chat_id, direction=Direction.OUT, text=STRANGER_NOTICE, kind=MessageKind.NOTICE,
        is_master=False, update_id=update_id,
    )
    logger.info("Message from stranger chat %s noted (notice queued)", chat_id)
    return True


def command_handle(
    *, update_id: int, chat_id: int, name: str, args: str, text: str, sender: Sender,
    telegram_message_id: int | None = None,
) -> None:
    """A Master's command: stored, run, answered; the effect and the reply commit together."""
    from .commands import command_reply

    if chat_reply_exists(update_id=update_id):
        return  # handled by an earlier attempt
    with transaction.atomic():
        chat_message_record(
            chat_id=chat_id, direction=Direction.IN, text=text, kind=MessageKind.COMMAND, is_master=True,
            update_id=update_id, sender=sender, telegram_message_id=telegram_message_id,
        )
        reply = command_reply(name=name, args=args, actor=sender.name)
        reply_send(chat_id=chat_id, text=reply, update_id=update_id, kind=MessageKind.COMMAND)


def master_text_handle(
    *, update_id: int, chat_id: int, text: str, sender: Sender,
    telegram_message_id: int | None = None, reply_to_message_id: int | None = None,
) -> None:
    """A Master's plain text: the answer to a question when it replies to one, else chat."""
    from .chat import chat_reply

    if chat_reply_exists(update_id=update_id):
        return  # handled by an earlier attempt
    inbound = {
        "chat_id": chat_id, "direction": Direction.IN, "text": text, "is_master": True, "update_id": update_id,
        "sender": sender, "telegram_message_id": telegram_message_id, "reply_to_message_id": reply_to_message_id,
    }
    question = (
        question_for_reply(chat_id=chat_id, message_id=reply_to_message_id)
        if reply_to_message_id is not None else None
    )
    if question is not None:
        with transaction.atomic():
            chat_message_record(kind=MessageKind.ANSWER, **inbound)
            reply_send(
                chat_id=chat_id, update_id=update_id, kind=MessageKind.ANSWER,
                text=_answer_by_reply(question, text=text, by=sender.name),
            )
        return
    row = chat_message_record(kind=MessageKind.CHAT, **inbound)
    chat_reply(update_id=update_id, chat_id=chat_id, message_id=row.pk)


def _answer_by_reply(question: Approval, *, text: str, by: str) -> str:
    try:
        approval_answer(approval_id=question.pk, answer=text, by=by, via=Surface.TELEGRAM)
    except ApplicationError as exc:
        return f"That was not recorded as an answer: {exc.message}."
    return f"Thank you: recorded as your answer to question #{question.pk}."


def other_message_handle(*, update_id: int, chat_id: int, text: str, reply: str, sender: Sender,
                         telegram_message_id: int | None = None) -> None:
    """A Master's message the bot has nothing to do with (unknown command, a photo): stored
    and answered with `reply`."""
    if chat_reply_exists(update_id=update_id):
        return
    with transaction.atomic():
        chat_message_record(
            chat_id=chat_id, direction=Direction.IN, text=text, kind=MessageKind.OTHER, is_master=True,
            update_id=update_id, sender=sender, telegram_message_id=telegram_message_id,
        )
        reply_send(chat_id=chat_id, text=reply, update_id=update_id, kind=MessageKind.OTHER)


# --- one-tap approvals -------------------------------------------------------------------


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


# --- helpers ------------------------------------------------------------------------------


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:])[:200]


def error_summary(exc: BaseException) -> str:
    """'TypeError: ...' for last_error: short and secret-free."""
    message = str(exc).strip()
    return error_summary_text(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def error_summary_text(text: str) -> str:
    return redact_short(text, limit=LAST_ERROR_MAX_CHARS)
