"""The inbox of Telegram updates: stored once, processed, retried.

One handling path, whichever way an update arrives:

    webhook view ──┐                         ┌── update_process_task (Django-Q2, queued on commit)
                   ├─ update_store (once per ┤     -> updates_drain: the waiting updates, in batches
    polling ───────┘   update_id)            └── update_process inline (polling, the sweep)
                                                     │
                                   telegrambot.application.update_dispatch (PTB handlers)

A worker's task drains: one statement claims a batch of waiting updates (oldest first; a
lease each, the attempt counted; rows another worker is claiming skipped), they are handled
in order, and what the batch still holds after DRAIN_HOLD_SECONDS (a slow update before
them) or the time budget is given back with a task queued for it; the task of an update
already taken finds nothing to do. `update_process` claims and handles one update (a
conditional UPDATE, so two workers never handle it at once). An update answered with a
reply is marked processed inside the reply's transaction (`telegrambot.processing`);
otherwise the worker marks it. An exception leaves it `received` with the attempt counted,
a short secret-free `last_error` and a backed-off `next_attempt_at`; the sweep
`updates_retry_due` (every minute) tries again, up to MAX_ATTEMPTS, then marks it `failed`
(visible in the admin, retryable from there). Telegram itself unavailable stops a batch,
no attempt counted.

What the handlers do with an update is in `telegrambot.conversation` (the Master's
messages), `telegrambot.strangers` and `telegrambot.taps` (button taps). Everything they
say goes out through the outbox (`telegrambot.messages.reply_send` →
`decisions.outbox.notification_enqueue`), keyed on the update, so a Telegram outage
delays a reply but never loses it, and a retried update never answers twice. The worker
that handled the update then sends it with the process's long-lived bot, instead of
queueing a delivery task per message (`decisions.outbox.outbox_delivery_deferred`): a
reply written leased to it goes without a claim (`telegrambot.replies`).

The webhook's write is one INSERT (`update_store`): the unique update_id refuses a
redelivery, which then reads the stored row.
"""

import logging
import time
from contextlib import nullcontext
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from telegram.error import BadRequest, Forbidden, TelegramError

from agentsite.core.tasks import task_enqueue
from agentsite.core.redaction import redact_short
from agentsite.core.clock import utc_now
from agentsite.core.errors import ApplicationError
from decisions.outbox import DeliveryDeferred, outbox_delivery_deferred

from .application import update_dispatch
from .backoff import backoff_delay
from .bot import telegram_configured
from .broker import task_broker
from .models import TelegramUpdate, UpdateSource, UpdateStatus
from .processing import ProcessingMark, update_processed_fields, update_processing
from .replies import outbox_deliver_chats, replies_deliver, reply_lease
from .selectors import updates_due
from .storable import payload_storable

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_BASE_SECONDS = 30  # then 60 s, 120 s ... at most 30 min between tries
RETRY_CAP_SECONDS = 1800

def processing_lease() -> timedelta:
    """Longer than a Django-Q2 task may run, so a live claim is never stolen."""
    return timedelta(seconds=settings.Q_CLUSTER["timeout"] + 60)

# A stored update whose queued task never ran (broker down, crash) is picked up by the sweep after this.
SWEEP_GRACE = timedelta(seconds=60)
SWEEP_TIME_BUDGET_SECONDS = 120.0
LAST_ERROR_MAX_CHARS = 500
MAX_UPDATE_ID = 2**63 - 1

PROCESSED, RETRYING, FAILED, SKIPPED = "processed", "retrying", "failed", "skipped"
# A worker's task claims this many waiting updates at once, and starts none after the budget
# (far below the task's timeout: an update may make a model call).
DRAIN_BATCH = 20
UNAVAILABLE = "Telegram unavailable: "
DRAIN_TIME_BUDGET_SECONDS = 30.0
DRAIN_HOLD_SECONDS = 2.0


class UpdateInvalid(ApplicationError):
    kind = "invalid"


class UpdateInProgress(ApplicationError):
    """The update is being handled by a worker right now (a live claim): not retried."""

    kind = "conflict"


def update_validate(payload: object) -> int:
    """The update_id of a plausible Update (a JSON object with an integer update_id)."""
    if not isinstance(payload, dict):
        raise UpdateInvalid("an Update must be a JSON object")
    update_id = payload.get("update_id")
    if isinstance(update_id, bool) or not isinstance(update_id, int) or not 0 <= update_id <= MAX_UPDATE_ID:
        raise UpdateInvalid("an Update needs an integer update_id")
    return update_id


def update_store(*, payload: dict, source: str = UpdateSource.WEBHOOK) -> tuple[TelegramUpdate, bool]:
    """Store an update once (idempotent on update_id); returns (row, created).

    A redelivered update returns the stored row untouched: it is never handled twice.
    Characters no database stores (NUL, lone surrogates) are dropped from its strings
    first, so one odd message cannot block the webhook or the poller.

    One INSERT (in autocommit, its own transaction: the webhook's whole write); the unique
    update_id refuses a redelivery, which then reads the stored row. Inside a transaction
    the INSERT gets a savepoint, so a refused one leaves the transaction usable.
    """
    update_id = update_validate(payload)
    row = TelegramUpdate(update_id=update_id, payload=payload_storable(payload), source=source,
                         next_attempt_at=utc_now() + SWEEP_GRACE)
    try:
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            row.save(force_insert=True)
    except IntegrityError:
        stored = TelegramUpdate.objects.filter(update_id=update_id).first()
        if stored is None:  # refused for another reason
            raise
        return stored, False
    return row, True


