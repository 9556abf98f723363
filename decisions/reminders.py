"""One reminder to the Master before a pending approval expires.

The every-minute approvals sweep (`tasks.approval_expire_task`) calls `approval_remind_due`:
an approval still pending when APPROVAL_REMINDER_FRACTION of its wait has passed gets one
outbox message (key `approval:<id>:reminder`), and `reminded_at` marks it, set under the
approval's row lock, so a second sweep, or two at once, remind no more than once.
"""

from datetime import datetime

from django.conf import settings
from django.db import transaction

from agentsite.core.clock import utc_now

from .models import Approval, ApprovalKind, ApprovalStatus, NotificationKind
from .outbox import notification_enqueue
from .texts import approval_gist

# Approvals reminded per sweep; the next sweep takes the rest.
REMIND_BATCH = 200


def approval_remind_at(approval: Approval, *, fraction: float | None = None) -> datetime | None:
    """When `approval` is due its reminder; None when reminders are off."""
    fraction = settings.APPROVAL_REMINDER_FRACTION if fraction is None else fraction
    if fraction <= 0:
        return None
    return approval.created_at + (approval.expires_at - approval.created_at) * fraction


def approval_remind_due(*, now: datetime | None = None) -> int:
    """Queue the reminder of every pending approval past its reminder time and not yet
    expired; returns how many were queued."""
    if settings.APPROVAL_REMINDER_FRACTION <= 0:
        return 0
    now = now or utc_now()
    waiting = (
        Approval.objects.filter(status=ApprovalStatus.PENDING, reminded_at__isnull=True, expires_at__gt=now)
        .order_by("expires_at")
        .only("pk", "created_at", "expires_at")
    )
    due = [a.pk for a in waiting[: REMIND_BATCH * 5] if approval_remind_at(a) <= now][:REMIND_BATCH]
    return sum(_remind(approval_id=approval_id, now=now) for approval_id in due)


@transaction.atomic
def _remind(*, approval_id: int, now: datetime) -> bool:
    approval = Approval.objects.select_for_update().filter(
        pk=approval_id, status=ApprovalStatus.PENDING, reminded_at__isnull=True, expires_at__gt=now
    ).first()
    if approval is None:
        return False  # decided, expired or reminded meanwhile
    approval.reminded_at = now
    approval.save(update_fields=["reminded_at", "updated_at"])
    notification_enqueue(
        kind=NotificationKind.APPROVAL_REMINDER,
        text=reminder_text(approval, now=now),
        key=f"approval:{approval.pk}:reminder",
        approval=approval,
    )
    return True


def reminder_text(approval: Approval, *, now: datetime) -> str:
    left = max(0, int((approval.expires_at - now).total_seconds()))
    if approval.kind == ApprovalKind.QUESTION:
        what, how = "question", f"/answer {approval.pk} <text>"
    else:
        what, how = approval.action, f"/approve {approval.pk} or /reject {approval.pk} [reason]"
    return (
        f"Reminder: approval #{approval.pk} ({what}) is still waiting for you: {approval_gist(approval)}\n"
        f"It expires {approval.expires_at:%Y-%m-%d %H:%M} UTC (in {_duration(left)}). {how}"
    )


def _duration(seconds: int) -> str:
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"
