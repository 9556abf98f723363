"""One proactive cycle, end to end: guard -> prompt -> Claude -> parse -> route ->
memory -> pace. See ARCHITECTURE.md ("One cycle") for the map."""

import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from actions.registry import ActionContext, ActionResult, action_execute
from budget.client import claude_complete, claude_configured
from agentsite.core import clock
from agentsite.core.tasks import task_enqueue
from agentsite.core.clock import next_utc_midnight, utc_now, utc_today
from budget.errors import BudgetExceeded, ClaudeCallError, ClaudeNotConfigured
from budget.models import LedgerEntry, Scope
from budget.selectors import budget_stats
from budget.services import reservations_charge_for_cycles
from budget.text import text_clip
from budget.usage import estimate_input_upper_bound
from memory.services import memory_store_aroma, memory_summarize_cycle, memory_update_working

from .agent import agent_schedule, agent_state_get, cycle_lock_acquire, cycle_lock_release
from .approvals import approval_request_decision
from .effects import effects_apply, effects_report
from .models import AgentState, Cycle, CycleStatus, NotificationKind
from .outbox import notification_enqueue
from .pacing import next_run_delay
from .parsing import ProactiveDecision, decision_parse, needs_approval, should_notify
from .prompts import Prompt, prompt_build
from .selectors import pacing_day_spend, prompt_context_gather
from .texts import budget_exhausted_text

logger = logging.getLogger(__name__)


# The only stop_reason of a reply the model finished on its own.
COMPLETE_STOP_REASON = "end_turn"


class Reason:
    PAUSED = "paused"
    LOCKED = "locked"
    NO_CREDENTIALS = "no_credentials"
    BUDGET_EXHAUSTED = "budget_exhausted"
    INVALID_DECISION = "invalid_decision"
    ABANDONED = "abandoned"
    INTERNAL_ERROR = "internal_error"


@dataclass
class CycleRun:
    cycle: Cycle
    approval_id: int | None = None
    next_run_in_seconds: int | None = None


def cycle_run(*, trigger: str = "schedule") -> CycleRun:
    """Run one cycle now. Never raises for an expected fault: the Cycle row says what happened."""
    state = agent_state_get()
    if state.paused:
        return CycleRun(cycle=_skipped(Reason.PAUSED, trigger))
    token = cycle_lock_acquire()
    if token is None:
        # Another cycle is running; it will pace the next one.
        return CycleRun(cycle=_skipped(Reason.LOCKED, trigger))
    try:
        _fail_abandoned()
        return _run_locked(trigger=trigger)
    except Exception as exc:  # before the Cycle row existed: still record it and back off
        logger.exception("Cycle crashed while getting ready")
        cycle = Cycle.objects.create(status=CycleStatus.RUNNING, trigger=trigger)
        return _finish_failed(cycle, reason=Reason.INTERNAL_ERROR, error=type(exc).__name__, started=time.monotonic())
    finally:
        cycle_lock_release(token=token)


def _run_locked(*, trigger: str) -> CycleRun:
    if not claude_configured():
        return _finish_skip(Reason.NO_CREDENTIALS, trigger)
    prompt = prompt_build(context=prompt_context_gather())
    stats = budget_stats()
    bound = estimate_input_upper_bound(system=prompt.system, messages=_messages(prompt)) + settings.AGENT_MAX_TOKENS
    if stats["proactive"]["remaining"] < max(bound, settings.PROACTIVE_MIN_CYCLE_TOKENS):
        return _exhausted(trigger=trigger, stats=stats)

    started = time.monotonic()
    cycle = Cycle.objects.create(status=CycleStatus.RUNNING, trigger=trigger, prompt=text_clip(prompt.user))
    try:
        return _decide_and_act(cycle=cycle, prompt=prompt, started=started)
    except Exception as exc:  # a bug must not leave the cycle running or kill the worker
        logger.exception("Cycle %s crashed", cycle.pk)
        return _finish_failed(cycle, reason=Reason.INTERNAL_ERROR, error=type(exc).__name__, started=started)


