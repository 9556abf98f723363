"""What an outbox delivery attempt leaves on its row (`decisions.models.Notification`).

`telegrambot.delivery` sends and maps what happened to one of these; each records the
result on the row (the caller saves it) and says whether the round goes on:
- flood control (429 RetryAfter, `rate_limited`): the bot pauses for what Telegram asked
  (shared by all workers through `BotState`, see `telegrambot.bot_state`); the round stops;
  counted in `attempts`, never fails a row;
- refused for good (400 BadRequest such as "chat not found", 403 Forbidden such as
  "bot was blocked by the user"), or an empty text (`give_up`):
  failed at once;
- the token or API URL rejected (401/404 InvalidToken, `token_rejected`): not the message's
  fault, so no attempt is counted; the row stays due, `last_error` says why, the round stops;
- the chat became a supergroup (`chat_migrated`): retried at once in the new chat;
- anything else (502, timeouts, refused connections, network; `retry_later`): retried with
  exponential backoff (`retry_delay`: 5 s, 10 s, 20 s ... at most 10 min; the rule is
  `telegrambot.backoff`) for as long as the
  row is younger than NOTIFICATION_MAX_AGE_SECONDS (`max_age`; counted from when it was
  written, or from "Retry now", or from when delivery became possible: a token or a Master
  chat configured after it was written); then it fails (`expire`), `last_error` saying it
  expired after how many attempts. A row waiting for the configuration never expires.
`hold` gives a row back, due now, when nothing was tried (a pause met between parts, a lease
run short). `last_error` is written here, short, and scrubbed of the bot token and other
secrets (`clean`).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from telegram.error import ChatMigrated, InvalidToken, RetryAfter

from agentsite.core.redaction import redact_short
from decisions.models import Notification, NotificationStatus

from .backoff import backoff_delay, retry_after_seconds
from .bot_state import bot_pause

# The delivery's logger: these records are part of the delivery's log, as before the split.
logger = logging.getLogger("telegrambot.delivery")

BACKOFF_BASE_SECONDS = 5
BACKOFF_CAP_SECONDS = 600  # never more than 10 minutes between tries
DEFAULT_MAX_AGE_SECONDS = 7 * 24 * 3600
LAST_ERROR_MAX_CHARS = 500

SENT, RETRYING, FAILED, SKIPPED = "sent", "retrying", "failed", "skipped"


@dataclass(frozen=True)
class Outcome:
    result: str  # one of SENT, RETRYING, FAILED, SKIPPED
    stop: str = ""  # non-empty: end the round early, and why


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 5 s, 10 s, 20 s ... at most 10 min."""
    return backoff_delay(attempts=attempts, base_seconds=BACKOFF_BASE_SECONDS, cap_seconds=BACKOFF_CAP_SECONDS)


def max_age() -> timedelta:
    return timedelta(seconds=getattr(settings, "NOTIFICATION_MAX_AGE_SECONDS", DEFAULT_MAX_AGE_SECONDS))


# --- outcomes -------------------------------------------------------------------------


def give_up(row: Notification, reason: str) -> Outcome:
    row.attempts += 1
    return fail(row, reason)


def fail(row: Notification, reason: str) -> Outcome:
    row.status = NotificationStatus.FAILED
    row.next_attempt_at = None
    row.last_error = clean(reason)
    logger.error("Notification #%s (%s) to chat %s failed: %s", row.pk, row.kind, row.chat_id, row.last_error)
    return Outcome(FAILED)


def expire(row: Notification, *, reason: str) -> Outcome:
    return fail(
        row,
        f"expired after {row.attempts} attempt(s) over {_age_text(max_age())} "
        f"(NOTIFICATION_MAX_AGE_SECONDS); last: {reason}",
    )


def retry_later(row: Notification, reason: str, *, expires_at: datetime) -> Outcome:
    now = timezone.now()
    row.attempts += 1
    if now >= expires_at:
        return expire(row, reason=reason)
    delay = retry_delay(row.attempts)
    # Not past the expiry, so an expired row fails on time rather than up to 10 min late.
    row.next_attempt_at = min(now + delay, expires_at)
    row.last_error = clean(
        f"attempt {row.attempts} failed: {reason}; next try in {int(delay.total_seconds())} s"
    )
    logger.warning("Notification #%s to chat %s: %s", row.pk, row.chat_id, row.last_error)
    return Outcome(RETRYING)


def hold(row: Notification, reason: str, *, stop: str = "") -> Outcome:
    """Give the row back, due now, without counting an attempt (nothing was tried)."""
    row.next_attempt_at = timezone.now()
    row.last_error = clean(f"held back: {reason}")
    return Outcome(RETRYING, stop=stop)


def rate_limited(row: Notification, exc: RetryAfter, total: int, *, bot_id: str) -> Outcome:
    seconds = max(retry_after_seconds(exc), 1.0)
    until = bot_pause(
        bot_id=bot_id, until=timezone.now() + timedelta(seconds=seconds),
        reason=f"429 on notification #{row.pk}: retry after {seconds:g} s",
    )
    row.attempts += 1
    row.next_attempt_at = until
    row.last_error = clean(
        f"rate limited by Telegram: retry after {seconds:g} s (attempt {row.attempts}; every send of the "
        f"bot waits){progress(row, total)}"
    )
    logger.warning("Notification #%s to chat %s: %s", row.pk, row.chat_id, row.last_error)
    return Outcome(RETRYING, stop=f"rate limited by Telegram for {seconds:g} s")


def token_rejected(row: Notification, exc: InvalidToken) -> Outcome:
    row.next_attempt_at = None  # due again next round: the fix is the operator's
    row.last_error = clean(
        f"Telegram rejected the bot token or API URL ({describe(exc)}); check TELEGRAM_BOT_TOKEN and "
        "TELEGRAM_API_BASE_URL; not counted as an attempt"
    )
    logger.error("Outbox delivery stopped: %s", row.last_error)
    return Outcome(RETRYING, stop="Telegram rejected the bot token or API URL")


def chat_migrated(row: Notification, exc: ChatMigrated) -> Outcome:
    old, row.chat_id = row.chat_id, exc.new_chat_id
    row.attempts += 1
    row.next_attempt_at = timezone.now()
    row.last_error = clean(f"chat {old} became supergroup {exc.new_chat_id}; retrying there")
    logger.warning("Notification #%s: %s", row.pk, row.last_error)
    return Outcome(RETRYING)


# --- helpers ----------------------------------------------------------------------


def describe(exc: Exception) -> str:
    """'BadRequest: Chat not found', 'Forbidden: bot was blocked by the user', ..."""
    name, message = type(exc).__name__, str(exc).strip()
    if not message:
        return name
    return message if message.lower().startswith(name.lower()) else f"{name}: {message}"


def progress(row: Notification, total: int) -> str:
    return f" (after {row.sent_parts} of {total} parts)" if total > 1 else ""


def clean(text: str) -> str:
    """Short, and without the bot token (it is part of every request URL) or any secret."""
    return redact_short(text, limit=LAST_ERROR_MAX_CHARS)


def _age_text(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    for unit, name in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= unit and seconds % unit == 0:
            count = seconds // unit
            return f"{count} {name}{'s' if count != 1 else ''}"
    return f"{seconds} s"

