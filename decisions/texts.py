"""What the Master reads: plain-text messages built from approvals, decisions and results."""

import json

from budget.pricing import money_text

from .approval_edits import editable_text_field
from .models import Approval


# What would leave the house is shown whole: the Master approves exactly what is sent.
_SHOWN_WHOLE = {"message", "question", "chat_id", "recipient"}


def _details(details: dict) -> str:
    lines = []
    for key, value in (details or {}).items():
        if value in (None, "", []):
            continue
        text = str(value)
        if key not in _SHOWN_WHOLE and len(text) > 300:
            text = text[:300] + "…"
        lines.append(f"  {key}: {text}")
    return "\n".join(lines)


# The detail that says best what a decision wants, by the action's schema (first present wins).
_GIST_FIELDS = ("message", "question", "task_title", "title", "skill_name", "reflection_topic", "approach")
GIST_MAX = 80


def approval_gist(approval: Approval, *, limit: int = GIST_MAX) -> str:
    """One line on what an approval asks: a decision's message (or other telling detail,
    else its reasoning), a question's text; cut to `limit` characters."""
    if approval.kind == "question":
        text = approval.question
    else:
        details = (approval.payload or {}).get("details") or {}
        text = next((str(details[k]) for k in _GIST_FIELDS if details.get(k)), "")
        text = text or str((approval.payload or {}).get("reasoning", ""))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def approval_request_text(approval: Approval) -> str:
    d = approval.payload
    return (
        f"Approval needed (#{approval.pk}): {approval.action}\n"
        f"certainty {float(d.get('certainty', 0)):.2f}, significance {float(d.get('significance', 0)):.2f}\n"
        f"Why: {str(d.get('reasoning', ''))[:800]}\n"
        f"Details:\n{_details(d.get('details', {}))}\n"
        f"Expires {approval.expires_at:%Y-%m-%d %H:%M} UTC. /approve {approval.pk}"
        + (f", /edit {approval.pk} <new {field}>" if (field := editable_text_field(approval.action)) else "")
        + f" or /reject {approval.pk} [feedback]"
    )


def question_text(approval: Approval) -> str:
    context = approval.payload.get("context") or ""
    text = f"Question from the agent (#{approval.pk}):\n{approval.question}"
    if context:
        text += f"\n\nContext: {context}"
    if approval.options:
        text += "\n\nOptions: " + " | ".join(approval.options)
    return text + f"\n\nReply to this message or use /answer {approval.pk} <text>."


def expired_text(approval: Approval) -> str:
    what = approval.action if approval.kind == "decision" else f"question: {approval.question[:200]}"
    return f"Approval #{approval.pk} expired unanswered ({what}). The agent will carry on without it."


def significant_result_text(*, action: str, decision: dict, result: dict) -> str:
    summary = result.get("summary") or json.dumps(result, default=str)[:800]
    return (
        f"Significant result: {action} ({result.get('status')})\n{summary}\n"
        f"Why it mattered: {str(decision.get('reasoning', ''))[:500]}"
    )


def budget_exhausted_text(*, stats: dict, resume_at) -> str:
    p = stats["proactive"]
    spent = ""
    if p.get("cost_limit_micros") is not None:  # the daily cost limit may be what ran out
        spent = f" {money_text(p['cost_used_micros'])} of {money_text(p['cost_limit_micros'])} spent."
    return (
        f"Proactive budget exhausted for {stats['date']}: {p['used']:,} of {p['limit']:,} tokens used.{spent} "
        f"Meditating until {resume_at:%Y-%m-%d %H:%M} UTC; chat still works."
    )
