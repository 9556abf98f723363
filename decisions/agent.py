"""The agent's singleton state: pause flag, schedule, and the cross-process cycle lock."""

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from agentsite.core.clock import utc_now
from agentsite.core.deadlines import longest_call
from agentsite.core.tasks import task_enqueue

from .errors import QueueUnavailable
from .models import AgentState

logger = logging.getLogger(__name__)


def agent_state_get() -> AgentState:
    state, _ = AgentState.objects.get_or_create(pk=AgentState.SINGLETON_ID)
    return state


@transaction.atomic
def agent_pause() -> AgentState:
    state = agent_state_get()
    AgentState.objects.filter(pk=state.pk).update(paused=True, updated_at=utc_now())
    state.refresh_from_db()
    return state


@transaction.atomic
def agent_resume() -> AgentState:
    """Resume and make the next tick run a cycle straight away."""
    state = agent_state_get()
    AgentState.objects.filter(pk=state.pk).update(paused=False, next_run_at=utc_now(), updated_at=utc_now())
    state.refresh_from_db()
    return state


# Beyond its two model calls, time for the cycle's own work (prompt, memory, outbox).
CYCLE_LOCK_MARGIN = timedelta(minutes=2)


def cycle_lock_ttl() -> timedelta:
    # A cycle makes at most two model calls (the decision and work_on_task's own), each ended
    # by its hard deadline (longest_call). Never shorter than Django-Q2's task timeout, so a
    # worker is killed before its lock can lapse. The budget doesn't rely on this lock
    # (reservations guard it); it only keeps cycles single-file.
    calls = longest_call() * 2 + CYCLE_LOCK_MARGIN
    return max(calls, timedelta(seconds=getattr(settings, "Q_TASK_TIMEOUT_SECONDS", 0)))


def cycle_lock_acquire(*, state_exists: bool = False) -> uuid.UUID | None:
    """Claim the single-flight lock with one conditional UPDATE (atomic on every backend).

    Returns the token when claimed, None when another live cycle holds it. A lock whose
    holder crashed expires after `cycle_lock_ttl()` and can be claimed again.
    `state_exists`: the caller has just read the state row, so it is not made first.
    """
    if not state_exists:
        agent_state_get()
    token = uuid.uuid4()
    now = utc_now()
    claimed = AgentState.objects.filter(pk=AgentState.SINGLETON_ID).filter(
        Q(lock_token__isnull=True) | Q(lock_expires_at__lt=now)
    ).update(lock_token=token, lock_expires_at=now + cycle_lock_ttl(), tick_waiting_for=None)
    return token if claimed else None


def cycle_lock_release(*, token: uuid.UUID) -> None:
    AgentState.objects.filter(pk=AgentState.SINGLETON_ID, lock_token=token).update(
        lock_token=None, lock_expires_at=None
    )


def agent_schedule(
    *, next_run_at: datetime, last_cycle_at: datetime | None = None, failures: int | None = None,
    release: uuid.UUID | None = None,
) -> None:
    """Set the next run (and the last cycle's time, the failures in a row). `release`: the
    cycle lock's token, released in the same UPDATE if it still holds the lock."""
    fields = {"next_run_at": next_run_at, "updated_at": utc_now()}
    if last_cycle_at is not None:
        fields["last_cycle_at"] = last_cycle_at
    if failures is not None:
        fields["consecutive_failures"] = failures
    rows = AgentState.objects.filter(pk=AgentState.SINGLETON_ID)
    if release is not None and rows.filter(lock_token=release).update(**fields, lock_token=None, lock_expires_at=None):
        return
    rows.update(**fields)  # no lock to free (or it ran out and another cycle holds it now)


def agent_schedule_not_before(*, at: datetime) -> None:
    """Move the next cycle to `at` unless it is already due later (an approved action's
    meditation, or the API's retry-after met by its call, outside any cycle's pacing)."""
    AgentState.objects.filter(pk=AgentState.SINGLETON_ID).filter(
        Q(next_run_at__isnull=True) | Q(next_run_at__lt=at)
    ).update(next_run_at=at, updated_at=utc_now())


def cycle_request_now() -> str:
    """Queue a cycle for a worker to run now (it still honours pause, lock and budget)."""
    try:
        return task_enqueue("decisions.run_cycle_now", task_name="cycle-on-request")
    except Exception as exc:
        logger.warning("Could not queue a cycle: %s", type(exc).__name__)
        raise QueueUnavailable("The task queue is unavailable; try again shortly") from None
