"""One proactive cycle, end to end: guard -> prompt -> Claude -> parse -> route ->
memory -> pace. See ARCHITECTURE.md ("One cycle") for the map."""

import logging
import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from actions.registry import ActionContext, ActionResult, action_execute
from budget.client import (
    CallTally, claude_calls_current, claude_calls_refused, claude_calls_tallied, claude_complete, claude_configured,
    claude_reserve,
)
from agentsite.core.clock import utc_now
from budget.errors import BudgetExceeded, ClaudeCallError, ClaudeNotConfigured
from budget.models import Scope
from budget.pricing import cost_bound_micros, min_cycle_cost_micros
from budget.selectors import budget_stats
from budget.text import text_clip
from budget.usage import estimate_input_upper_bound
from memory.models import MemoryKind
from memory.services import memory_record, memory_record_cycle, memory_update_working

from .agent import agent_schedule, agent_state_get, cycle_lock_acquire, cycle_lock_release
from .approvals import approval_request_decision
from .budget_alerts import budget_alerts_tell
from .effects import effects_apply, effects_report
from .models import Cycle, CycleStatus
from .pacing import DaySpend, next_run_delay
from .parsing import ProactiveDecision, decision_parse, is_disabled, needs_approval, should_notify
from .prompts import Prompt, prompt_build
from .rules import ActionRule, disabled_reason
from .selectors import CycleView, cycle_view_read, pacing_day_spend, pacing_day_spend_after, prompt_context_gather
from .cycle_records import (
    CycleRun, Reason, cycle_exhausted, cycle_skipped, cycles_fail_abandoned, over_reservation_tell,
)

logger = logging.getLogger(__name__)


# The only stop_reason of a reply the model finished on its own.
COMPLETE_STOP_REASON = "end_turn"


@dataclass
class _Lean:
    """What the lean path carries to the cycle's end: its one read, what its calls were
    charged, and the lock, released by the closing transaction's UPDATE."""

    view: CycleView
    token: uuid.UUID
    calls: CallTally = field(default_factory=CallTally)
    released: bool = False


def cycle_run(*, trigger: str = "schedule") -> CycleRun:
    """Run one cycle now. Never raises for an expected fault: the Cycle row says what happened.

    The lean path: one read (`cycle_view_read`) and the prompt's lists; then one transaction
    takes the lock, records the running cycle and reserves the call's tokens, committed
    before the call is sent; the settle (the budget's own); the action; one transaction
    closes the cycle, writes its memory, schedules the next run and frees the lock. The
    rare cases (first run, no credentials, budget short, a crash while getting ready) take
    the guarded path, step by step."""
    view = cycle_view_read()
    if view is not None and view.paused:
        return CycleRun(cycle=cycle_skipped(Reason.PAUSED, trigger))
    if view is None or not claude_configured():
        return _run_guarded(trigger=trigger)
    try:
        prompt = prompt_build(context=prompt_context_gather(view=view))
    except Exception:
        logger.warning("Gathering the prompt failed; the guarded path records it", exc_info=True)
        return _run_guarded(trigger=trigger)
    if _short(view.budget, prompt):
        return _run_guarded(trigger=trigger)  # it says "exhausted" (and tells the Master once)
    return _run_lean(trigger=trigger, view=view, prompt=prompt)


def _short(budget: dict, prompt: Prompt) -> bool:
    """Today's proactive budget can't cover this cycle's call: its tokens, or (under a daily
    cost limit) its cost bound, or a cycle's minimum of either."""
    input_bound = estimate_input_upper_bound(system=prompt.system, messages=_messages(prompt))
    if budget["remaining"] < max(input_bound + settings.AGENT_MAX_TOKENS, settings.PROACTIVE_MIN_CYCLE_TOKENS):
        return True
    if budget["cost_remaining_micros"] is None:
        return False
    cost = cost_bound_micros(input_bound=input_bound, max_tokens=settings.AGENT_MAX_TOKENS, model=settings.AGENT_MODEL)
    return budget["cost_remaining_micros"] < max(cost, min_cycle_cost_micros())


