"""Delivery of the outbox (`decisions.models.Notification`) to Telegram.

The promise: a message is retried through any transient fault until it is delivered or
NOTIFICATION_MAX_AGE_SECONDS old (then it fails visibly); the messages of one chat arrive
in the order they were written; Telegram's flood control pauses the whole bot; and no
two workers ever send one row at the same time.

`outbox_deliver` works through the due rows oldest first, one at a time. Each is taken
(`_claim`) in a short transaction with the row locked (`SELECT ... FOR UPDATE SKIP
LOCKED` on PostgreSQL; on SQLite the IMMEDIATE transactions serialise the workers) and
re-checked there:
- head of line per chat: a row goes only when no earlier row of its chat is still
  pending (sending, backing off or waiting), so a backlog arrives in order;
- flood control per bot: while `BotState.paused_until` (set by any worker's 429) has not
  passed, nothing is sent, to any chat, by any worker (`telegrambot.bot_state`);
- a lease: `next_attempt_at` is pushed past the longest the send can take (the total
  deadline of a request x the parts left + a margin), and the worker never starts a part
  its lease can't cover, so no other worker takes the row while it is in flight. The
  HTTP calls then run outside any transaction (on SQLite a transaction holds the
  database's write lock, and the webhook and cycles must not wait on Telegram).

A request has two limits: httpx's per-phase timeout (connect, write, each read) and a
total deadline of DEADLINE_FACTOR times it (an answer dripped byte by byte never trips
the first). The per-phase timeout is the bot's current one: it grows after timeouts and
settles back once answers are quick (`telegrambot.bot_state`).

A text longer than Telegram's 4096 characters goes out in parts (`telegrambot.text`);
`sent_parts` records progress, so a failure after part 1 resumes at part 2 and never
re-sends part 1. The last part carries the message's buttons (`telegrambot.taps`).

What a failure does to the row (retry with capped backoff until the maximum age, fail at
once, pause the bot, hold it back) is `telegrambot.delivery_outcomes`.

Limits: at-least-once, not exactly-once, where nothing can know: Telegram accepted a send
whose answer was lost (a timeout, a dropped connection), or a crash after Telegram
accepted a part but before the commit (the last part's progress is written with the row's
outcome, the one write after a send: the same window); the retry then sends it again.

Missing configuration means waiting, never failing: with no bot token nothing is attempted
and nothing expires; the first round with a token releases the waiting rows, in order; and
rows with no chat are given to the Masters at the start of every round
(`notification_assign_masters`); the waiting itself is `telegrambot.delivery_waiting`.
`decisions.outbox.notification_retry` puts a row back ("retry now") with a fresh age;
`notification_delivery_restart` is its hook here.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.dispatch import receiver
from django.utils import timezone
from telegram import InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from decisions.models import Notification, NotificationStatus
from decisions.outbox import notification_assign_masters, notification_requeued

from .bot import BotSettings, bot_settings, telegram_configured
from .bot_state import bot_paused_for, bot_timeout_grow, bot_timeout_settle, pause_detail
from .delivery_outcomes import (
    FAILED, SENT, SKIPPED, Outcome, chat_migrated, describe, expire, give_up, hold, max_age, progress, rate_limited,
    retry_later, token_rejected,
)
from .delivery_waiting import release_waiting, wait_for_telegram, waiting_for_master
from .models import BotState, NotificationDelivery
from .runtime import TelegramRuntime, telegram_runtime
from .taps import notification_keyboard
from .text import split_message

logger = logging.getLogger(__name__)

DEADLINE_FACTOR = 2  # a whole request may take this many per-phase timeouts
LEASE_MARGIN_SECONDS = 30.0  # the database writes around a send
ROUND_BUDGET_SECONDS = 120.0  # a round starts no new row after this (the next round goes on)

ROW_FIELDS = ["chat_id", "status", "attempts", "last_error", "next_attempt_at", "sent_at", "sent_parts",
              "telegram_message_id", "updated_at"]


@dataclass(frozen=True)
class _Claim:
    """A row taken by this worker: what to send it with and until when it is ours."""

    row: Notification
    bot_id: str
    timeout: float  # per phase (connect, write, each read)
    deadline: float  # the whole request
    lease_until: datetime
    expires_at: datetime


# --- public services --------------------------------------------------------------


def outbox_deliver(*, limit: int = 50) -> dict:
    """Deliver up to `limit` due notifications, oldest first, heads of their chats only;
    returns what happened.

    Keys: configured (bool), sent, retrying, failed (expired rows included), skipped
    (counts) and detail (a sentence; empty when there is nothing to add). Due rows left
    untouched because the round stopped early count as skipped.
    """
    report = {"configured": True, "sent": 0, "retrying": 0, "failed": 0, "skipped": 0, "detail": ""}
    notification_assign_masters()
    if not telegram_configured():
        # Nothing is tried and nothing expires: the rows wait for a token, saying so.
        report.update(configured=False, detail=wait_for_telegram())
        return report
    release_waiting(timezone.now())
    report["failed"] += outbox_expire()
    report["detail"] = waiting_for_master()

    config = bot_settings()
    paused = bot_paused_for(config.bot_id, timezone.now())
    if paused:  # checked again per row; this spares opening a session for nothing
        report.update(skipped=min(_due(timezone.now()).count(), limit), detail=paused)
        return report

    started = time.monotonic()
    tried: set[int] = set()
    session = telegram_runtime()  # the process's Bot, its connections kept between rounds
    while len(tried) < limit:
        notification_id = _next_head(exclude=tried)
        if notification_id is None:
            break
        if time.monotonic() - started > ROUND_BUDGET_SECONDS:
            report["detail"] = f"round time budget ({ROUND_BUDGET_SECONDS:g} s) used; the next round goes on"
            break
        tried.add(notification_id)
        outcome = _deliver_one(session, config, notification_id)
        report[outcome.result] += 1
        if outcome.stop:
            left = _due(timezone.now()).exclude(pk__in=tried).count()
            report["skipped"] += min(left, limit - len(tried))
            report["detail"] = outcome.stop
            break
    if tried:
        logger.info(
            "Outbox round: %(sent)s sent, %(retrying)s retrying, %(failed)s failed, %(skipped)s skipped", report
        )
    return report


def outbox_expire(*, now: datetime | None = None) -> int:
    """Fail the due rows older than NOTIFICATION_MAX_AGE_SECONDS (the age counted from when
    the row was written, or from its last "Retry now"); returns how many."""
    now = now or timezone.now()
    cutoff = now - max_age()
    candidates = list(_due(now).annotate(window_start=Coalesce("delivery__window_started_at", "created_at"))
                      .filter(window_start__lte=cutoff).order_by("created_at", "id").values_list("id", flat=True))
    expired = 0
    for notification_id in candidates:
        with transaction.atomic():
            row = _locked(notification_id)
            if row is None or _expires_at(row) > now:  # sent, taken or retried meanwhile
                continue
            expire(row, reason=row.last_error or "never attempted")
            row.save(update_fields=ROW_FIELDS)
            expired += 1
    return expired


@receiver(notification_requeued, dispatch_uid="telegrambot-notification-requeued")
def _notification_requeued(sender, *, notification: Notification, now: datetime, **kwargs) -> None:
    # Connected when the app is ready (telegrambot.apps imports this module).
    notification_delivery_restart(notification=notification, now=now, previous_due=kwargs.get("previous_due"))


def notification_delivery_restart(*, notification: Notification, now: datetime,
                                  previous_due: datetime | None = None) -> None:
    """`notification_retry`'s hook (inside its transaction, the row locked): the row gets a
    fresh maximum age, and if a worker is sending it right now it stays that worker's
    until its lease ends, so "Retry now" never makes a second worker send it at once.
    A row never claimed (no delivery row) yet due only later (`previous_due`) was written
    leased to the worker sending it (`telegrambot.replies`): that lease is kept too."""
    delivery, created = NotificationDelivery.objects.select_for_update().get_or_create(
        notification_id=notification.pk)
    delivery.window_started_at = now
    delivery.save(update_fields=["window_started_at"])
    leased_until = delivery.leased_until if not created else previous_due
    if leased_until is not None and leased_until > now:
        notification.next_attempt_at = leased_until
        Notification.objects.filter(pk=notification.pk).update(next_attempt_at=leased_until)


# --- choosing and taking a row ------------------------------------------------------


def _due(now) -> QuerySet[Notification]:
    return Notification.objects.filter(status=NotificationStatus.PENDING, chat_id__isnull=False).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def _earlier_pending(*, chat_id, created_at, pk) -> QuerySet[Notification]:
    """Rows of the same chat written before this one and not yet sent or failed."""
    return Notification.objects.filter(status=NotificationStatus.PENDING, chat_id=chat_id).filter(
        Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=pk)
    )


def _next_head(*, exclude: set[int], chats: set[int] | None = None) -> int | None:
    """The oldest due row that heads its chat's queue (of `chats` only, if given), not yet tried this round."""
    earlier = _earlier_pending(chat_id=OuterRef("chat_id"), created_at=OuterRef("created_at"), pk=OuterRef("id"))
    due = _due(timezone.now()) if chats is None else _due(timezone.now()).filter(chat_id__in=chats)
    return (
        due
        .exclude(pk__in=exclude)
        .filter(~Exists(earlier))
        .order_by("created_at", "id")
        .values_list("id", flat=True)
        .first()
    )


