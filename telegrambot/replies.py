"""A worker's own replies: written leased to it, sent without a claim, then its chats' queues.

While a worker handles an update (`telegrambot.updates`), the outbox rows it writes are
deferred to it (`decisions.outbox.outbox_delivery_deferred(lease=reply_lease)`). Unless the
bot is paused, a row is written leased to this worker (`next_attempt_at` = the end of its
lease, sized as `delivery._claim` sizes one) in the handler's own transaction: no other
worker or round takes it. Once that transaction has committed the worker sends it with no
claim (no locked SELECT, no lease write): one SELECT for its turn (`_turn_wait`: no earlier
message of its chat pending; one in flight at another worker is waited for, briefly), the
send, and one write of the outcome. The outbox's rules hold (`telegrambot.delivery`): head
of line per chat (checked after the commit, as a claim would), the bot's pause (checked when
the row is written; a 429 met meanwhile is handled as any send's), the lease covering every
part's deadline, the maximum age.

A row behind a message nobody is sending now (due, or backing off), or whose transaction is
not known to have committed (a caller's own transaction, a rolled-back handler), has its
lease dropped and goes the claimed way, with its chat's queue (`outbox_deliver_chats`);
`outbox_deliver_rows` is that way for rows written without a lease. Afterwards
`outbox_deliver_chats` sends what other workers left due in the same chats.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, Q
from django.utils import timezone

from agentsite.core.compiled import rows_compiled

from decisions.models import Notification, NotificationStatus
from decisions.outbox import DeliveryDeferred

from .bot import bot_settings, telegram_configured
from .delivery import (
    DEADLINE_FACTOR, LEASE_MARGIN_SECONDS, _attempt_recorded, _Claim, _deliver_one, _earlier_pending, _next_head,
    outbox_deliver,
)
from .delivery_outcomes import max_age
from .models import BotState
from .runtime import telegram_runtime
from .text import split_message

logger = logging.getLogger("telegrambot.delivery")

# A reply written behind another worker's message in flight waits for it this long at most,
# looking every TURN_POLL_SECONDS (a send takes milliseconds; a backing-off one much longer).
TURN_WAIT_SECONDS = 0.5
TURN_POLL_SECONDS = 0.002


@dataclass(frozen=True)
class ReplyLease:
    until: datetime
    bot_id: str
    timeout: float  # per phase
    deadline: float  # the whole request
    behind: bool = False  # an earlier message of the chat was pending: sent once it is gone (`_turn_wait`)


_CHAT, _BOT = -4_242_424_242_424, "bot-placeholder-4242"  # stand for this call's chat and bot in the compiled query


def _lease_query():
    pending = Notification.objects.filter(status=NotificationStatus.PENDING, chat_id=_CHAT)
    return (BotState.objects.filter(bot_id=_BOT).annotate(earlier=Exists(pending))
            .values_list("earlier", "paused_until", "request_timeout")[:1])


def reply_lease(*, chat_id: int, text: str) -> ReplyLease | None:
    """A lease for a row about to be written for `chat_id`, or None when it must wait its
    turn (an earlier message of the chat is pending) or the bot is paused. One SELECT: the
    bot's state row with the chat's pending rows as a subquery, its SQL compiled once."""
    config = bot_settings()
    rows, _ = rows_compiled("telegrambot.reply_lease", _lease_query, most=1,
                            bind={_CHAT: chat_id, _BOT: config.bot_id})
    if not rows:  # the bot's row, made once: the next reply reads it (this one goes the claimed way)
        BotState.objects.get_or_create(bot_id=config.bot_id)
        return None
    earlier, paused_until, grown = rows[0]
    now = timezone.now()
    if paused_until is not None and paused_until > now:
        return None
    timeout = max(config.timeout, grown or 0)
    deadline = timeout * DEADLINE_FACTOR
    parts = max(1, len(split_message(text)))
    until = now + timedelta(seconds=deadline * parts + LEASE_MARGIN_SECONDS)
    return ReplyLease(until=until, bot_id=config.bot_id, timeout=timeout, deadline=deadline, behind=bool(earlier))


def replies_deliver(deferred: DeliveryDeferred) -> tuple[dict, set[int]]:
    """Send what the deferring worker wrote: its committed leased rows without a claim, the
    others claimed. Returns the counts and the chats of the leased rows (for
    `outbox_deliver_chats` once the worker is done)."""
    report = {"configured": True, "sent": 0, "retrying": 0, "failed": 0, "skipped": 0, "detail": ""}
    ready = [(row, lease) for row, lease, committed in deferred.leased if committed[0]]
    unsure = [row.pk for row, _, committed in deferred.leased if not committed[0]]
    if unsure:  # maybe rolled back, maybe inside a caller's transaction: the claimed way, lease dropped
        _leases_drop(unsure)
    chats: set[int] = set()
    if ready:
        session = telegram_runtime()
        for index, (row, lease) in enumerate(ready):
            chats.add(row.chat_id)
            # Its turn, checked once its transaction has committed (a message of the chat written
            # meanwhile by another worker, committed first, goes first): one SELECT, waiting
            # briefly for an earlier one in flight.
            if not _turn_wait(row):  # still behind a message nobody is sending now
                _leases_drop([later.pk for later, _ in ready[index:]])
                return _added(report, outbox_deliver_chats(chats={later.chat_id for later, _ in ready[index:]})), chats
            claim = _Claim(row, lease.bot_id, lease.timeout, lease.deadline, lease.until,
                           row.created_at + max_age())
            outcome = _attempt_recorded(session, claim)
            report[outcome.result] += 1
            if outcome.stop:  # the others were not tried: theirs now, due at once, in order
                _leases_drop([later.pk for later, _ in ready[index + 1:]])
                report.update(skipped=report["skipped"] + len(ready) - index - 1, detail=outcome.stop)
                return report, chats
    if deferred.round_wanted:
        return _added(report, outbox_deliver()), chats
    ids = unsure + deferred.notification_ids
    if ids:
        report = _added(report, outbox_deliver_rows(notification_ids=ids))
    return report, chats


def outbox_deliver_rows(*, notification_ids: list[int]) -> dict:
    """Deliver these rows, in order (a worker's own replies), under a round's rules (lease,
    head of line, pause, maximum age) but without its housekeeping; rows that can't go now
    (an earlier message of their chat first, another worker's lease) are left to the heads
    of their chats (`outbox_deliver_chats`: whoever holds a chat's head sends on)."""
    report = {"configured": True, "sent": 0, "retrying": 0, "failed": 0, "skipped": 0, "detail": ""}
    if not notification_ids or not telegram_configured():
        return outbox_deliver() if notification_ids else report
    config, session = bot_settings(), telegram_runtime()
    for notification_id in notification_ids:
        outcome = _deliver_one(session, config, notification_id)
        report[outcome.result] += 1
        if outcome.stop:
            return report | {"detail": outcome.stop}
    if report["skipped"]:
        chats = set(Notification.objects.filter(pk__in=notification_ids, status=NotificationStatus.PENDING)
                    .values_list("chat_id", flat=True))
        return _added(report, outbox_deliver_chats(chats=chats))
    return report


def outbox_deliver_chats(*, chats: set[int], limit: int = 50) -> dict:
    """Send the due heads of these chats' queues, oldest first (rows other workers wrote
    while this one held a chat's head), until none is left, a send stops the round, or
    `limit`. One SELECT when there is nothing."""
    report = {"configured": True, "sent": 0, "retrying": 0, "failed": 0, "skipped": 0, "detail": ""}
    chats = {chat for chat in chats if chat is not None}
    if not chats or not telegram_configured():
        return report
    tried: set[int] = set()
    session = config = None
    while len(tried) < limit:
        notification_id = _next_head(exclude=tried, chats=chats)
        if notification_id is None:
            break
        tried.add(notification_id)
        config, session = config or bot_settings(), session or telegram_runtime()
        outcome = _deliver_one(session, config, notification_id)
        report[outcome.result] += 1
        if outcome.stop:
            report["detail"] = outcome.stop
            break
    return report


def _turn_wait(row: Notification) -> bool:
    """Wait (briefly) until no earlier message of the row's chat is pending: true when it is
    the row's turn; false at once when an earlier one is due (nobody is sending it: the
    chat's queue goes the claimed way), or after TURN_WAIT_SECONDS (one backing off)."""
    earlier = _earlier_pending(chat_id=row.chat_id, created_at=row.created_at, pk=row.pk)
    deadline = time.monotonic() + TURN_WAIT_SECONDS
    while True:
        now = timezone.now()
        state = earlier.aggregate(pending=Count("id"), due=Count(
            "id", filter=Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)))
        if not state["pending"]:
            return True
        if state["due"] or time.monotonic() >= deadline:
            return False
        time.sleep(TURN_POLL_SECONDS)


def _leases_drop(notification_ids: list[int]) -> None:
    """Rows this worker wrote leased but will not send itself: due now, for the claimed way."""
    Notification.objects.filter(pk__in=notification_ids, status=NotificationStatus.PENDING, attempts=0).update(
        next_attempt_at=timezone.now())


def _added(report: dict, more: dict) -> dict:
    return more | {key: report[key] + more[key] for key in ("sent", "retrying", "failed", "skipped")} | {
        "detail": more["detail"] or report["detail"]}

