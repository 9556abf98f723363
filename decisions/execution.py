"""Carrying out an approved decision: approved -> the action runs -> its effects, a report
when the decision was significant, memory -> executed | failed.

Apart from the state machine (approvals.py) so no import circle remains: this module
applies effects, and effects may ask questions through approvals. Execution is queued by
task name (`decisions.approval_execute`), so approvals never imports this module.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from actions.registry import ActionContext, ActionResult, action_execute
from agentsite.core.clock import utc_now
from budget.client import claude_calls_tallied
from memory.models import MemoryKind
from memory.services import memory_record

from .agent import agent_schedule_not_before, agent_state_get
from .budget_alerts import budget_alerts_tell
from .effects import effects_apply, effects_report
from .models import Approval, ApprovalStatus, NotificationKind
from .outbox import notification_enqueue
from .parsing import is_significant

logger = logging.getLogger(__name__)

# Stranded approvals handled per sweep; the next sweep takes the rest.
SWEEP_BATCH = 100


def approval_execute(*, approval_id: int) -> Approval | None:
    """`_approval_execute`, its action's own model call counted: a budget alert it crosses is told."""
    with claude_calls_tallied() as calls:
        approval = _approval_execute(approval_id=approval_id)
    budget_alerts_tell(spans=calls.spans)
    return approval


def _approval_execute(*, approval_id: int) -> Approval | None:
    """Run an approved decision exactly once (a conditional claim guards against doubles).

    Whatever happens after the claim ends in `executed` or `failed`: an approval never
    stays `approved` because its handler broke."""
    claimed = Approval.objects.filter(
        pk=approval_id, status=ApprovalStatus.APPROVED, result__isnull=True
    ).update(result={"status": "running"}, updated_at=utc_now())
    if not claimed:
        logger.info("Approval #%s not executed: not approved or already claimed", approval_id)
        return None
    approval = Approval.objects.get(pk=approval_id)
    try:
        result = action_execute(
            action=approval.action,
            details=approval.details_to_run,  # the Master's edit when there is one
            context=ActionContext(cycle_id=approval.cycle_id, approval_id=approval.pk),
        )
        _record_execution(approval, result)
    except Exception as exc:
        logger.exception("Executing approval #%s failed", approval_id)
        _record_failure(approval, error=f"{type(exc).__name__} while executing")
    approval.refresh_from_db()
    return approval


def approval_execute_stranded(*, older_than_seconds: int = 120) -> int:
    """Sweep: execute approved decisions whose queued execution never ran (broker down,
    worker lost before it started). The claim in approval_execute keeps it exactly-once."""
    cutoff = utc_now() - timedelta(seconds=older_than_seconds)
    stranded = Approval.objects.filter(
        status=ApprovalStatus.APPROVED, result__isnull=True, decided_at__lte=cutoff
    ).values_list("pk", flat=True)
    executed = sum(1 for approval_id in list(stranded[:SWEEP_BATCH]) if approval_execute(approval_id=approval_id))
    # A claim older than any task may run belongs to a worker that was killed mid-way:
    # fail it visibly rather than run the action a second time.
    lost_before = utc_now() - timedelta(seconds=settings.Q_CLUSTER["timeout"] + 120)
    for approval in Approval.objects.filter(
        status=ApprovalStatus.APPROVED, result__status="running", updated_at__lte=lost_before
    )[:SWEEP_BATCH]:
        _record_failure(approval, error="the worker executing it stopped before finishing")
    return executed


@transaction.atomic
def _record_execution(approval: Approval, result: ActionResult) -> None:
    decision = {**approval.payload, "details": approval.details_to_run}
    effects_apply(effects=result.effects, cycle_id=approval.cycle_id, approval_id=approval.pk, key=f"approval:{approval.pk}")
    if result.effects.min_next_interval_seconds:
        agent_state_get()
        agent_schedule_not_before(at=utc_now() + timedelta(seconds=result.effects.min_next_interval_seconds))
    ok = result.status == "ok"
    # The same threshold as a cycle's own action (parsing.should_notify).
    result = effects_report(
        result=result, action=approval.action, decision=decision, key=f"approval:{approval.pk}",
        significant=ok and is_significant(float(decision.get("significance", 0))),
    )
    approval.status = ApprovalStatus.EXECUTED if ok else ApprovalStatus.FAILED
    approval.result = result.as_dict()
    approval.save(update_fields=["status", "result", "updated_at"])
    memory_record(
        kind=MemoryKind.OUTCOME,
        content=f"Approved {approval.action} (approval #{approval.pk}) {'done' if ok else 'failed'}: "
        f"{result.data.get('summary') or result.data.get('error') or result.status}",
        meta={"approval_id": approval.pk, "status": approval.status},
        cycle_id=approval.cycle_id,
    )


@transaction.atomic
def _record_failure(approval: Approval, *, error: str) -> None:
    updated = Approval.objects.filter(pk=approval.pk, status=ApprovalStatus.APPROVED).update(
        status=ApprovalStatus.FAILED, result={"status": "failed", "error": error}, updated_at=utc_now()
    )
    if not updated:
        return
    memory_record(
        kind=MemoryKind.OUTCOME,
        content=f"Approved {approval.action} (approval #{approval.pk}) could not be carried out: {error}",
        meta={"approval_id": approval.pk, "status": ApprovalStatus.FAILED},
        cycle_id=approval.cycle_id,
    )
    notification_enqueue(
        kind=NotificationKind.MESSAGE,
        text=f"Approval #{approval.pk} ({approval.action}) was approved but could not be carried out: {error}.",
        key=f"approval:{approval.pk}:failed",
    )
