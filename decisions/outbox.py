"""Outbox writes: every message for the Master is a row first, written in the same
transaction as the change that caused it, and delivered later (telegrambot.delivery).

Missing configuration means "waiting", never "failed":
- no Master chat (MASTER_CHAT_IDS empty): the message is one pending row with no chat
  (`WAITING_NO_MASTER`); once Masters are configured, `notification_assign_masters` (run
  by every enqueue and every delivery round) gives it to each of them, in the order the
  messages were written;
- no bot token (TELEGRAM_BOT_TOKEN empty): the rows are written for their chats and stay
  pending (`WAITING_NO_TELEGRAM`); the delivery neither sends nor expires them, and their
  maximum age counts from when a token is configured.
"""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.dispatch import Signal

from agentsite.core.clock import utc_now
from agentsite.core.context import context_set
from agentsite.core.tasks import task_enqueue

from .errors import NotificationNotFound, NotificationNotRetryable
from .models import Approval, Notification, NotificationKind, NotificationStatus

logger = logging.getLogger(__name__)

# What a held row's last_error says while it waits for the configuration.
WAITING_NO_MASTER = "waiting: no Master chat configured (MASTER_CHAT_IDS is empty)"
WAITING_NO_TELEGRAM = "waiting: Telegram is not configured (TELEGRAM_BOT_TOKEN is empty)"
# Written by earlier versions as a *failed* row; picked up like a waiting one.
LEGACY_NO_MASTER = "not sent: no Master chat is configured (MASTER_CHAT_IDS is empty)"
NOBODY_SUFFIX = ":nobody"

# Sent by `notification_retry` inside its transaction, the row locked, with `notification`
# and `now`: the transport (telegrambot, which this layer must not import) restarts the
# row's maximum age and keeps a send in flight from being doubled.
notification_requeued = Signal()


@transaction.atomic
def notification_enqueue(
    *,
    kind: str,
    text: str,
    key: str,
    chat_id: int | None = None,
    approval: Approval | None = None,
) -> list[Notification]:
    """Queue `text` for `chat_id`, or for every Master when no chat is given.

    `key` makes it idempotent: enqueueing the same key again returns the existing rows.
    With no Master configured, one pending row with no chat waits for one (see the module
    docstring); with no bot token the rows wait for it, `last_error` saying so.
    """
    if kind not in NotificationKind.values:
        raise ValueError(f"unknown notification kind: {kind!r}")
    recipients = [chat_id] if chat_id is not None else list(settings.MASTER_CHAT_IDS)
    if not recipients:
        row, _ = Notification.objects.get_or_create(
            idempotency_key=f"{key}{NOBODY_SUFFIX}",
            defaults={
                "kind": kind, "text": text, "chat_id": None, "status": NotificationStatus.PENDING,
                "last_error": WAITING_NO_MASTER, "approval": approval,
            },
        )
        return [row]
    if chat_id is None:
        notification_assign_masters()  # held messages first: they were written earlier
    waiting = "" if settings.TELEGRAM_BOT_TOKEN else WAITING_NO_TELEGRAM
    deferred = _deferred.get()
    lease_for = deferred.lease if deferred is not None and not waiting else None
    rows, leased = [], []
    for recipient in recipients:
        fields = {"kind": kind, "text": text, "chat_id": recipient, "approval": approval, "last_error": waiting}
        lease = lease_for(chat_id=recipient, text=text) if lease_for is not None else None
        if lease is not None:  # written leased to the deferring worker: not due for anyone else
            fields["next_attempt_at"] = lease.until
        row, created = _notification_insert_or_get(idempotency_key=f"{key}:{recipient}", fields=fields)
        rows.append(row)
        if lease is not None and created:
            leased.append((row, lease))
    if leased:
        deferred.leased_add(leased)
    unleased = [row.pk for row in rows if row.status == NotificationStatus.PENDING
                and all(row is not mine for mine, _ in leased)]
    if unleased:
        _delivery_request(unleased)
    return rows