def _decide_and_act(*, cycle: Cycle, prompt: Prompt, started: float) -> CycleRun:
    try:
        reply = claude_complete(
            system=prompt.system,
            messages=_messages(prompt),
            scope=Scope.PROACTIVE,
            meta={"cycle_id": cycle.pk, "purpose": "decision"},
            cache_system=True,
        )
    except BudgetExceeded:
        cycle.delete()  # nothing was sent: record it as the skip it is
        return _exhausted(trigger=cycle.trigger, stats=budget_stats())
    except ClaudeNotConfigured:
        cycle.delete()
        return _finish_skip(Reason.NO_CREDENTIALS, cycle.trigger)
    except ClaudeCallError as exc:
        # The API's own "retry after": the next cycle never starts before it has passed.
        wait = exc.retry_after_seconds
        return _finish_failed(
            cycle, reason=exc.kind, error=exc.message, started=started,
            at_least=math.ceil(wait) if wait else None,
        )

    cycle.raw_response = text_clip(reply.text)
    cycle.input_tokens, cycle.output_tokens = reply.usage.input, reply.usage.output
    cycle.cache_creation_input_tokens, cycle.cache_read_input_tokens = reply.usage.cache_creation, reply.usage.cache_read
    if reply.stop_reason != COMPLETE_STOP_REASON:
        # A cut-off reply may hold a draft that is not the decision: never act on it.
        return _finish_failed(
            cycle, reason=Reason.INVALID_DECISION, started=started,
            error=f"the reply is incomplete (stop_reason {reply.stop_reason or 'missing'}); no decision taken",
        )
    parsed = decision_parse(reply.text)
    if not parsed.ok:
        return _finish_failed(cycle, reason=Reason.INVALID_DECISION, error=parsed.error, started=started)
    decision = parsed.decision
    cycle.decision = decision.model_dump(mode="json")
    cycle.action, cycle.certainty, cycle.significance = decision.action, decision.certainty, decision.significance

    if needs_approval(decision):
        return _ask_approval(cycle, decision, started=started)
    result = action_execute(action=decision.action, details=decision.details, context=ActionContext(cycle_id=cycle.pk))
    if result.status == "needs_approval":  # the handler's own guard agrees with the router
        return _ask_approval(cycle, decision, started=started)
    return _finish_executed(cycle, decision, result, started=started)


def _messages(prompt: Prompt) -> list[dict]:
    return [{"role": "user", "content": prompt.user}]


def _ask_approval(cycle: Cycle, decision: ProactiveDecision, *, started: float) -> CycleRun:
    with transaction.atomic():
        approval = approval_request_decision(decision=cycle.decision, cycle=cycle)
        cycle.result = {"status": "awaiting_approval", "approval_id": approval.pk}
        memory_update_working(
            content=f"Waiting for the Master on approval #{approval.pk}: {decision.action}", cycle_id=cycle.pk
        )
        run = _close(cycle, CycleStatus.AWAITING_APPROVAL, started=started, decision=decision)
    run.approval_id = approval.pk
    return run


def _finish_executed(cycle: Cycle, decision: ProactiveDecision, result: ActionResult, *, started: float) -> CycleRun:
    with transaction.atomic():
        question_ids = effects_apply(effects=result.effects, cycle_id=cycle.pk, approval_id=None, key=f"cycle:{cycle.pk}")
        cycle.executed = result.status != "invalid_details"
        # Recorded (and remembered) as queued, not delivered, while Telegram is not configured.
        cycle.result = effects_report(
            result=result, action=decision.action, decision=cycle.decision, key=f"cycle:{cycle.pk}",
            significant=should_notify(decision) and cycle.executed,
        ).as_dict()
        run = _close(
            cycle, CycleStatus.COMPLETED, started=started, decision=decision,
            at_least=result.effects.min_next_interval_seconds,
        )
    run.approval_id = question_ids[0] if question_ids else None
    return run


def _close(
    cycle: Cycle, status: str, *, started: float, decision: ProactiveDecision | None = None,
    reason: str = "", error: str = "", at_least: int | None = None,
) -> CycleRun:
    """Finish the Cycle row, write memory, pace the next run."""
    failures = agent_state_get().consecutive_failures + 1 if status == CycleStatus.FAILED else 0
    delay = _pace(failures=failures, at_least=at_least)
    now = utc_now()
    cycle.status, cycle.reason, cycle.error = status, reason, error[:2000]
    cycle.finished_at = now
    cycle.duration_ms = int((time.monotonic() - started) * 1000)
    cycle.next_run_at = now + timedelta(seconds=delay)
    cycle.save()
    _tell_over_reservation(cycle)
    if decision is not None:
        memory_summarize_cycle(
            cycle_id=cycle.pk, action=decision.action, status=status, reasoning=decision.reasoning, result=cycle.result
        )
        outcome = (cycle.result or {}).get("summary") or (cycle.result or {}).get("status") or status
        memory_store_aroma(
            content=f"Last cycle #{cycle.pk} ({now:%H:%M} UTC): {decision.action} -> {outcome}. "
            f"Thinking then: {decision.reasoning[:300]}",
            cycle_id=cycle.pk,
        )
    agent_schedule(next_run_at=cycle.next_run_at, last_cycle_at=now, failures=failures)
    logger.info(
        "Cycle %s %s%s action=%s certainty=%s next in %ss",
        cycle.pk, status, f" ({reason})" if reason else "", cycle.action or "-", cycle.certainty, delay,
    )
    return CycleRun(cycle=cycle, next_run_in_seconds=delay)


def _finish_failed(
    cycle: Cycle, *, reason: str, error: str, started: float, at_least: int | None = None
) -> CycleRun:
    return _close(cycle, CycleStatus.FAILED, started=started, reason=reason, error=error or "", at_least=at_least)


def _tell_over_reservation(cycle: Cycle) -> None:
    """Usage above what was reserved is recorded as is; the Master hears of it once a day.
    Any call of the cycle counts: the decision's and its action's own (work_on_task,
    develop_skill), which the cycle never sees the reply of."""
    if cycle.started_at is None:
        return
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


