"""Delivery of the outbox (`decisions.models.Notification`) to Telegram.

`outbox_deliver` picks the due rows (pending, with a chat, `next_attempt_at` empty or
past), oldest first, and handles each in its own transaction with the row locked:
`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so a row another worker holds is
skipped, and the row is re-read under the lock, so one already sent is skipped too; on
SQLite the IMMEDIATE transactions (see settings) serialise the workers. A message is
thus never sent twice by two workers. (At-least-once remains only where nothing can
know: a crash after Telegram accepted a part but before the commit, or a timeout on a
request Telegram did receive.)

A text longer than Telegram's 4096 characters goes out in parts (`telegrambot.text`);
`sent_parts` records progress, so a failure after part 1 resumes at part 2 and never
re-sends part 1. The last part carries the stored inline keyboard.

Failures:
- flood control (429 RetryAfter): retry after exactly what Telegram asked; the round
  stops (more requests would only extend the wait); counted in `attempts` but never
  fails the row by itself;
- refused for good (400 BadRequest such as "chat not found", 403 Forbidden such as
  "bot was blocked by the user"), an empty text or a malformed stored keyboard: failed
  at once;
- the token or API URL rejected (401/404 InvalidToken): not the message's fault, so no
  attempt is counted; the row stays due, `last_error` says why, the round stops;
- anything else (502, timeouts, network): retried with exponential backoff
  (5 s, 10 s, 20 s ... capped at 1 h); failed after MAX_ATTEMPTS attempts.
`last_error` is written here, short, and scrubbed of the bot token and other secrets.

With no bot token configured nothing is attempted and the rows stay pending, visible in
the admin. `decisions.outbox.notification_retry` puts a failed row back ("retry now").
"""

import logging
import warnings
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from agentsite.logging import redact_short
from decisions.models import Notification, NotificationStatus

from .bot import BotSession, bot_settings, telegram_configured
from .text import split_message

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 5
BACKOFF_CAP_SECONDS = 3600
LAST_ERROR_MAX_CHARS = 500
BUTTON_FIELDS = frozenset({"text", "callback_data", "url"})

NOT_CONFIGURED = "Telegram is not configured (TELEGRAM_BOT_TOKEN is empty)"

SENT, RETRYING, FAILED, SKIPPED = "sent", "retrying", "failed", "skipped"


@dataclass(frozen=True)
class _Outcome:
    result: str  # one of SENT, RETRYING, FAILED, SKIPPED
    stop: str = ""  # non-empty: end the round early, and why


# --- public services --------------------------------------------------------------


def outbox_deliver(*, limit: int = 50) -> dict:
    """Deliver up to `limit` due notifications; returns what happened.

    Keys: configured (bool), sent, retrying, failed, skipped (counts) and detail (a
    sentence; empty when there is nothing to add). Rows left untouched because the round
    stopped early count as skipped.
    """
    report = {"configured": True, "sent": 0, "retrying": 0, "failed": 0, "skipped": 0, "detail": ""}
    if not telegram_configured():
        waiting = Notification.objects.filter(
            status=NotificationStatus.PENDING, chat_id__isnull=False
        ).count()
        report.update(configured=False, detail=f"{NOT_CONFIGURED}; {waiting} notification(s) left pending")
        if waiting:
            logger.warning("Outbox not delivered: %s", report["detail"])
        return report

    ids = list(_due(timezone.now()).order_by("created_at", "id").values_list("id", flat=True)[:limit])
    if not ids:
        return report
    with BotSession() as session:
        for position, notification_id in enumerate(ids):
            outcome = _deliver_one(session, notification_id)
            report[outcome.result] += 1
            if outcome.stop:
                report["skipped"] += len(ids) - position - 1
                report["detail"] = outcome.stop
                break
    logger.info(
        "Outbox round: %(sent)s sent, %(retrying)s retrying, %(failed)s failed, %(skipped)s skipped", report
    )
    return report