def _run_lean(*, trigger: str, view: CycleView, prompt: Prompt) -> CycleRun:
    try:
        started, cycle, token, reservation = _start(trigger=trigger, view=view, prompt=prompt)
    except Exception:  # rolled back, the lock with it: the guarded path records what fails
        logger.warning("Starting the cycle failed; the guarded path records it", exc_info=True)
        return _run_guarded(trigger=trigger)
    if token is None:
        return CycleRun(cycle=cycle)  # locked: another cycle runs, and paces the next one
    lean = _Lean(view=view, token=token)
    try:
        if reservation is None:
            cycle.delete()
            return cycle_exhausted(trigger=trigger, stats=budget_stats())
        with claude_calls_tallied() as lean.calls:
            return _decide_and_act(cycle=cycle, prompt=prompt, started=started, reservation=reservation, lean=lean)
    except Exception as exc:  # a bug must not leave the cycle running or kill the worker
        logger.exception("Cycle %s crashed", cycle.pk)
        lean.view = None
        return _finish_failed(cycle, reason=Reason.INTERNAL_ERROR, error=type(exc).__name__, started=started)
    finally:
        if not lean.released:
            cycle_lock_release(token=token)


def _start(*, trigger: str, view: CycleView, prompt: Prompt) -> tuple:
    """One transaction: the lock, the running cycle's row and the call's reservation,
    committed (durable) before the call is sent. Without the lock, a skipped row only."""
    with transaction.atomic():
        token = cycle_lock_acquire(state_exists=True)
        if token is None:
            return 0.0, cycle_skipped(Reason.LOCKED, trigger), None, None
        if view.any_running:
            cycles_fail_abandoned()
        started = time.monotonic()
        cycle = Cycle.objects.create(status=CycleStatus.RUNNING, trigger=trigger, prompt=text_clip(prompt.user))
        try:
            reservation = claude_reserve(
                system=prompt.system, messages=_messages(prompt), scope=Scope.PROACTIVE,
                meta={"cycle_id": cycle.pk, "purpose": "decision"},
            )
        except BudgetExceeded:
            reservation = None  # the stale sweep it made still commits
    return started, cycle, token, reservation


def _run_guarded(*, trigger: str) -> CycleRun:
    """The cycle step by step, each guard reading what it needs."""
    state = agent_state_get()
    if state.paused:
        return CycleRun(cycle=cycle_skipped(Reason.PAUSED, trigger))
    token = cycle_lock_acquire(state_exists=True)
    if token is None:
        # Another cycle is running; it will pace the next one.
        return CycleRun(cycle=cycle_skipped(Reason.LOCKED, trigger))
    try:
        cycles_fail_abandoned()
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
    if _short(stats["proactive"], prompt):
        return cycle_exhausted(trigger=trigger, stats=stats)

    started = time.monotonic()
    cycle = Cycle.objects.create(status=CycleStatus.RUNNING, trigger=trigger, prompt=text_clip(prompt.user))
    with claude_calls_tallied():  # the cycle's figures: every call it makes
        try:
            return _decide_and_act(cycle=cycle, prompt=prompt, started=started)
        except Exception as exc:  # a bug must not leave the cycle running or kill the worker
            logger.exception("Cycle %s crashed", cycle.pk)
            return _finish_failed(cycle, reason=Reason.INTERNAL_ERROR, error=type(exc).__name__, started=started)


def _decide_and_act(
    *, cycle: Cycle, prompt: Prompt, started: float, reservation=None, lean: _Lean | None = None
) -> CycleRun:
    try:
        reply = claude_complete(
            system=prompt.system,
            messages=_messages(prompt),
            scope=Scope.PROACTIVE,
            meta={"cycle_id": cycle.pk, "purpose": "decision"},
            cache_system=True,
            reservation=reservation,
        )
    except BudgetExceeded:
        cycle.delete()  # nothing was sent: record it as the skip it is
        return cycle_exhausted(trigger=cycle.trigger, stats=budget_stats())
    except ClaudeNotConfigured:
        cycle.delete()
        return _finish_skip(Reason.NO_CREDENTIALS, cycle.trigger)
    except ClaudeCallError as exc:
        # The API's own "retry after": the next cycle never starts before it has passed.
        wait = exc.retry_after_seconds
        return _finish_failed(
            cycle, reason=exc.kind, error=exc.message, started=started,
            at_least=math.ceil(wait) if wait else None, lean=lean,
        )

    cycle.raw_response = text_clip(reply.text)
    cycle.input_tokens, cycle.output_tokens = reply.usage.input, reply.usage.output
    cycle.cache_creation_input_tokens, cycle.cache_read_input_tokens = reply.usage.cache_creation, reply.usage.cache_read
    if reply.stop_reason != COMPLETE_STOP_REASON:
        # A cut-off reply may hold a draft that is not the decision: never act on it.
        return _finish_failed(
            cycle, reason=Reason.INVALID_DECISION, started=started, lean=lean,
            error=f"the reply is incomplete (stop_reason {reply.stop_reason or 'missing'}); no decision taken",
        )
    parsed = decision_parse(reply.text)
    if not parsed.ok:
        return _finish_failed(cycle, reason=Reason.INVALID_DECISION, error=parsed.error, started=started, lean=lean)
    decision = parsed.decision
    cycle.decision = decision.model_dump(mode="json")
    cycle.action, cycle.certainty, cycle.significance = decision.action, decision.certainty, decision.significance

    rule = prompt.policy.rule(decision.action)  # the policy the prompt told the agent
    if is_disabled(decision, rule):
        return _refuse_disabled(cycle, decision, started=started, lean=lean)
    if needs_approval(decision, rule):
        return _ask_approval(cycle, decision, started=started, lean=lean, rule=rule)
    if lean is not None and decision.action in WITHOUT_MODEL_CALLS:
        # Nothing to reserve, so the action's writes join the closing transaction.
        with transaction.atomic(), claude_calls_refused():
            return _act(cycle, decision, started=started, lean=lean, rule=rule)
    return _act(cycle, decision, started=started, lean=lean, rule=rule)


