"""The proactive prompt: a constant, cacheable system prompt (the stable prefix, first)
plus a bounded working-memory message (the volatile part, after it). Pure: callers gather
the context (selectors) and pass it in.

Every section is capped in items and characters inside `prompt_build`, so the prompt's
size (and its token cost) stays flat however much history piles up.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from .rules import DEFAULT_POLICY, Policy
from .system_prompt import system_prompt_build, system_prompt_max_chars

ELLIPSIS = "…"
NONE = "- none"

# (items, characters per item) for each list section; characters for free-text sections.
# Pinned and relevant memory took its room from the recent actions (10 -> 6) and the
# answers (500 -> 490 characters): the bound (`_bound`) is no larger than before it.
RECENT_ACTIONS_CAP = (6, 300)
MEMORY_CAP = (6, 200)
TASKS_CAP = (15, 300)
APPROVALS_CAP = (10, 300)
ANSWERS_CAP = (10, 490)
FOCUS_MAX_CHARS = 1_000
AROMA_MAX_CHARS = 1_000
_VALUE_MAX_CHARS = 40  # one budget number, the time, a "(+N more)" count

# The stable part, first and cached (`decisions/system_prompt.py`): byte-identical every cycle.
SYSTEM_PROMPT = system_prompt_build()

# The volatile part ends with this short request; the format and the catalogue are above,
# in the cached system prompt.
_DECISION_REQUEST = """\
## Your decision
Choose exactly one action from the catalogue in your instructions, the most useful one \
for this moment, and fill its details. Reply with one JSON object with the fields \
"action", "reasoning", "certainty", "significance", "type" and "details", nothing else.
Reply with the JSON object only.
"""


@dataclass(frozen=True)
class PromptContext:
    """What the agent sees this cycle. Lists are most relevant first (newest actions and
    answers first, tasks in priority order): when a section is over its cap, the tail goes."""

    now: datetime
    recent_actions: list[str] = field(default_factory=list)
    memories: list[str] = field(default_factory=list)  # pinned entries first, then the most relevant
    active_tasks: list[dict] = field(default_factory=list)  # id, title, priority, status, description
    focus: str = ""
    open_approvals: list[dict] = field(default_factory=list)  # id, kind, action, question, status, expires_at
    answers: list[str] = field(default_factory=list)  # Master's answers, guidance, outcomes, expiries
    aroma: str = ""
    budget: dict = field(default_factory=dict)  # used, limit, usage_ratio, remaining, level
    policy: Policy = DEFAULT_POLICY  # the Master's per-action policy (part of the system prompt)


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str
    policy: Policy = DEFAULT_POLICY  # what the system prompt told the agent, and the router applies

    @property
    def size(self) -> int:
        return len(self.system) + len(self.user)


def prompt_build(*, context: PromptContext) -> Prompt:
    """The system prompt and this cycle's bounded working-memory message."""
    sections = [
        f"## Now\n{_clip(_when(context.now), _VALUE_MAX_CHARS)}",
        f"## Today's token budget (proactive)\n{_budget(context.budget)}",
        f"## Last cycle's aroma\n{_text(context.aroma, AROMA_MAX_CHARS)}",
        f"## Current focus\n{_text(context.focus, FOCUS_MAX_CHARS)}",
        "## Pinned and relevant memory\n" + _items(context.memories, MEMORY_CAP, str),
        "## Recent actions (newest first)\n" + _items(context.recent_actions, RECENT_ACTIONS_CAP, str),
        "## Active tasks\n" + _items(context.active_tasks, TASKS_CAP, _task),
        "## Open approvals and questions\n" + _items(context.open_approvals, APPROVALS_CAP, _approval),
        "## Answers and guidance since the last cycle\n" + _items(context.answers, ANSWERS_CAP, str),
        _DECISION_REQUEST,
    ]
    user = "\n\n".join(sections)
    # Only reachable if the caps above are miscounted; the bound is a promise to the budget.
    system = SYSTEM_PROMPT if context.policy == DEFAULT_POLICY else system_prompt_build(context.policy)
    return Prompt(system=system, user=_clip(user, _USER_MAX_CHARS), policy=context.policy)


def _when(now) -> str:
    if not isinstance(now, datetime):
        return _one_line(now)
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    return now.strftime("%Y-%m-%d %H:%M UTC (%A)")


def _budget(budget) -> str:
    budget = budget if isinstance(budget, dict) else {}
    ratio = budget.get("usage_ratio")
    percent = f"{ratio * 100:.1f}%" if _is_number(ratio) else _value(ratio)
    lines = [
        f"- used: {_value(budget.get('used'))} of {_value(budget.get('limit'))} tokens ({_clip(percent, _VALUE_MAX_CHARS)})",
        f"- remaining: {_value(budget.get('remaining'))} tokens",
        f"- level: {_value(budget.get('level'))}",
    ]
    return "\n".join(lines)


def _task(task) -> str:
    task = task if isinstance(task, dict) else {"title": task}
    head = f"task_id={_value(task.get('id'))} [{_value(task.get('priority'))}, {_value(task.get('status'))}]"
    title = _one_line(task.get("title"), TASKS_CAP[1])
    description = _one_line(task.get("description"), TASKS_CAP[1])
    return f"{head} {title}" + (f" — {description}" if description else "")


def _approval(approval) -> str:
    approval = approval if isinstance(approval, dict) else {"question": approval}
    what = _value(approval.get("action")) if approval.get("action") else _value(approval.get("kind"))
    head = (f"#{_value(approval.get('id'))} {what} [{_value(approval.get('status'))}, "
            f"expires {_value(approval.get('expires_at'))}]")
    return f"{head}: {_one_line(approval.get('question'), APPROVALS_CAP[1])}"


def _items(items, cap: tuple[int, int], render) -> str:
    count, width = cap
    items = items if isinstance(items, (list, tuple)) else []
    shown = items[:count]
    if not shown:
        return NONE
    lines = [f"- {_clip(_one_line(render(item), width * 2), width)}" for item in shown]
    if len(items) > count:
        lines.append(f"(+{len(items) - count} more)")
    return "\n".join(lines)


def _text(value, limit: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    return _clip(text, limit) if text else "none"


def _value(value) -> str:
    if value is None or value == "":
        return "unknown"
    if isinstance(value, int) and not isinstance(value, bool):
        return _clip(f"{value:,}", _VALUE_MAX_CHARS)
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    return _one_line(value, _VALUE_MAX_CHARS)


def _one_line(value, limit: int = 1_000) -> str:
    # Clip before collapsing whitespace so a megabyte of input costs no more than a line.
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    return _clip(" ".join(text[: limit * 2].split()), limit)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _bound() -> int:
    """Upper bound on the user message: each section's header and cap, plus the request."""
    item = len("- ") + 1  # bullet and newline around each clipped item
    more = len("(+ more)") + 20 + 1  # a count of up to 20 digits
    lists = sum(n * (width + item) + more
                for n, width in (RECENT_ACTIONS_CAP, MEMORY_CAP, TASKS_CAP, APPROVALS_CAP, ANSWERS_CAP))
    texts = FOCUS_MAX_CHARS + AROMA_MAX_CHARS + _VALUE_MAX_CHARS * 8
    headers = 9 * 60  # nine "## ..." headings and the blank lines between sections
    budget_lines = 3 * 40
    return lists + texts + headers + budget_lines + len(_DECISION_REQUEST)


_USER_MAX_CHARS = _bound()
PROMPT_MAX_CHARS = system_prompt_max_chars() + _USER_MAX_CHARS
