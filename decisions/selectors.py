"""Decision-side reads: the working memory a prompt is built from, the agent's status,
approvals. Each query is bounded, so cost and prompt size stay flat as history grows."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID

from django.db import connection
from django.db.models import Exists, F, Func, Q, Subquery, Value
from django.db.models.functions import Coalesce

from actions.models import OPEN_STATUSES, Task
from actions.selectors import task_list_open_brief, tasks_count_open
from agentsite.core.clock import utc_day_start, utc_now, utc_today
from agentsite.core.compiled import rows_compiled
from budget.models import Scope
from budget.selectors import budget_counter_subquery, budget_proactive, budget_stats, budget_stats_from
from memory.models import MemoryEntry, MemoryKind
from memory.prompting import PromptMemory, memory_for_prompt, memory_relevant, relevance_words
from memory.selectors import (
    memory_current_focus, memory_last_aroma, memory_latest_subquery, memory_recent,
)

from .errors import ApprovalNotFound, CycleNotFound
from .models import AgentState, Approval, ApprovalStatus, Cycle, CycleStatus
from .pacing import DaySpend
from .policy import policy_current, policy_for_version
from .prompts import PromptContext

PROMPT_ACTIONS = 6
PROMPT_MEMORIES = 6
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


# The cycles that read a prompt: not skipped ones, nor the daily memory consolidation.
_NOT_DECIDING = {"trigger": "consolidation"}


def _last_cycle_start() -> datetime | None:
    last = Cycle.objects.exclude(status=CycleStatus.SKIPPED).exclude(**_NOT_DECIDING).order_by("-started_at").first()
    return last.started_at if last else None


ANSWER_KINDS = [MemoryKind.GUIDANCE, MemoryKind.OUTCOME]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CycleView:
    """What a cycle reads before it starts, in one SELECT (`cycle_view_read`): the agent's
    state, the scalar parts of the prompt's context, today's proactive budget and the
    counts that say which list reads are needed at all."""

    paused: bool
    consecutive_failures: int
    day: date
    used: int  # today's proactive tokens settled
    reserved: int  # ... and held by open reservations
    used_cost: int  # today's proactive cost settled, micro-dollars
    reserved_cost: int  # ... and the open reservations' cost bounds
    cycles_today: int  # non-skipped cycles started today (pacing's cost estimate)
    focus: str
    aroma: str
    last_cycle_start: datetime | None
    any_running: bool  # a cycle row still `running` (one a dead process left)
    any_pending_approval: bool
    any_new_answer: bool  # guidance or an outcome since the last cycle started
    policy_version: UUID | None = None  # AgentState.policy_version: the policy is re-read when it moves

    @property
    def budget(self) -> dict:
        return budget_proactive(
            used=self.used, reserved=self.reserved, used_cost=self.used_cost, reserved_cost=self.reserved_cost
        )


def cycle_view_read(*, now: datetime | None = None) -> CycleView | None:
    """The one read a cycle starts from; None before the agent's state row exists."""
    day = (now or utc_now()).date()
    # Compiled once a day: building and compiling its ten subqueries costs the ORM some 30
    # times what running them costs the database.
    rows, compiler = rows_compiled(("decisions.cycle_view", day), lambda: _cycle_view_query(day), most=1)
    if not rows:
        return None
    query = compiler.query
    names = [*query.extra_select, *query.values_select, *query.annotation_select]
    row = dict(zip(names, rows[0], strict=True))
    return CycleView(
        paused=row["paused"], consecutive_failures=row["consecutive_failures"], day=day,
        used=row["used"], reserved=row["reserved"], cycles_today=row["cycles_today"],
        used_cost=row["used_cost"], reserved_cost=row["reserved_cost"],
        focus=row["focus"] or "", aroma=row["aroma"] or "", last_cycle_start=row["last_start"],
        any_running=bool(row["any_running"]), any_pending_approval=bool(row["any_pending"]),
        any_new_answer=any(
            (at := row[f"answered_{kind}"]) is not None and at > (row["last_start"] or _EPOCH) for kind in ANSWER_KINDS
        ),
        policy_version=row["policy_version"],
    )