def build_reply_markup(data: dict | None) -> InlineKeyboardMarkup | None:
    """The stored {"inline_keyboard": [[{"text", "callback_data" | "url"}, ...], ...]} as
    python-telegram-bot's markup; ValueError when it is malformed."""
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("inline_keyboard"), list):
        raise ValueError('expected {"inline_keyboard": [[button, ...], ...]}')
    rows = []
    for row in data["inline_keyboard"]:
        if not isinstance(row, list):
            raise ValueError("each keyboard row must be a list of buttons")
        buttons = []
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise ValueError("each button needs a text")
            unknown = set(button) - BUTTON_FIELDS
            if unknown:
                raise ValueError(f"unsupported button field(s): {', '.join(sorted(unknown))}")
            buttons.append(InlineKeyboardButton(**button))
        rows.append(buttons)
    return InlineKeyboardMarkup(rows)


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 5 s, 10 s, 20 s ... at most 1 h."""
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS))


# --- one row --------------------------------------------------------------------


def _due(now) -> QuerySet[Notification]:
    return Notification.objects.filter(status=NotificationStatus.PENDING, chat_id__isnull=False).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def _locked(notification_id: int) -> Notification | None:
    """The row, locked, if it is still due; None if another worker holds or sent it."""
    rows = _due(timezone.now()).filter(pk=notification_id)
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True)
    else:  # SQLite: ignored; the IMMEDIATE transaction already holds the write lock
        rows = rows.select_for_update()
    return rows.first()


def _claim(notification_id: int) -> Notification | None:
    """Take the row for this worker with a short lease, in a short transaction.

    The lease (next_attempt_at pushed past the longest possible send) keeps other workers
    off it, so the HTTP calls run outside any transaction: on SQLite a transaction holds
    the database's write lock, and the webhook and cycles must not wait on Telegram.
    A worker that dies mid-send leaves a lease that simply runs out."""
    with transaction.atomic():
        row = _locked(notification_id)
        if row is None:
            return None
        parts = max(1, len(split_message(row.text)) - row.sent_parts)
        lease = timedelta(seconds=bot_settings().timeout * (parts + 1) + 30)
        Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now() + lease)
        return row


def _deliver_one(session: BotSession, notification_id: int) -> _Outcome:
    row = _claim(notification_id)
    if row is None:
        return _Outcome(SKIPPED)
    outcome = _attempt(session, row)
    row.save(
        update_fields=[
            "chat_id", "status", "attempts", "last_error", "next_attempt_at", "sent_at",
            "sent_parts", "telegram_message_id", "updated_at",
        ]
    )
    return outcome


def _attempt(session: BotSession, row: Notification) -> _Outcome:
    """Send what is left of `row` and record the result on it (the caller saves)."""
    # Telegram refuses whitespace-only messages (and trims edges), so such parts go unsent.
    parts = [part for part in split_message(row.text) if part.strip()]
    if not parts:
        return _give_up(row, "permanent: the text is empty")
    try:
        markup = build_reply_markup(row.reply_markup)
    except ValueError as exc:
        return _give_up(row, f"permanent: invalid reply_markup ({exc})")

    total = len(parts)
    try:
        for index in range(row.sent_parts, total):
            message = session.call(
                _sender(row.chat_id, parts[index], markup if index == total - 1 else None)
            )
            row.sent_parts = index + 1
            row.telegram_message_id = message.message_id
            # Progress is stored at once: a crash after this part never re-sends it.
            Notification.objects.filter(pk=row.pk).update(
                sent_parts=row.sent_parts, telegram_message_id=row.telegram_message_id
            )
    except RetryAfter as exc:
        return _rate_limited(row, exc, total)
    except InvalidToken as exc:
        return _token_rejected(row, exc)
    except ChatMigrated as exc:
        return _chat_migrated(row, exc)
    except (Forbidden, BadRequest) as exc:  # BadRequest before its base class NetworkError
        return _give_up(row, f"permanent: {_describe(exc)}{_progress(row, total)}")
    except TimedOut as exc:
        return _retry_later(row, f"{_describe(exc)} (Telegram may have received it){_progress(row, total)}")
    except TelegramError as exc:  # NetworkError (5xx, connection), Conflict, ...
        return _retry_later(row, f"{_describe(exc)}{_progress(row, total)}")
    except Exception as exc:  # a bug or an unexpected library error: keep the row, keep going
        logger.exception("Unexpected error delivering notification #%s", row.pk)
        return _retry_later(row, f"unexpected {type(exc).__name__}{_progress(row, total)}")

    row.status = NotificationStatus.SENT
    row.attempts += 1
    row.sent_at = timezone.now()
    row.next_attempt_at = None
    row.last_error = ""
    logger.info(
        "Notification #%s (%s) delivered to chat %s in %d part(s), attempt %d",
        row.pk, row.kind, row.chat_id, total, row.attempts,
    )
    return _Outcome(SENT)


def _sender(chat_id: int, text: str, markup: InlineKeyboardMarkup | None):
    return lambda bot: bot.send_message(chat_id=chat_id, text=text, reply_markup=markup)


def _give_up(row: Notification, reason: str) -> _Outcome:
    row.attempts += 1
    row.status = NotificationStatus.FAILED
    row.next_attempt_at = None
    row.last_error = _clean(reason)
    logger.error("Notification #%s (%s) to chat %s failed: %s", row.pk, row.kind, row.chat_id, row.last_error)
    return _Outcome(FAILED)


def _retry_later(row: Notification, reason: str) -> _Outcome:
    if row.attempts + 1 >= MAX_ATTEMPTS:
        return _give_up(row, f"gave up after {MAX_ATTEMPTS} attempts; last: {reason}")
    row.attempts += 1
    delay = retry_delay(row.attempts)
    row.next_attempt_at = timezone.now() + delay
    row.last_error = _clean(
        f"attempt {row.attempts} of {MAX_ATTEMPTS} failed: {reason}; "
        f"next try in {int(delay.total_seconds())} s"
    )
    logger.warning("Notification #%s to chat %s: %s", row.pk, row.chat_id, row.last_error)
    return _Outcome(RETRYING)


def _rate_limited(row: Notification, exc: RetryAfter, total: int) -> _Outcome:
    seconds = max(_retry_after_seconds(exc), 1.0)
    row.attempts += 1
    row.next_attempt_at = timezone.now() + timedelta(seconds=seconds)
    row.last_error = _clean(
        f"rate limited by Telegram: retry after {seconds:g} s (attempt {row.attempts}){_progress(row, total)}"
    )
    logger.warning("Notification #%s to chat %s: %s", row.pk, row.chat_id, row.last_error)
    return _Outcome(RETRYING, stop=f"rate limited by Telegram for {seconds:g} s")


def _token_rejected(row: Notification, exc: InvalidToken) -> _Outcome:
    row.last_error = _clean(
        f"Telegram rejected the bot token or API URL ({_describe(exc)}); check TELEGRAM_BOT_TOKEN and "
        "TELEGRAM_API_BASE_URL; not counted as an attempt"
    )
    logger.error("Outbox delivery stopped: %s", row.last_error)
    return _Outcome(RETRYING, stop="Telegram rejected the bot token or API URL")


def _chat_migrated(row: Notification, exc: ChatMigrated) -> _Outcome:
    old, row.chat_id = row.chat_id, exc.new_chat_id
    row.attempts += 1
    row.next_attempt_at = timezone.now()
    row.last_error = _clean(f"chat {old} became supergroup {exc.new_chat_id}; retrying there")
    logger.warning("Notification #%s: %s", row.pk, row.last_error)
    return _Outcome(RETRYING)


# --- helpers ----------------------------------------------------------------------


def _describe(exc: Exception) -> str:
    """'BadRequest: Chat not found', 'Forbidden: bot was blocked by the user', ..."""
    name, message = type(exc).__name__, str(exc).strip()
    if not message:
        return name
    return message if message.lower().startswith(name.lower()) else f"{name}: {message}"


def _progress(row: Notification, total: int) -> str:
    return f" (after {row.sent_parts} of {total} parts)" if total > 1 else ""


def _retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # int-or-timedelta is deprecated in favour of timedelta
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _clean(text: str) -> str:
    """Short, and without the bot token (it is part of every request URL) or any secret."""
    return redact_short(text, limit=LAST_ERROR_MAX_CHARS)


def _schedule_delivery() -> None:
    from django_q.tasks import async_task

    try:
        async_task("telegrambot.tasks.outbox_deliver_task", task_name="outbox-deliver", group="outbox")
    except Exception:  # the broker being down must not undo the retry; the sweep picks it up
        logger.warning("Could not queue outbox delivery; the periodic sweep will retry")