# The actions whose handlers never call the model (claude_calls_refused makes one that
# starts to fail loudly instead of calling without a committed reservation).
WITHOUT_MODEL_CALLS = frozenset({"meditate", "communicate", "ask_master", "proactive_outreach"})


def _act(
    cycle: Cycle, decision: ProactiveDecision, *, started: float, lean: _Lean | None, rule: ActionRule
) -> CycleRun:
    result = action_execute(action=decision.action, details=decision.details, context=ActionContext(cycle_id=cycle.pk))
    if result.status == "needs_approval":  # the handler's own guard agrees with the router
        return _ask_approval(cycle, decision, started=started, lean=lean, rule=rule)
    return _finish_executed(cycle, decision, result, started=started, lean=lean)


def _messages(prompt: Prompt) -> list[dict]:
    return [{"role": "user", "content": prompt.user}]


def _ask_approval(
    cycle: Cycle, decision: ProactiveDecision, *, started: float, lean: _Lean | None = None, rule: ActionRule
) -> CycleRun:
    # savepoint=False: inside the action's transaction (WITHOUT_MODEL_CALLS) this is its end.
    with transaction.atomic(savepoint=False):
        approval = approval_request_decision(
            decision=cycle.decision, cycle=cycle, timeout_seconds=rule.approval_timeout_seconds
        )
        cycle.result = {"status": "awaiting_approval", "approval_id": approval.pk}
        memory_update_working(
            content=f"Waiting for the Master on approval #{approval.pk}: {decision.action}", cycle_id=cycle.pk
        )
        run = _close(cycle, CycleStatus.AWAITING_APPROVAL, started=started, decision=decision, lean=lean)
    _released(lean)
    run.approval_id = approval.pk
    return run


def _refuse_disabled(cycle: Cycle, decision: ProactiveDecision, *, started: float, lean: _Lean | None) -> CycleRun:
    """The Master disabled the chosen action: the cycle fails as invalid, and the reason is
    an outcome the agent reads under "Answers and guidance" next cycle."""
    reason = disabled_reason(decision.action)
    with transaction.atomic():
        memory_record(
            kind=MemoryKind.OUTCOME, content=f"Cycle #{cycle.pk} was discarded: {reason}",
            meta={"cycle_id": cycle.pk, "status": Reason.ACTION_DISABLED, "action": decision.action},
            cycle_id=cycle.pk,
        )
        run = _close(cycle, CycleStatus.FAILED, started=started, decision=decision,
                     reason=Reason.ACTION_DISABLED, error=reason, lean=lean)
    _released(lean)
    return run


def _finish_executed(
    cycle: Cycle, decision: ProactiveDecision, result: ActionResult, *, started: float, lean: _Lean | None = None
) -> CycleRun:
    with transaction.atomic(savepoint=False):
        # The cycle id only links the questions' approvals to it: without questions, no read of it.
        linked = cycle.pk if result.effects.questions else None
        question_ids = effects_apply(effects=result.effects, cycle_id=linked, approval_id=None, key=f"cycle:{cycle.pk}")
        cycle.executed = result.status != "invalid_details"
        # Recorded (and remembered) as queued, not delivered, while Telegram is not configured.
        cycle.result = effects_report(
            result=result, action=decision.action, decision=cycle.decision, key=f"cycle:{cycle.pk}",
            significant=should_notify(decision) and cycle.executed,
        ).as_dict()
        run = _close(
            cycle, CycleStatus.COMPLETED, started=started, decision=decision,
            at_least=result.effects.min_next_interval_seconds, lean=lean,
        )
    _released(lean)
    run.approval_id = question_ids[0] if question_ids else None
    return run