def _cycle_view_query(day: date):
    """The view's query for one UTC day. It depends on nothing else: a pending approval
    counts whatever its deadline (`approval_list` then applies the expiry rule)."""
    last_start = (Cycle.objects.exclude(status=CycleStatus.SKIPPED).exclude(**_NOT_DECIDING)
                  .order_by("-started_at").values("started_at")[:1])
    cycles_today = _cycles_since(utc_day_start(day)).order_by().annotate(n=Func(F("pk"), function="COUNT"))
    return (
        AgentState.objects.filter(pk=AgentState.SINGLETON_ID)
        .annotate(
            used=budget_counter_subquery(field="used", day=day),
            reserved=budget_counter_subquery(field="reserved", day=day),
            used_cost=budget_counter_subquery(field="used_cost_micros", day=day),
            reserved_cost=budget_counter_subquery(field="reserved_cost_micros", day=day),
            cycles_today=Coalesce(Subquery(cycles_today.values("n")), Value(0)),
            focus=memory_latest_subquery(kind=MemoryKind.FOCUS),
            aroma=memory_latest_subquery(kind=MemoryKind.AROMA),
            last_start=Subquery(last_start),
            any_running=Exists(Cycle.objects.filter(status=CycleStatus.RUNNING)),
            any_pending=Exists(Approval.objects.filter(status=ApprovalStatus.PENDING)),
            # Each kind's newest (one index row each): "any answer since" with a bound that
            # is itself a subquery would have PostgreSQL scan every memory.
            **{f"answered_{kind}": memory_latest_subquery(kind=kind, field="created_at") for kind in ANSWER_KINDS},
        )
        .values("paused", "consecutive_failures", "policy_version", "used", "reserved", "used_cost", "reserved_cost",
                "cycles_today", "focus", "aroma", "last_start", "any_running", "any_pending",
                *(f"answered_{kind}" for kind in ANSWER_KINDS))
        .order_by()[:1]
    )


def prompt_context_gather(*, now: datetime | None = None, view: CycleView | None = None) -> PromptContext:
    """The prompt's context. Given the cycle's `view`, its scalars come from there and the
    lists it says are empty are not read."""
    now = now or utc_now()
    if view is None:
        stats = budget_stats()["proactive"]
        focus, aroma, since = memory_current_focus(), memory_last_aroma(), _last_cycle_start()
        read_approvals = read_answers = True
        policy = policy_current()
    else:
        stats, focus, aroma, since = view.budget, view.focus, view.aroma, view.last_cycle_start
        read_approvals, read_answers = view.any_pending_approval, view.any_new_answer
        policy = policy_for_version(view.policy_version)
    approvals = approval_list(status=ApprovalStatus.PENDING, limit=PROMPT_APPROVALS) if read_approvals else []
    answers = memory_recent(kinds=ANSWER_KINDS, limit=PROMPT_ANSWERS, since=since) if read_answers else []
    tasks = task_list_open_brief(limit=PROMPT_TASKS)
    memory = memory_for_prompt(actions=PROMPT_ACTIONS)
    return PromptContext(
        recent_actions=memory.recent_actions,
        memories=_memories(memory, focus=focus, tasks=tasks),
        active_tasks=tasks,
        focus=focus,
        open_approvals=[
            {"id": a.pk, "kind": a.kind, "action": a.action, "question": a.question, "status": a.status,
             "expires_at": a.expires_at.isoformat()}
            for a in approvals
        ],
        answers=[e.content for e in answers],
        aroma=aroma,
        budget={k: stats[k] for k in ("used", "limit", "usage_ratio", "remaining", "level")},
        now=now,
        policy=policy,
    )


