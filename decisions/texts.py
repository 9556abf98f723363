"""What the Master reads: plain-text messages built from approvals, decisions and results."""

import json

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


def approval_request_text(approval: Approval) -> str:
    d = approval.payload
    return (
        f"Approval needed (#{approval.pk}): {approval.action}\n"
        f"certainty {float(d.get('certainty', 0)):.2f}, significance {float(d.get('significance', 0)):.2f}\n"
        f"Why: {str(d.get('reasoning', ''))[:800]}\n"
        f"Details:\n{_details(d.get('details', {}))}\n"
        f"Expires {approval.expires_at:%Y-%m-%d %H:%M} UTC. /approve {approval.pk} or /reject {approval.pk} [reason]"
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
    return (
        f"Proactive budget exhausted for {stats['date']}: {p['used']:,} of {p['limit']:,} tokens used. "
        f"Meditating until {resume_at:%Y-%m-%d %H:%M} UTC; chat still works."
    )