def _close(
    cycle: Cycle, status: str, *, started: float, decision: ProactiveDecision | None = None,
    reason: str = "", error: str = "", at_least: int | None = None, lean: _Lean | None = None,
) -> CycleRun:
    """Finish the Cycle row, write memory, pace the next run (and, on the lean path, free the
    lock in the same UPDATE; pacing and the over-reservation notice then read nothing)."""
    lean = lean if lean is not None and lean.view is not None else None
    failed_before = lean.view.consecutive_failures if lean else agent_state_get().consecutive_failures
    failures = failed_before + 1 if status == CycleStatus.FAILED else 0
    day = pacing_day_spend_after(
        view=lean.view, spent_since=lean.calls.proactive_tokens, cost_since=lean.calls.cost_micros,
    ) if lean else None
    delay = _pace(failures=failures, at_least=at_least, day=day)
    now = utc_now()
    cycle.status, cycle.reason, cycle.error = status, reason, error[:2000]
    cycle.finished_at = now
    cycle.duration_ms = int((time.monotonic() - started) * 1000)
    cycle.next_run_at = now + timedelta(seconds=delay)
    calls = lean.calls if lean else claude_calls_current()
    _count_calls(cycle, calls)
    cycle.save()
    over_reservation_tell(cycle, over=lean.calls.over_reservation if lean else None)
    if calls is not None:
        budget_alerts_tell(spans=calls.spans)
    if decision is not None:
        outcome = (cycle.result or {}).get("summary") or (cycle.result or {}).get("status") or status
        memory_record_cycle(
            cycle_id=cycle.pk, action=decision.action, status=status, reasoning=decision.reasoning,
            result=cycle.result,
            aroma=f"Last cycle #{cycle.pk} ({now:%H:%M} UTC): {decision.action} -> {outcome}. "
            f"Thinking then: {decision.reasoning[:300]}",
        )
    agent_schedule(
        next_run_at=cycle.next_run_at, last_cycle_at=now, failures=failures, release=lean.token if lean else None
    )
    logger.info(
        "Cycle %s %s%s action=%s certainty=%s next in %ss",
        cycle.pk, status, f" ({reason})" if reason else "", cycle.action or "-", cycle.certainty, delay,
    )
    return CycleRun(cycle=cycle, next_run_in_seconds=delay)


def _count_calls(cycle: Cycle, calls: CallTally | None) -> None:
    """The cycle's figures are the sum of all its calls (the decision's and its action's)."""
    if calls is None or not calls.calls:
        return
    cycle.input_tokens, cycle.output_tokens = calls.input_tokens, calls.output_tokens
    cycle.cache_creation_input_tokens = calls.cache_creation_input_tokens
    cycle.cache_read_input_tokens = calls.cache_read_input_tokens
    cycle.cost_micros = calls.cost_micros


def _finish_failed(
    cycle: Cycle, *, reason: str, error: str, started: float, at_least: int | None = None, lean: _Lean | None = None
) -> CycleRun:
    with transaction.atomic():
        run = _close(
            cycle, CycleStatus.FAILED, started=started, reason=reason, error=error or "", at_least=at_least, lean=lean
        )
    _released(lean)
    return run


def _released(lean: _Lean | None) -> None:
    """The closing transaction, which freed the lock, has committed (or joined the caller's)."""
    if lean is not None and lean.view is not None:
        lean.released = True


def _pace(*, failures: int = 0, at_least: int | None = None, day: DaySpend | None = None) -> int:
    day = day or pacing_day_spend()
    return next_run_delay(
        usage_ratio=day.usage_ratio, day=day,
        min_seconds=settings.PROACTIVE_MIN_INTERVAL_SECONDS,
        max_seconds=settings.PROACTIVE_MAX_INTERVAL_SECONDS,
        at_least=at_least,
        consecutive_failures=failures,
    )


def _finish_skip(reason: str, trigger: str) -> CycleRun:
    delay = _pace()
    cycle = cycle_skipped(reason, trigger, next_run_at=utc_now() + timedelta(seconds=delay))
    agent_schedule(next_run_at=cycle.next_run_at)
    logger.info("Cycle skipped (%s); next check in %ss", reason, delay)
    return CycleRun(cycle=cycle, next_run_in_seconds=delay)


from .tick import proactive_tick  # noqa: E402  (the tick calls cycle_run; it moved to tick.py)

__all__ = ["CycleRun", "Reason", "cycle_run", "proactive_tick"]