def _notification_insert_or_get(*, idempotency_key: str, fields: dict) -> tuple[Notification, bool]:
    """The row of this key and whether it is new: the INSERT first (the usual case, a new
    message), in a savepoint; a key already used reads the row written the first time (one
    statement fewer than get_or_create's SELECT-then-INSERT for a new row)."""
    try:
        with transaction.atomic():
            return Notification.objects.create(idempotency_key=idempotency_key, **fields), True
    except IntegrityError:
        stored = Notification.objects.filter(idempotency_key=idempotency_key).first()
        if stored is None:  # refused for another reason
            raise
        return stored, False


def outbox_waiting_for() -> str:
    """Why a message for the Master written now would wait rather than go out: "" when it
    can go out, else a short phrase ("Telegram not configured yet", ...)."""
    if not settings.MASTER_CHAT_IDS:
        return "no Master chat configured yet"
    if not settings.TELEGRAM_BOT_TOKEN:
        return "Telegram not configured yet"
    return ""


def held_for_master() -> Q:
    """The rows waiting for a Master chat (the legacy failed "nobody" rows included)."""
    return Q(chat_id__isnull=True) & (
        Q(status=NotificationStatus.PENDING)
        | Q(status=NotificationStatus.FAILED, attempts=0, last_error=LEGACY_NO_MASTER)
    )


def notification_assign_masters(*, limit: int = 500) -> int:
    """Give the messages written while no Master chat was configured to the Masters now in
    MASTER_CHAT_IDS, oldest first; returns how many held rows were assigned.

    The held row becomes the first Master's (its key, its place in the queue: it keeps the
    time it was written); each other Master gets a copy written at the same time. Their
    maximum age starts now (`notification_requeued`). Idempotent and safe between workers:
    each held row is locked and re-checked.
    """
    masters = list(settings.MASTER_CHAT_IDS)
    if not masters:
        return 0
    ids = list(
        Notification.objects.filter(held_for_master()).order_by("created_at", "id").values_list("id", flat=True)[:limit]
    )
    assigned = 0
    for notification_id in ids:
        with transaction.atomic():
            rows = Notification.objects.filter(held_for_master(), pk=notification_id)
            if connection.features.has_select_for_update_skip_locked:
                rows = rows.select_for_update(skip_locked=True)
            else:
                rows = rows.select_for_update()
            row = rows.first()
            if row is None:  # assigned by another worker meanwhile
                continue
            _assign(row, masters)
            assigned += 1
    if assigned:
        logger.info("%s message(s) written while no Master chat was configured queued for %s", assigned, masters)
        _delivery_request()
    return assigned


def _assign(row: Notification, masters: list[int]) -> None:
    now = utc_now()
    base = row.idempotency_key.removesuffix(NOBODY_SUFFIX)
    waiting = "" if settings.TELEGRAM_BOT_TOKEN else WAITING_NO_TELEGRAM
    first, others = masters[0], masters[1:]
    taken = set(
        Notification.objects.filter(idempotency_key__in=[f"{base}:{m}" for m in masters]).values_list(
            "idempotency_key", flat=True
        )
    )
    copies = []
    for master in others:
        if f"{base}:{master}" in taken:
            continue
        copy, _ = Notification.objects.get_or_create(
            idempotency_key=f"{base}:{master}",
            defaults={
                "kind": row.kind, "text": row.text, "chat_id": master, "approval": row.approval,
                "last_error": waiting,
            },
        )
        copies.append(copy)
    if copies:  # in the queue where the message was written, not at its end
        Notification.objects.filter(pk__in=[c.pk for c in copies]).update(created_at=row.created_at)
    if f"{base}:{first}" in taken:  # written meanwhile for that Master: nothing left to hold
        Notification.objects.filter(pk=row.pk).update(
            status=NotificationStatus.FAILED, last_error=f"superseded: already queued for chat {first}"
        )
    else:
        row.chat_id = first
        row.idempotency_key = f"{base}:{first}"
        row.status = NotificationStatus.PENDING
        row.last_error = waiting
        row.next_attempt_at = now
        row.save(update_fields=["chat_id", "idempotency_key", "status", "last_error", "next_attempt_at", "updated_at"])
        copies.insert(0, row)
    for copy in copies:
        notification_requeued.send(sender=Notification, notification=copy, now=now)


