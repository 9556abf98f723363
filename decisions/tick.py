"""The every-minute tick: a cycle only when one is due, started on time."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from agentsite.core import clock
from agentsite.core.clock import utc_now
from agentsite.core.tasks import task_enqueue

from . import services
from .agent import agent_state_get
from .models import AgentState

logger = logging.getLogger(__name__)


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
    run = services.cycle_run(trigger="schedule")
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