def _pace(*, failures: int = 0, at_least: int | None = None) -> int:
    day = pacing_day_spend()
    return next_run_delay(
        usage_ratio=day.usage_ratio, day=day,
        min_seconds=settings.PROACTIVE_MIN_INTERVAL_SECONDS,
        max_seconds=settings.PROACTIVE_MAX_INTERVAL_SECONDS,
        at_least=at_least,
        consecutive_failures=failures,
    )


def _skipped(reason: str, trigger: str, *, next_run_at: datetime | None = None) -> Cycle:
    now = utc_now()
    return Cycle.objects.create(
        status=CycleStatus.SKIPPED, reason=reason, trigger=trigger, finished_at=now, duration_ms=0,
        next_run_at=next_run_at,
    )


def _finish_skip(reason: str, trigger: str) -> CycleRun:
    delay = _pace()
    cycle = _skipped(reason, trigger, next_run_at=utc_now() + timedelta(seconds=delay))
    agent_schedule(next_run_at=cycle.next_run_at)
    logger.info("Cycle skipped (%s); next check in %ss", reason, delay)
    return CycleRun(cycle=cycle, next_run_in_seconds=delay)


def _exhausted(*, trigger: str, stats: dict) -> CycleRun:
    """Meditate until 00:00 UTC and tell the Master once that day."""
    resume_at = next_utc_midnight()
    with transaction.atomic():
        cycle = _skipped(Reason.BUDGET_EXHAUSTED, trigger, next_run_at=resume_at)
        notification_enqueue(
            kind=NotificationKind.BUDGET_EXHAUSTED,
            text=budget_exhausted_text(stats=stats, resume_at=resume_at),
            key=f"budget_exhausted:{utc_today().isoformat()}",
        )
        agent_schedule(next_run_at=resume_at)
    logger.warning("Proactive budget exhausted; next cycle at %s", resume_at.isoformat())
    return CycleRun(cycle=cycle, next_run_in_seconds=int((resume_at - utc_now()).total_seconds()))


def _fail_abandoned() -> int:
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


def proactive_tick() -> str:
    """What the every-minute schedule runs: a cycle only when one is due. Finding none due
    costs one read of the agent-state row. Ticks come 30-90 s apart, so a cycle due before
    the next one could come is waited for here (one tick waits, the others see its mark),
    and the tick that ran a cycle due again soon hands it to a fresh tick at once."""
    state = agent_state_get()
    if state.paused:
        return "paused"
    due, now = state.next_run_at, utc_now()
    if due and _waited_on(state) and now < due + _WAKE_GRACE:
        return "waited_on"  # the waiting tick is starting it
    if due and due > now:
        outcome = _wait_for(state)
        if outcome:
            return outcome
    run = cycle_run(trigger="schedule")
    soon = run.next_run_in_seconds
    if soon is not None and soon <= settings.PROACTIVE_TICK_LOOKAHEAD_SECONDS:
        transaction.on_commit(_tick_again)  # this tick is done; the next ticks may come too late
    return f"cycle {run.cycle.pk} {run.cycle.status}"


# How long after the due time a waiting tick's mark still keeps the other ticks off: should
# that tick have died, the next tick past it starts the cycle.
_WAKE_GRACE = timedelta(seconds=30)


def _waited_on(state: AgentState) -> bool:
    # The mark of a waiting tick: the due time it waits for (cycle_lock_acquire clears it).
    mark = state.tick_waiting_for
    return state.lock_token is None and mark is not None and mark == state.next_run_at


def _running(state: AgentState, *, now: datetime) -> bool:
    return state.lock_token is not None and state.lock_expires_at is not None and state.lock_expires_at > now


def _wait_for(state: AgentState) -> str | None:
    """Wait for a cycle due within PROACTIVE_TICK_LOOKAHEAD_SECONDS; None when it is due now
    and still ours to start, else why not."""
    due, now = state.next_run_at, utc_now()
    if (due - now).total_seconds() > settings.PROACTIVE_TICK_LOOKAHEAD_SECONDS or _running(state, now=now):
        return "not_due"  # a running cycle (a manual one) paces the next run itself
    marked = AgentState.objects.filter(
        pk=AgentState.SINGLETON_ID, paused=False, next_run_at=due, lock_token__isnull=True
    ).exclude(tick_waiting_for=due).update(tick_waiting_for=due)
    if not marked:
        return "waited_on"
    clock.sleep(max(0.0, (due - utc_now()).total_seconds()))
    state = agent_state_get()
    if state.paused or state.next_run_at != due or _running(state, now=utc_now()):
        return "moved"  # paused, rescheduled or started by someone else while we waited
    return None


def _tick_again() -> None:
    try:
        task_enqueue("decisions.proactive_tick", task_name="proactive-tick-follow-up")
    except Exception as exc:  # the every-minute tick still comes, only later
        logger.warning("Could not queue the follow-up tick: %s", type(exc).__name__)