def _locked(notification_id: int, *, bot_id: str = "") -> Notification | None:
    """The row, locked, if it is still due; None if another worker holds or sent it. In the
    same statement: its restart of the maximum age (`claim_window`) and, for a claim
    (`bot_id`), an earlier pending row of its chat (`claim_earlier`) and the bot's pause
    and request timeout."""
    window = NotificationDelivery.objects.filter(notification_id=OuterRef("pk")).values("window_started_at")
    rows = _due(timezone.now()).filter(pk=notification_id).annotate(claim_window=Subquery(window[:1]))
    if bot_id:
        earlier = _earlier_pending(chat_id=OuterRef("chat_id"), created_at=OuterRef("created_at"), pk=OuterRef("id"))
        state = BotState.objects.filter(bot_id=bot_id)
        rows = rows.annotate(claim_earlier=Exists(earlier),
                             claim_paused_until=Subquery(state.values("paused_until")[:1]),
                             claim_timeout=Subquery(state.values("request_timeout")[:1]))
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True, of=("self",))
    else:  # SQLite: ignored; the IMMEDIATE transaction already holds the write lock
        rows = rows.select_for_update()
    return rows.first()


def _claim(config: BotSettings, notification_id: int) -> _Claim | Outcome:
    """Take the row for this worker with a lease, in a short transaction, or say why not."""
    with transaction.atomic():
        row = _locked(notification_id, bot_id=config.bot_id)
        if row is None:
            return Outcome(SKIPPED)
        if row.claim_earlier:
            return Outcome(SKIPPED)  # an earlier message of this chat goes first
        now = timezone.now()
        if row.claim_paused_until is not None and row.claim_paused_until > now:
            return Outcome(SKIPPED, stop=pause_detail(row.claim_paused_until - now))
        expires_at = _expires_at(row)
        if expires_at <= now:
            expire(row, reason=row.last_error or "never attempted")
            row.save(update_fields=ROW_FIELDS)
            return Outcome(FAILED)
        timeout = max(config.timeout, row.claim_timeout or 0)
        deadline = timeout * DEADLINE_FACTOR
        parts = max(1, len(split_message(row.text)) - row.sent_parts)
        lease_until = now + timedelta(seconds=deadline * parts + LEASE_MARGIN_SECONDS)
        Notification.objects.filter(pk=row.pk).update(next_attempt_at=lease_until)
        NotificationDelivery.objects.bulk_create(  # one upsert, whether a delivery row exists or not
            [NotificationDelivery(notification_id=row.pk, leased_until=lease_until)],
            update_conflicts=True, unique_fields=["notification"], update_fields=["leased_until"])
        return _Claim(row, config.bot_id, timeout, deadline, lease_until, expires_at)


