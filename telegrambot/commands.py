"""The Master's commands: what each does and the text of its reply.

`command_reply(name=..., args=..., actor=...)` runs one command (sync, ORM allowed) and
returns the reply; no model is ever called. Bad arguments and refused transitions come
back as a one-line usage or error message, never an exception.
"""

from collections.abc import Callable
from dataclasses import dataclass

from actions.errors import TaskInvalid
from actions.models import TaskSource
from actions.selectors import task_list_open, tasks_count_open
from actions.models import TITLE_MAX_CHARS
from actions.services import task_create
from agentsite.core.errors import ApplicationError
from budget.pricing import money_text
from budget.selectors import budget_cost, budget_stats
from decisions.agent import agent_pause, agent_resume
from decisions.approvals import approval_answer, approval_approve, approval_approve_text, approval_reject
from decisions.models import ApprovalKind, ApprovalStatus, Surface
from decisions.policy import action_policy_line, action_policy_read
from decisions.selectors import approval_list
from memory.search import memory_search
from memory.selectors import memory_recent
from memory.shaping import memory_archive, memory_pin

from . import schedule_commands
from .status import status_text

LIST_LIMIT = 20
MEMORY_DEFAULT = 5
MEMORY_MAX = 20
LINE_CHARS = 300


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    run: Callable[[str, str], str]  # (args, actor) -> reply


class UsageError(Exception):
    """Bad arguments: the reply is the command's usage line."""


# --- the commands ---------------------------------------------------------------------------


def _status(args: str, actor: str) -> str:
    return status_text()


def _budget(args: str, actor: str) -> str:
    stats = budget_stats()
    p = stats["proactive"]
    usage = stats["token_usage_today"]
    return "\n".join([
        f"Budget for {stats['date']} (UTC day)",
        (f"Proactive: {usage['proactive']:,} used, {p['reserved']:,} reserved, of {p['limit']:,} "
         f"({p['usage_ratio']:.1%})"),
        f"Remaining: {p['remaining']:,}",
        f"Level: {p['level']}",
        f"Reactive (chat): {usage['reactive']:,} used (recorded, not limited)",
        *_cost_lines(p),
    ])


def _cost_lines(p: dict) -> list[str]:
    """Today's and this month's estimated cost, and the daily cost limit when set."""
    cost = budget_cost()
    today, month = cost["today"], cost["this_month"]
    lines = [
        f"Cost today (est.): {money_text(today['total'])} "
        f"(proactive {money_text(today['proactive'])}, chat {money_text(today['reactive'])})",
        f"Cost this month ({cost['month']}): {money_text(month['total'])}",
    ]
    if p["cost_limit_micros"] is not None:
        lines.append(f"Daily cost limit: {money_text(p['cost_used_micros'])} of {money_text(p['cost_limit_micros'])} "
                     f"used, {money_text(p['cost_remaining_micros'])} left")
    return lines


def _tasks(args: str, actor: str) -> str:
    tasks = task_list_open(limit=LIST_LIMIT)
    if not tasks:
        return "No open tasks. Add one with /task <what to do>."
    total = tasks_count_open()
    lines = [f"Open tasks ({total}{f', first {len(tasks)}' if total > len(tasks) else ''}):"]
    lines += [f"#{t.pk} [p{t.priority}] {_short(t.title)} ({t.status})" for t in tasks]
    return "\n".join(lines)


def _task(args: str, actor: str) -> str:
    text = args.strip()
    if not text:
        raise UsageError
    first, _, rest = text.partition("\n")
    title = " ".join(first.split())
    description = rest.strip()
    if len(title) > TITLE_MAX_CHARS:  # keep every word: the full text becomes the description
        title, description = title[: TITLE_MAX_CHARS - 1] + "…", text
    try:
        task = task_create(title=title, description=description, source=TaskSource.TELEGRAM)
    except TaskInvalid as exc:
        return f"Not added: {exc.message}"
    return f"Added task #{task.pk}: {task.title}"


def _approvals(args: str, actor: str) -> str:
    approvals = approval_list(status=ApprovalStatus.PENDING, limit=LIST_LIMIT)
    if not approvals:
        return "No pending approvals."
    lines = [f"Pending approvals ({len(approvals)}):"]
    for a in approvals:
        what = f"decision: {a.action}" if a.kind == ApprovalKind.DECISION else f"question: {_short(a.question, 200)}"
        lines.append(f"#{a.pk} {what} (expires {a.expires_at:%Y-%m-%d %H:%M} UTC)")
    lines.append("Decide with /approve <id>, /edit <id> <new text>, /reject <id> [feedback] or /answer <id> <text>.")
    return "\n".join(lines)


def _approve(args: str, actor: str) -> str:
    approval_id, _ = _id_and_rest(args)
    approval_approve(approval_id=approval_id, by=actor, via=Surface.TELEGRAM)
    return f"Approved #{approval_id}; it will be carried out shortly."


def _reject(args: str, actor: str) -> str:
    approval_id, feedback = _id_and_rest(args)
    approval_reject(approval_id=approval_id, by=actor, via=Surface.TELEGRAM, feedback=feedback)
    return f"Rejected #{approval_id}" + (" (your feedback is the agent's guidance next cycle)." if feedback else ".")


def _edit(args: str, actor: str) -> str:
    approval_id, text = _id_and_rest(args)
    if not text:
        raise UsageError
    approval = approval_approve_text(approval_id=approval_id, text=text, by=actor, via=Surface.TELEGRAM)
    return f"Edited and approved #{approval_id} ({approval.action}); it will be carried out shortly."