def update_receive(*, payload: dict, source: str = UpdateSource.WEBHOOK) -> tuple[TelegramUpdate, bool]:
    """Store an update and, if it is new, queue its processing once the row is committed."""
    update, created = update_store(payload=payload, source=source)
    if created:
        transaction.on_commit(partial(_queue_processing, update.update_id))
    return update, created


def _queue_processing(update_id: int) -> None:
    try:
        # save=False: a success is not written to Django-Q2's task table (the update row
        # records it); a failure still is.
        task_enqueue("telegrambot.update_process", update_id, group="telegram", save=False, broker=task_broker())
    except Exception:  # the broker being down must not lose the update: the sweep takes it
        logger.warning("Could not queue Telegram update %s; the retry sweep will process it", update_id)


def update_process(*, update_id: int) -> str:
    """Handle one stored update through the bot's handlers; returns processed, retrying,
    failed or skipped (already processed, claimed by another worker, or Telegram not
    configured: left as it is)."""
    if not telegram_configured():
        logger.warning("Telegram update %s left unprocessed: TELEGRAM_BOT_TOKEN is empty", update_id)
        return SKIPPED
    update = _update_claim(update_id)
    if update is None:
        return SKIPPED
    chats: set[int] = set()
    result = _update_handle(update, chats)
    _deliver_chats(chats)
    return result


def updates_drain(*, batch: int = DRAIN_BATCH, time_budget_seconds: float = DRAIN_TIME_BUDGET_SECONDS,
                  hold_seconds: float = DRAIN_HOLD_SECONDS) -> dict:
    """What a worker's task does: the queued updates, `batch` claimed at a time in one
    statement and handled in update_id order, until none is waiting or the time budget is
    used. Claimed updates not started within `hold_seconds` (a slow one before them: a
    model call) or the budget are given back, with a task queued for them, so another
    worker may take them meanwhile. Returns counts.

    Takes new updates and retries that are due; never one another worker holds (its
    claim), nor one waiting out its backoff."""
    report = {PROCESSED: 0, RETRYING: 0, FAILED: 0, SKIPPED: 0}
    if not telegram_configured():
        return report
    started, chats = time.monotonic(), set()
    try:
        while True:
            claimed, claimed_at = _updates_claim(limit=batch), time.monotonic()
            for index, update in enumerate(claimed):
                now = time.monotonic()
                if now - started > time_budget_seconds or (index and now - claimed_at > hold_seconds):
                    _updates_give_back(claimed[index:])
                    if now - started > time_budget_seconds:
                        return report
                    break
                result = _update_handle(update, chats)
                report[result] += 1
                if result == RETRYING and update.last_error.startswith(UNAVAILABLE):
                    _updates_wait_for_telegram(claimed[index + 1:], reason=update.last_error)
                    return report
            else:
                if len(claimed) < batch:
                    return report
            _deliver_chats(chats)
            chats.clear()
    finally:
        _deliver_chats(chats)


def _update_handle(update: TelegramUpdate, chats: set[int]) -> str:
    """Run a claimed update through the handlers and record the outcome; its replies go
    out from here, with the process's bot (no delivery task per message; the
    every-minute sweep catches what this misses). `chats` collects the chats replied to."""
    with outbox_delivery_deferred(lease=reply_lease) as delivery, update_processing(update) as mark:
        try:
            update_dispatch(update.payload)
        except Exception as exc:
            if mark.committed:  # its reply (and the processed mark) committed before the failure
                logger.exception("Telegram update %s failed after its reply was committed", update.update_id)
                result = PROCESSED
            else:
                result = _processing_failed(update, exc)
        else:
            result = _processed(update, mark)
    if delivery.wanted:
        _deliver_replies(update.update_id, delivery, chats)
    return result


def _claim_sql(*, many: bool) -> str:
    """The claim: the attempt counted and a lease taken, the rows returned, in one statement
    (UPDATE ... RETURNING, SQLite 3.35+ and PostgreSQL)."""
    ops = connection.ops
    table, received = ops.quote_name(TelegramUpdate._meta.db_table), UpdateStatus.RECEIVED
    free = f"status = '{received}' AND (processing_until IS NULL OR processing_until < %s)"
    head = f"UPDATE {table} SET processing_until = %s, attempts = attempts + 1 WHERE {free}"
    if not many:
        return f"{head} AND update_id = %s RETURNING *"
    # New ones (never tried: no attempt, no error) and due retries, oldest first; rows another
    # worker is claiming are skipped (PostgreSQL), and re-checked by the outer WHERE.
    lock = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    return (f"{head} AND id IN (SELECT id FROM {table} WHERE {free} AND ((attempts = 0 AND last_error = '')"
            f" OR next_attempt_at <= %s) ORDER BY update_id LIMIT %s{lock}) RETURNING *")


