"""Decision-side reads: the working memory a prompt is built from, the agent's status,
approvals. Each query is bounded, so cost and prompt size stay flat as history grows."""

from datetime import datetime

from django.db.models import Q

from actions.selectors import task_list_open
from agentsite.core.clock import utc_day_start, utc_now, utc_today
from budget.selectors import budget_stats
from memory.models import MemoryKind
from memory.selectors import memory_current_focus, memory_last_aroma, memory_recent, memory_recent_actions

from .errors import ApprovalNotFound, CycleNotFound
from .models import AgentState, Approval, ApprovalStatus, Cycle, CycleStatus
from .pacing import DaySpend
from .prompts import PromptContext

PROMPT_ACTIONS = 10
PROMPT_TASKS = 15
PROMPT_APPROVALS = 10
PROMPT_ANSWERS = 10


def approval_list(*, status: str | None = None, limit: int | None = None):
    """Approvals, newest first, by the status the Master sees (`approval_status_q`)."""
    qs = Approval.objects.select_related("cycle").all()
    if status:
        qs = qs.filter(approval_status_q(status=status))
    qs = qs.order_by("-created_at", "-id")
    return list(qs[:limit]) if limit else qs


# The expiry rule, in its two forms side by side: a pending approval past its deadline is
# expired (never decidable) even before the sweep has marked it.
def approval_status_q(*, status: str, now: datetime | None = None) -> Q:
    """The approvals whose effective status is `status`, as a query."""
    now = now or utc_now()
    if status == ApprovalStatus.PENDING:
        return Q(status=ApprovalStatus.PENDING, expires_at__gt=now)
    if status == ApprovalStatus.EXPIRED:
        return Q(status=ApprovalStatus.EXPIRED) | Q(status=ApprovalStatus.PENDING, expires_at__lte=now)
    return Q(status=status)


def approval_effective_status(approval: Approval) -> str:
    """One approval's effective status (the same rule as `approval_status_q`)."""
    if approval.status == ApprovalStatus.PENDING and approval.expires_at <= utc_now():
        return ApprovalStatus.EXPIRED
    return approval.status


def _last_cycle_start() -> datetime | None:
    last = Cycle.objects.exclude(status=CycleStatus.SKIPPED).order_by("-started_at").first()
    return last.started_at if last else None


def prompt_context_gather(*, now: datetime | None = None) -> PromptContext:
    now = now or utc_now()
    stats = budget_stats()["proactive"]
    approvals = approval_list(status=ApprovalStatus.PENDING, limit=PROMPT_APPROVALS)
    since = _last_cycle_start()
    answers = memory_recent(kinds=[MemoryKind.GUIDANCE, MemoryKind.OUTCOME], limit=PROMPT_ANSWERS, since=since)
    return PromptContext(
        recent_actions=[e.content for e in memory_recent_actions(limit=PROMPT_ACTIONS)],
        active_tasks=[
            {"id": t.pk, "title": t.title, "priority": t.priority, "status": t.status, "description": t.description}
            for t in task_list_open(limit=PROMPT_TASKS)
        ],
        focus=memory_current_focus(),
        open_approvals=[
            {"id": a.pk, "kind": a.kind, "action": a.action, "question": a.question, "status": a.status,
             "expires_at": a.expires_at.isoformat()}
            for a in approvals
        ],
        answers=[e.content for e in answers],
        aroma=memory_last_aroma(),
        budget={k: stats[k] for k in ("used", "limit", "usage_ratio", "remaining", "level")},
        now=now,
    )


def cycles_today_count() -> int:
    since = utc_day_start(utc_today())
    return Cycle.objects.filter(started_at__gte=since).exclude(status=CycleStatus.SKIPPED).count()


def pacing_day_spend() -> DaySpend:
    """What pacing needs, read once: today's proactive spend, its cycles, the time of day."""
    now = utc_now()
    stats = budget_stats(day=now.date())["proactive"]
    return DaySpend(
        spent=stats["used"] + stats["reserved"], used=stats["used"], limit=stats["limit"],
        cycles=cycles_today_count(), elapsed=(now - utc_day_start(now.date())).total_seconds(),
    )


def agent_state_read() -> AgentState:
    """The state without writing it (a GET must not create rows): defaults until first saved."""
    return AgentState.objects.filter(pk=AgentState.SINGLETON_ID).first() or AgentState()


def agent_status() -> dict:
    """Paused or running, when the next and last cycles are (datetimes, or None), the last
    cycle's outcome, the failures in a row and the approvals waiting."""
    state = agent_state_read()
    last = Cycle.objects.order_by("-started_at", "-id").first()
    return {
        "paused": state.paused,
        "next_cycle_at": state.next_run_at,
        "last_cycle_at": state.last_cycle_at,
        "consecutive_failures": state.consecutive_failures,
        "last_cycle": None if last is None else {
            "id": last.pk, "status": last.status, "reason": last.reason, "action": last.action,
            "result_status": (last.result or {}).get("status"),
        },
        "pending_approvals": approval_list(status=ApprovalStatus.PENDING).count(),
    }


def cycle_browse():
    """Every cycle, newest first: a lazy queryset the caller filters and pages."""
    return Cycle.objects.order_by("-started_at", "-id")


def cycle_get(*, cycle_id: int) -> Cycle:
    cycle = Cycle.objects.filter(pk=cycle_id).first()
    if cycle is None:
        raise CycleNotFound(cycle_id=cycle_id)
    return cycle


def approval_get(*, approval_id: int) -> Approval:
    approval = Approval.objects.select_related("cycle").filter(pk=approval_id).first()
    if approval is None:
        raise ApprovalNotFound(f"approval #{approval_id} does not exist")
    return approval