def _answer(args: str, actor: str) -> str:
    approval_id, text = _id_and_rest(args)
    if not text:
        raise UsageError
    approval_answer(approval_id=approval_id, answer=text, by=actor, via=Surface.TELEGRAM)
    return f"Answered #{approval_id}. Thank you."


def _pause(args: str, actor: str) -> str:
    agent_pause()
    return "Paused: no proactive cycles until /resume. Chat and commands still work."


def _resume(args: str, actor: str) -> str:
    agent_resume()
    return "Resumed: the next cycle starts within a minute."


def _memory(args: str, actor: str) -> str:
    """`/memory` or `/memory n`: the newest entries; `/memory words`: a full-text search."""
    words = args.split()
    if len(words) == 1 and _is_number(words[0].removeprefix("-")):
        if not _is_number(words[0]) or not 1 <= int(words[0]) <= MEMORY_MAX:
            raise UsageError
        entries, head = memory_recent(limit=int(words[0])), "Recent memory"
    elif words:
        entries = memory_search(query=args, limit=MEMORY_MAX)
        if not entries:
            return f"Nothing in memory matches \"{_short(args, 60)}\"."
        head = f"Memory matching \"{_short(args, 60)}\""
    else:
        entries, head = memory_recent(limit=MEMORY_DEFAULT), "Recent memory"
    if not entries:
        return "Memory is empty so far."
    lines = [f"{head} ({len(entries)}):"]
    lines += [f"#{e.pk} [{e.created_at:%m-%d %H:%M}] {e.kind}{' (pinned)' if e.pinned else ''}: {_short(e.content)}"
              for e in entries]
    return "\n".join(lines)


def _policy(args: str, actor: str) -> str:
    lines = [action_policy_line(policy) for policy in action_policy_read()]
    return "\n".join(["Action policy (change it in the admin or the API):", *lines])


def _pin(args: str, actor: str) -> str:
    entry_id, rest = _id_and_rest(args)
    if rest:
        raise UsageError
    memory_pin(entry_id=entry_id, by=actor, via=Surface.TELEGRAM)
    return f"Pinned memory #{entry_id}: it is in every prompt until you /forget it."


def _forget(args: str, actor: str) -> str:
    entry_id, rest = _id_and_rest(args)
    if rest:
        raise UsageError
    memory_archive(entry_id=entry_id, by=actor, via=Surface.TELEGRAM)
    return f"Archived memory #{entry_id}: out of the prompt (restorable in the admin or the API)."


def _help(args: str, actor: str) -> str:
    lines = ["I am your agent. Write to me to chat; reply to a question of mine to answer it.", "Commands:"]
    lines += [f"/{c.name}{f' {c.usage}' if c.usage else ''} - {c.summary}" for c in COMMANDS.values() if c.name != "start"]
    return "\n".join(lines)


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in [
        Command("status", "", "paused or running, the last cycle, the budget", _status),
        Command("budget", "", "today's token usage and cost, and what is left", _budget),
        Command("tasks", "", "open tasks", _tasks),
        Command("task", "<text>", "add a task (first line: title)", _task),
        Command("approvals", "", "approvals waiting for you", _approvals),
        Command("approve", "<id>", "approve a decision", _approve),
        Command("edit", "<id> <new text>", "replace a decision's message, then approve it", _edit),
        Command("reject", "<id> [feedback]", "reject a decision or question (feedback guides the agent)", _reject),
        Command("answer", "<id> <text>", "answer a question", _answer),
        Command("pause", "", "stop proactive cycles", _pause),
        Command("resume", "", "start them again", _resume),
        Command("memory", f"[n, 1-{MEMORY_MAX} | words]",
                f"the last n memory entries (default {MEMORY_DEFAULT}), or those matching the words", _memory),
        Command("pin", "<id>", "keep a memory entry in every prompt", _pin),
        Command("forget", "<id>", "archive a memory entry (out of the prompt)", _forget),
        Command("every", schedule_commands.EVERY_USAGE, "a schedule of yours (cron or words, UTC)",
                schedule_commands.every),
        Command("schedules", "", "your schedules, with ids and next runs", schedule_commands.schedules),
        Command("unschedule", "<id>", "remove a schedule", schedule_commands.unschedule),
        Command("policy", "", "which actions act alone, ask or are disabled", _policy),
        Command("help", "", "this list", _help),
        Command("start", "", "this list", _help),
    ]
}


def command_reply(*, name: str, args: str, actor: str) -> str:
    """Run the command `name` (without the slash) with its argument text."""
    command = COMMANDS.get(name.lower())
    if command is None:
        return unknown_command_text(name)
    try:
        return command.run(args or "", actor)
    except UsageError:
        return f"Usage: /{command.name} {command.usage}".rstrip()
    except ApplicationError as exc:
        return _sentence(exc.message) + "."


def unknown_command_text(name: str) -> str:
    return f"Unknown command /{name[:40]}. /help lists what I understand."


# --- helpers -------------------------------------------------------------------------------


def _id_and_rest(args: str) -> tuple[int, str]:
    """'12 some reason' -> (12, 'some reason'); '#12' works too; UsageError otherwise."""
    parts = args.strip().split(maxsplit=1)
    if not parts:
        raise UsageError
    head = parts[0].removeprefix("#")
    if not _is_number(head) or not 0 < int(head) < 2**63:
        raise UsageError
    return int(head), (parts[1].strip() if len(parts) > 1 else "")


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _short(text: str, limit: int = LINE_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:]