def _deliver_one(session: TelegramRuntime, config: BotSettings, notification_id: int) -> Outcome:
    claim = _claim(config, notification_id)
    if isinstance(claim, Outcome):
        return claim
    return _attempt_recorded(session, claim)


def _attempt_recorded(session: TelegramRuntime, claim: _Claim) -> Outcome:
    """Send a row this worker holds and write what happened."""
    outcome = _attempt(session, claim)
    if outcome.result == SENT:  # one write: a sent row is never sent or restarted again, its lease moot
        claim.row.save(update_fields=ROW_FIELDS)
        return outcome
    with transaction.atomic():
        claim.row.save(update_fields=ROW_FIELDS)
        NotificationDelivery.objects.filter(notification_id=claim.row.pk).update(leased_until=None)
    return outcome


# --- one send -------------------------------------------------------------------------


def _attempt(session: TelegramRuntime, claim: _Claim) -> Outcome:
    """Send what is left of the row and record the result on it (the caller saves)."""
    row = claim.row
    # Telegram refuses whitespace-only messages (and trims edges), so such parts go unsent.
    parts = [part for part in split_message(row.text) if part.strip()]
    if not parts:
        return give_up(row, "permanent: the text is empty")
    total = len(parts)
    try:
        slowest = _send_parts(session, claim, parts, notification_keyboard(row))
    except Exception as exc:  # noqa: BLE001 (mapped to what the row does next)
        return _failed(claim, exc, total)
    if isinstance(slowest, Outcome):
        return slowest
    bot_timeout_settle(bot_id=claim.bot_id, used=claim.timeout, slowest=slowest)
    row.status = NotificationStatus.SENT
    row.attempts += 1
    row.sent_at = timezone.now()
    row.next_attempt_at = None
    row.last_error = ""
    logger.info(
        "Notification #%s (%s) delivered to chat %s in %d part(s), attempt %d",
        row.pk, row.kind, row.chat_id, total, row.attempts,
    )
    return Outcome(SENT)


