"""What a cycle records when it doesn't get to decide (skips, the exhausted budget, cycles a
dead process left) and the over-reservation notice: the cycle's ends, apart from its path."""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from agentsite.core.clock import next_utc_midnight, utc_now, utc_today
from budget.models import LedgerEntry, Scope
from budget.services import reservations_charge_for_cycles

from .agent import agent_schedule
from .models import Cycle, CycleStatus, NotificationKind
from .outbox import notification_enqueue
from .texts import budget_exhausted_text

logger = logging.getLogger("decisions.services")  # the cycle's one log, wherever it is written


class Reason:
    PAUSED = "paused"
    LOCKED = "locked"
    NO_CREDENTIALS = "no_credentials"
    BUDGET_EXHAUSTED = "budget_exhausted"
    INVALID_DECISION = "invalid_decision"
    ACTION_DISABLED = "action_disabled"  # the Master's policy disables the chosen action
    ABANDONED = "abandoned"
    INTERNAL_ERROR = "internal_error"


@dataclass
class CycleRun:
    cycle: Cycle
    approval_id: int | None = None
    next_run_in_seconds: int | None = None


def cycle_skipped(reason: str, trigger: str, *, next_run_at: datetime | None = None) -> Cycle:
    now = utc_now()
    return Cycle.objects.create(
        status=CycleStatus.SKIPPED, reason=reason, trigger=trigger, finished_at=now, duration_ms=0,
        next_run_at=next_run_at,
    )


def cycle_exhausted(*, trigger: str, stats: dict) -> CycleRun:
    """Meditate until 00:00 UTC and tell the Master once that day."""
    resume_at = next_utc_midnight()
    with transaction.atomic():
        cycle = cycle_skipped(Reason.BUDGET_EXHAUSTED, trigger, next_run_at=resume_at)
        notification_enqueue(
            kind=NotificationKind.BUDGET_EXHAUSTED,
            text=budget_exhausted_text(stats=stats, resume_at=resume_at),
            key=f"budget_exhausted:{utc_today().isoformat()}",
        )
        agent_schedule(next_run_at=resume_at)
    logger.warning("Proactive budget exhausted; next cycle at %s", resume_at.isoformat())
    return CycleRun(cycle=cycle, next_run_in_seconds=int((resume_at - utc_now()).total_seconds()))


def cycles_fail_abandoned() -> int:
    """We hold the lock, and the lock outlives any live cycle's calls (its TTL is derived
    from the model-call deadline), so a cycle still `running` belongs to a process that
    died. What it had reserved is charged at once as an estimate: the call may have
    been made, and the budget must never under-count."""
    now = utc_now()
    ids = list(Cycle.objects.filter(status=CycleStatus.RUNNING).values_list("pk", flat=True))
    if not ids:
        return 0
    abandoned = Cycle.objects.filter(pk__in=ids, status=CycleStatus.RUNNING).update(
        status=CycleStatus.FAILED, reason=Reason.ABANDONED, finished_at=now,
        error="the process running this cycle stopped before finishing",
    )
    charged = reservations_charge_for_cycles(cycle_ids=ids)
    logger.warning("Marked %d abandoned cycle(s) failed; %d reserved tokens charged as estimated", abandoned, charged)
    return abandoned


def over_reservation_tell(cycle: Cycle, *, over: list | None = None) -> None:
    """Usage above what was reserved is recorded as is; the Master hears of it once a day.
    Any call of the cycle counts: the decision's and its action's own (work_on_task,
    develop_skill), which the cycle never sees the reply of. `over`: the flagged ledger
    rows of the calls made during the cycle, when tallied (else they are looked up)."""
    if over is not None:
        entry = over[0] if over else None
    elif cycle.started_at is None:
        return
    else:
        entry = (
            LedgerEntry.objects.filter(
                scope=Scope.PROACTIVE, day__gte=cycle.started_at.date(), over_reservation=True, meta__cycle_id=cycle.pk
            )
            .order_by("created_at", "id")
            .first()
        )
    if entry is None:
        return
    notification_enqueue(
        kind=NotificationKind.MESSAGE,
        text=(
            f"Budget notice: a model call used {entry.total_tokens:,} tokens, more than was reserved for it. "
            "It is recorded in full and flagged in the ledger; today's total may pass the limit by that much."
        ),
        key=f"over_reservation:{entry.day.isoformat()}",
    )
