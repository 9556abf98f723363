"""Where the agent stands, in words: the one text behind the Master's /status reply and the
state summary the reactive chat gives Claude (`for_model=True`). Both say the same facts in
the same order (cycles paused or running, the last cycle, the budget, open work, failures
in a row); the model's version is a list, with the time and the current focus added.
"""

from datetime import datetime

from agentsite.core.clock import utc_now
from decisions.selectors import agent_status
from memory.selectors import memory_current_focus

FOCUS_CHARS = 300


def status_text(*, for_model: bool = False) -> str:
    """The agent's state now, for the Master (/status) or for the chat's system prompt."""
    status = agent_status(with_budget=True)  # one query, today's budget included
    stats = status["budget"]
    lines = [
        _cycles_line(status, for_model),
        _last_cycle_line(status, for_model),
        _budget_line(stats, for_model),
        (f"Open tasks: {status['open_tasks']}; "
         f"{'approvals waiting for the Master' if for_model else 'pending approvals'}: {status['pending_approvals']}"),
    ]
    if for_model:
        lines.insert(0, f"Time: {utc_now():%Y-%m-%d %H:%M} UTC")
        focus = memory_current_focus()
        if focus:
            lines.append(f"Current focus: {focus[:FOCUS_CHARS]}")
    if status["consecutive_failures"]:
        lines.append(f"Consecutive failed cycles: {status['consecutive_failures']}")
    return "\n".join(f"- {line}" for line in lines) if for_model else "\n".join(lines)


def _cycles_line(status: dict, for_model: bool) -> str:
    nxt: datetime | None = status["next_cycle_at"]
    if for_model:
        if status["paused"]:
            return "Proactive cycles: paused by the Master"
        return f"Proactive cycles: running{f'; next at {nxt:%Y-%m-%dT%H:%M} UTC' if nxt else ''}"
    if status["paused"]:
        return "Paused (no proactive cycles until /resume; chat still works)"
    return f"Running; next cycle {_when(nxt)}" if nxt else "Running; next cycle at the next tick"


def _last_cycle_line(status: dict, for_model: bool) -> str:
    last = status["last_cycle"]
    if last is None:
        return "Last cycle: none yet"
    if for_model:
        what = last["action"] or last["reason"] or "no action"
        result = f", result {last['result_status']}" if last["result_status"] else ""
        return f"Last cycle: #{last['id']} {last['status']}, {what}{result}"
    what = last["action"] or "no action"
    outcome = last["result_status"] or last["reason"] or "-"
    when = f" ({_when(status['last_cycle_at'])})" if status["last_cycle_at"] else ""
    return f"Last cycle #{last['id']}{when}: {last['status']}, {what}, result {outcome}"


def _budget_line(stats: dict, for_model: bool) -> str:
    p = stats["proactive"]
    if for_model:
        return (f"Proactive budget today: {p['used']:,} of {p['limit']:,} tokens used, level {p['level']}; "
                f"chat tokens today: {stats['token_usage_today']['reactive']:,}")
    return (f"Budget: {p['level']}, {p['used']:,} of {p['limit']:,} proactive tokens used today "
            f"({p['usage_ratio']:.0%}), {p['remaining']:,} left")


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"
