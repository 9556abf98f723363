"""The digest a Master's schedule sends: since the last one (or a day), in a few lines."""

from datetime import datetime, timedelta

from django.db.models import Count

from actions.selectors import tasks_finished_since
from budget.pricing import money_text
from budget.selectors import budget_cost, budget_stats

from .models import ApprovalKind, ApprovalStatus, Cycle, CycleStatus
from .selectors import approval_list
from .texts import approval_gist

DIGEST_DEFAULT_SINCE = timedelta(hours=24)
DIGEST_LIST = 5
DIGEST_APPROVALS = 10
DIGEST_HEADING = "Digest"


def _cycles_line(*, since: datetime) -> str:
    by_status = dict(
        Cycle.objects.filter(started_at__gte=since).values_list("status").annotate(n=Count("id")).order_by()
    )
    completed = by_status.get(CycleStatus.COMPLETED, 0) + by_status.get(CycleStatus.AWAITING_APPROVAL, 0)
    return (f"Cycles: {completed} completed, {by_status.get(CycleStatus.FAILED, 0)} failed, "
            f"{by_status.get(CycleStatus.SKIPPED, 0)} skipped.")


def _tasks_lines(*, since: datetime) -> list[str]:
    counts, latest = tasks_finished_since(since=since, limit=DIGEST_LIST)
    line = f"Tasks: {counts.get('done', 0)} done, {counts.get('failed', 0)} failed."
    return [line] + [f"  done #{t.pk}: {_short(t.title)}" for t in latest]


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _budget_line() -> str:
    stats = budget_stats()
    p = stats["proactive"]
    cost = budget_cost()
    return (f"Spent today: {p['used']:,} of {p['limit']:,} proactive tokens ({p['usage_ratio']:.0%}), "
            f"{stats['token_usage_today']['reactive']:,} in chat; "
            f"{money_text(cost['today']['total'])} (est.), {money_text(cost['this_month']['total'])} this month.")


def _approvals_lines() -> list[str]:
    waiting = approval_list(status=ApprovalStatus.PENDING, limit=DIGEST_APPROVALS)
    if not waiting:
        return ["Waiting on you: nothing."]
    lines = [f"Waiting on you: {len(waiting)}{'+' if len(waiting) == DIGEST_APPROVALS else ''}"]
    lines += [f"  #{a.pk} {_what(a)}: {approval_gist(a)}" for a in waiting]
    return lines + ["  /approvals to decide."]


def _what(approval) -> str:
    return "question" if approval.kind == ApprovalKind.QUESTION else approval.action


def digest_text(*, since: datetime | None, now: datetime, heading: str = "") -> str:
    """The digest since `since` (the last one; None: the last 24 h) up to `now`."""
    since = since or now - DIGEST_DEFAULT_SINCE
    title = " ".join((heading or DIGEST_HEADING).split())
    lines = [f"{title} (since {since:%Y-%m-%d %H:%M} UTC)"]
    lines.append(_cycles_line(since=since))
    lines += _tasks_lines(since=since)
    lines.append(_budget_line())
    lines += _approvals_lines()
    return "\n".join(lines)