def _memories(memory: PromptMemory, *, focus: str, tasks: list[dict]) -> list[str]:
    """The pinned entries, then those of the pool most relevant to the focus and the open
    tasks, as the prompt's lines (`#id (pinned) text` / `#id [kind] text`)."""
    pinned = memory.pinned[:PROMPT_MEMORIES]
    words = relevance_words(focus, *(f"{t.get('title') or ''} {t.get('description') or ''}" for t in tasks))
    relevant = memory_relevant(pool=memory.pool, words=words, limit=PROMPT_MEMORIES - len(pinned))
    return ([f"#{pk} (pinned) {content}" for pk, _, content, *_ in pinned]
            + [f"#{pk} [{kind}] {content}" for pk, kind, content, *_ in relevant])


def _cycles_since(since: datetime):
    return Cycle.objects.filter(started_at__gte=since).exclude(status=CycleStatus.SKIPPED)


def cycles_today_count() -> int:
    return _cycles_since(utc_day_start(utc_today())).count()


def pacing_day_spend() -> DaySpend:
    """What pacing needs, read once: today's proactive spend, its cycles, the time of day."""
    now = utc_now()
    stats = budget_stats(day=now.date())["proactive"]
    return _day_spend(
        spent=stats["used"] + stats["reserved"], used=stats["used"], limit=stats["limit"],
        cost_spent=stats["cost_used_micros"] + stats["cost_reserved_micros"], cost_used=stats["cost_used_micros"],
        cost_limit=stats["cost_limit_micros"], cycles=cycles_today_count(), now=now,
    )


def pacing_day_spend_after(
    *, view: CycleView, spent_since: int, cost_since: int = 0, now: datetime | None = None
) -> DaySpend:
    """`pacing_day_spend` at a cycle's end without reading again: the view's spend plus what
    the cycle's own calls spent since (`spent_since` tokens, `cost_since` micro-dollars), its
    cycles plus this one. Read afresh when the UTC day turned meanwhile."""
    now = now or utc_now()
    if now.date() != view.day:
        return pacing_day_spend()
    budget = view.budget
    return _day_spend(
        spent=view.used + view.reserved + spent_since, used=view.used + spent_since, limit=budget["limit"],
        cost_spent=view.used_cost + view.reserved_cost + cost_since, cost_used=view.used_cost + cost_since,
        cost_limit=budget["cost_limit_micros"], cycles=view.cycles_today + 1, now=now,
    )