def _send_parts(session: TelegramRuntime, claim: _Claim, parts: list[str], markup) -> float | Outcome:
    """Send the parts not sent yet, the keyboard on the last; the slowest request's seconds,
    or the Outcome of holding the row back before a part (nothing was tried for it)."""
    row, total, first = claim.row, len(parts), claim.row.sent_parts
    slowest = 0.0
    for index in range(first, total):
        if index > first:  # another worker may have met flood control meanwhile
            paused = bot_paused_for(claim.bot_id, timezone.now())
            if paused:
                return hold(row, f"{paused}{progress(row, total)}", stop=paused)
        if timezone.now() + timedelta(seconds=claim.deadline) > claim.lease_until:
            # Never start a request the lease can't cover: another worker may take the row then.
            return hold(row, f"lease ran short (slow database?){progress(row, total)}")
        began = time.monotonic()
        message = session.call(
            _sender(row.chat_id, parts[index], markup if index == total - 1 else None, claim.timeout),
            deadline=claim.deadline,
        )
        slowest = max(slowest, time.monotonic() - began)
        row.sent_parts = index + 1
        row.telegram_message_id = message.message_id
        if index < total - 1:  # the last part's is stored with the row's outcome, next
            # Progress is stored at once: a crash after this part never re-sends it.
            Notification.objects.filter(pk=row.pk).update(
                sent_parts=row.sent_parts, telegram_message_id=row.telegram_message_id
            )
    return slowest


def _failed(claim: _Claim, exc: Exception, total: int) -> Outcome:
    """What a failed send does to the row, by what Telegram (or the library) raised."""
    row = claim.row
    if isinstance(exc, RetryAfter):
        return rate_limited(row, exc, total, bot_id=claim.bot_id)
    if isinstance(exc, InvalidToken):
        return token_rejected(row, exc)
    if isinstance(exc, ChatMigrated):
        return chat_migrated(row, exc)
    if isinstance(exc, (Forbidden, BadRequest)):  # before their base class NetworkError
        return give_up(row, f"permanent: {describe(exc)}{progress(row, total)}")
    if isinstance(exc, TimedOut):
        grown = bot_timeout_grow(bot_id=claim.bot_id, timed_out_after=claim.timeout)
        return retry_later(
            row,
            f"{describe(exc)} (Telegram may have received it){progress(row, total)}; "
            f"request timeout now {grown:g} s",
            expires_at=claim.expires_at,
        )
    if isinstance(exc, TelegramError):  # NetworkError (5xx, refused connection), Conflict, ...
        return retry_later(row, f"{describe(exc)}{progress(row, total)}", expires_at=claim.expires_at)
    # A bug or an unexpected library error: keep the row, keep going.
    logger.error("Unexpected error delivering notification #%s", row.pk, exc_info=exc)
    return retry_later(row, f"unexpected {type(exc).__name__}{progress(row, total)}", expires_at=claim.expires_at)


def _sender(chat_id: int, text: str, markup: InlineKeyboardMarkup | None, timeout: float):
    return lambda bot: bot.send_message(
        chat_id=chat_id, text=text, reply_markup=markup,
        read_timeout=timeout, write_timeout=timeout, connect_timeout=timeout, pool_timeout=timeout,
    )


# --- helpers ----------------------------------------------------------------------


def _expires_at(row: Notification) -> datetime:
    """When the row's maximum age runs out (read by `_locked`): from when it was written, or its last "Retry now"."""
    return max(row.created_at, row.claim_window or row.created_at) + max_age()