def _update_claim(update_id: int) -> TelegramUpdate | None:
    """Take a received update for this worker (its attempt counted, a lease so no other
    worker takes it meanwhile) and read it, in one statement; None if it is processed,
    failed or another worker's."""
    now, ops = utc_now(), connection.ops
    lease, at = ops.adapt_datetimefield_value(now + processing_lease()), ops.adapt_datetimefield_value(now)
    return next(iter(list(TelegramUpdate.objects.raw(_claim_sql(many=False), [lease, at, update_id]))), None)


def _updates_claim(*, limit: int) -> list[TelegramUpdate]:
    """Up to `limit` waiting updates taken for this worker in one statement, oldest first."""
    now, ops = utc_now(), connection.ops
    lease, at = ops.adapt_datetimefield_value(now + processing_lease()), ops.adapt_datetimefield_value(now)
    rows = TelegramUpdate.objects.raw(_claim_sql(many=True), [lease, at, at, at, limit])
    return sorted(rows, key=lambda row: row.update_id)


def _updates_give_back(updates: list[TelegramUpdate]) -> None:
    """Claimed but not handled (the time budget ran out): free again, the attempt not
    counted, and a task queued so they don't wait for the sweep."""
    TelegramUpdate.objects.filter(pk__in=[u.pk for u in updates]).update(
        processing_until=None, attempts=F("attempts") - 1)
    transaction.on_commit(partial(_queue_processing, updates[0].update_id))


def _updates_wait_for_telegram(updates: list[TelegramUpdate], *, reason: str) -> None:
    """Telegram itself is unavailable: these wait a minute, their attempt not counted."""
    if updates:
        TelegramUpdate.objects.filter(pk__in=[u.pk for u in updates]).update(
            processing_until=None, attempts=F("attempts") - 1, next_attempt_at=utc_now() + SWEEP_GRACE,
            last_error=reason)


def _processed(update: TelegramUpdate, mark: ProcessingMark) -> str:
    if not mark.committed:  # not marked with its reply (no reply, or inside a caller's transaction)
        TelegramUpdate.objects.filter(pk=update.pk).update(**update_processed_fields())
    logger.info("Telegram update %s (%s) processed, attempt %d", update.update_id, update.kind, update.attempts)
    return PROCESSED


def _deliver_replies(update_id: int, delivery: DeliveryDeferred, chats: set[int]) -> None:
    try:
        chats |= replies_deliver(delivery)[1]
    except Exception:  # the update is done; its reply waits in the outbox for the sweep
        logger.exception("Delivering the reply to Telegram update %s failed; the outbox sweep retries", update_id)


def _deliver_chats(chats: set[int]) -> None:
    """What other workers left due in these chats while this one held their head."""
    if not chats:
        return
    try:
        outbox_deliver_chats(chats=chats)
    except Exception:  # waits in the outbox for the sweep
        logger.exception("Delivering the queued messages of chats %s failed; the outbox sweep retries", chats)


def _processing_failed(update: TelegramUpdate, exc: Exception) -> str:
    reason = error_summary(exc)
    if _telegram_unavailable(exc):
        # Telegram itself (getMe when the bot starts) is down or refuses the token: not the
        # update's fault, so the attempt is not counted and the update never fails for it.
        update.last_error = error_summary_text(
            f"{UNAVAILABLE}{reason}; not counted as an attempt; next try in {int(SWEEP_GRACE.total_seconds())} s")
        _updates_wait_for_telegram([update], reason=update.last_error)
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
        delay = backoff_delay(attempts=attempts, base_seconds=RETRY_BASE_SECONDS, cap_seconds=RETRY_CAP_SECONDS)
        fields.update(next_attempt_at=utc_now() + delay,
                      last_error=error_summary_text(
                          f"attempt {attempts} of {MAX_ATTEMPTS} failed: {reason}; "
                          f"next try in {int(delay.total_seconds())} s"))
        result = RETRYING
        logger.warning("Telegram update %s: %s", update.update_id, fields["last_error"], exc_info=exc)
    TelegramUpdate.objects.filter(pk=update.pk).update(**fields)
    update.last_error = fields.get("last_error", update.last_error)
    return result


def _telegram_unavailable(exc: Exception) -> bool:
    """A Bot API error that reached the handling path: the handlers' own calls (answers,
    edits) never raise, so it comes from starting the bot (getMe): network trouble, 5xx,
    flood control, a rejected token. A 400/403 would be the update's own doing."""
    return isinstance(exc, TelegramError) and not isinstance(exc, (BadRequest, Forbidden))


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


def error_summary(exc: BaseException) -> str:
    """'TypeError: ...' for last_error: short and secret-free."""
    message = str(exc).strip()
    return error_summary_text(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def error_summary_text(text: str) -> str:
    return redact_short(text, limit=LAST_ERROR_MAX_CHARS)