class DeliveryDeferred:
    """What `outbox_delivery_deferred` yields: `wanted` turns true when a delivery was asked
    for; `notification_ids` are the rows written meanwhile (when known: not after
    `notification_assign_masters` or `notification_retry`, which want a whole round).

    With a `lease` (the transport's `lease(chat_id=, text=)`, returning an object with an
    `until` datetime, or None when the row may not be leased now), each new row is written
    leased to the deferring worker (due only at `until`), so it needs no claim before its
    send: `leased` lists (row, lease) in the order written; `committed` is true for those
    whose transaction has committed (outside any caller's transaction)."""

    def __init__(self, lease: Callable | None = None) -> None:
        self.wanted = False
        self.notification_ids: list[int] = []
        self.round_wanted = False
        self.lease = lease
        self.leased: list[tuple[Notification, Any, list[bool]]] = []

    def leased_add(self, leased: list[tuple[Notification, Any]]) -> None:
        self.wanted = True
        for row, lease in leased:
            committed = [False]
            self.leased.append((row, lease, committed))
            transaction.on_commit(partial(committed.__setitem__, 0, True))


_deferred: ContextVar[DeliveryDeferred | None] = ContextVar("outbox_delivery_deferred", default=None)


@contextmanager
def outbox_delivery_deferred(*, lease: Callable | None = None) -> Iterator[DeliveryDeferred]:
    """Within it, writing to the outbox queues no delivery task: the caller delivers once
    itself, after its work is committed, when `wanted` says a delivery was asked for (a
    worker handling an update sends its reply so, with its long-lived bot, without a task
    per message). The every-minute sweep still catches a delivery the caller never made
    (a leased row once its lease has run out)."""
    with context_set(_deferred, DeliveryDeferred(lease)) as deferred:
        yield deferred


def _delivery_request(notification_ids: list[int] | None = None) -> None:
    """Ask for delivery (of these rows, or a whole round): from the deferring caller, or
    from a worker once committed."""
    deferred = _deferred.get()
    if deferred is not None:
        deferred.wanted = True
        if notification_ids is None:
            deferred.round_wanted = True
        else:
            deferred.notification_ids.extend(i for i in notification_ids if i not in deferred.notification_ids)
    else:
        transaction.on_commit(_schedule_delivery)


def _schedule_delivery() -> None:
    """Ask a worker to deliver now (the periodic sweep catches anything this misses)."""
    try:
        task_enqueue("telegrambot.outbox_deliver", task_name="outbox-deliver", group="outbox")
    except Exception:  # the broker being down must not undo the change that queued the message
        logger.warning("Could not queue outbox delivery; the periodic sweep will retry")


@transaction.atomic
def notification_retry(*, notification_id: int) -> Notification:
    """Put a failed (or waiting) notification back in the queue, due now (or when a send in
    flight ends), with a fresh set of attempts and a fresh maximum age; delivery is queued
    when the transaction commits."""
    row = Notification.objects.select_for_update().filter(pk=notification_id).first()
    if row is None:
        raise NotificationNotFound(notification_id=notification_id)
    if row.status == NotificationStatus.SENT:
        raise NotificationNotRetryable(
            f"Notification #{row.pk} was already sent", notification_id=row.pk, status=row.status
        )
    if row.chat_id is None:
        raise NotificationNotRetryable(
            f"Notification #{row.pk} has no chat to send to yet: it goes to the Masters once "
            "MASTER_CHAT_IDS is configured",
            notification_id=row.pk,
            status=row.status,
        )
    now, previous_due = utc_now(), row.next_attempt_at
    row.status = NotificationStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = now
    row.save(update_fields=["status", "attempts", "next_attempt_at", "updated_at"])
    notification_requeued.send(sender=Notification, notification=row, now=now, previous_due=previous_due)
    logger.info("Notification #%s queued again for chat %s", row.pk, row.chat_id)
    _delivery_request()
    return row