def _day_spend(
    *, spent: int, used: int, limit: int, cost_spent: int, cost_used: int, cost_limit: int | None, cycles: int,
    now: datetime,
) -> DaySpend:
    """Pacing paces by the limit that binds: under a daily cost limit spent faster than the
    token limit, the spend is the cost's share of its limit, in tokens of the token limit."""
    if cost_limit and cost_spent * limit > spent * cost_limit:
        spent, used = -(-cost_spent * limit // cost_limit), -(-cost_used * limit // cost_limit)
    return DaySpend(
        spent=spent, used=used, limit=limit, cycles=cycles, elapsed=(now - utc_day_start(now.date())).total_seconds(),
    )


def agent_state_read() -> AgentState:
    """The state without writing it (a GET must not create rows): defaults until first saved."""
    return AgentState.objects.filter(pk=AgentState.SINGLETON_ID).first() or AgentState()


# The counter fields budget_stats_from needs, read as subqueries of the status query.
_BUDGET_FIELDS = (
    (Scope.PROACTIVE, "used"), (Scope.PROACTIVE, "reserved"), (Scope.PROACTIVE, "used_cost_micros"),
    (Scope.PROACTIVE, "reserved_cost_micros"), (Scope.REACTIVE, "used"), (Scope.REACTIVE, "used_cost_micros"),
)
_STATUS_NOW = datetime(2000, 1, 1, 0, 0, 0, 424242, tzinfo=UTC)  # "now" in the compiled status query
_LAST_FIELDS = ("id", "status", "reason", "action", "result")


def _status_query(day: date, with_budget: bool):
    """agent_status's one query, for one UTC day; `_STATUS_NOW` stands for the time of each run."""
    last_cycle = Cycle.objects.order_by("-started_at", "-id")
    pending = (Approval.objects.filter(approval_status_q(status=ApprovalStatus.PENDING, now=_STATUS_NOW)).order_by()
               .annotate(n=Func(F("id"), function="COUNT")).values("n"))
    open_tasks = (Task.objects.filter(status__in=OPEN_STATUSES).order_by()
                  .annotate(n=Func(F("id"), function="COUNT")).values("n"))
    budget = {f"budget_{scope}_{field}": budget_counter_subquery(field=field, day=day, scope=scope)
              for scope, field in (_BUDGET_FIELDS if with_budget else ())}
    annotations = {"pending_approvals": Subquery(pending[:1]), "open_tasks": Subquery(open_tasks[:1]),
                   **{f"last_{f}": Subquery(last_cycle.values(f)[:1]) for f in _LAST_FIELDS}, **budget}
    return (AgentState.objects.filter(pk=AgentState.SINGLETON_ID).annotate(**annotations)
            .values("paused", "next_run_at", "last_cycle_at", "consecutive_failures", *annotations).order_by()[:1])


def agent_status(*, with_budget: bool = False) -> dict:
    """Paused or running, when the next and last cycles are (datetimes, or None), the last
    cycle's outcome, the failures in a row, the approvals waiting and the open tasks;
    `with_budget`: also today's `budget_stats` under "budget", read in the same query.

    One query: the state row with the last cycle, the two counts (and the budget) as
    subqueries (a /status reply reads it), its SQL compiled once a day (building it costs
    the ORM several times what running it costs the database); before the state is first
    saved, its defaults and a few reads."""
    now, ops = utc_now(), connection.ops
    rows, compiler = rows_compiled(("decisions.agent_status", now.date(), with_budget),
                                   lambda: _status_query(now.date(), with_budget), most=1,
                                   bind={ops.adapt_datetimefield_value(_STATUS_NOW): ops.adapt_datetimefield_value(now)})
    if not rows:  # never saved yet
        return _status_unsaved(with_budget=with_budget)
    query = compiler.query
    row = dict(zip([*query.extra_select, *query.values_select, *query.annotation_select], rows[0], strict=True))
    extra = {}
    if with_budget:
        counters: dict = {}
        for scope, field in _BUDGET_FIELDS:
            counters.setdefault(scope, {})[field] = row[f"budget_{scope}_{field}"]
        extra["budget"] = budget_stats_from(day=now.date(), counters=counters)
    last = None if row["last_id"] is None else {f: row[f"last_{f}"] for f in _LAST_FIELDS}
    return extra | _status_dict(row, last, pending=row["pending_approvals"] or 0, open_tasks=row["open_tasks"] or 0)


def _status_unsaved(*, with_budget: bool) -> dict:
    state, cycle = AgentState(), Cycle.objects.order_by("-started_at", "-id").first()
    row = {"paused": state.paused, "next_run_at": state.next_run_at, "last_cycle_at": state.last_cycle_at,
           "consecutive_failures": state.consecutive_failures}
    last = None if cycle is None else {"id": cycle.pk, **{f: getattr(cycle, f) for f in _LAST_FIELDS[1:]}}
    status = _status_dict(row, last, pending=approval_list(status=ApprovalStatus.PENDING).count(),
                          open_tasks=tasks_count_open())
    return ({"budget": budget_stats()} if with_budget else {}) | status


def _status_dict(row: dict, last: dict | None, *, pending: int, open_tasks: int) -> dict:
    return {
        "paused": row["paused"],
        "next_cycle_at": row["next_run_at"],
        "last_cycle_at": row["last_cycle_at"],
        "consecutive_failures": row["consecutive_failures"],
        "last_cycle": None if last is None else {
            "id": last["id"], "status": last["status"], "reason": last["reason"], "action": last["action"],
            "result_status": (last["result"] or {}).get("status"),
        },
        "pending_approvals": pending,
        "open_tasks": open_tasks,
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
