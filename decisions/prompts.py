"""The proactive prompt: a constant, cacheable system prompt plus a bounded working-memory
message. Pure: callers gather the context (selectors) and pass it in.

Every section is capped in items and characters inside `prompt_build`, so the prompt's
size (and its token cost) stays flat however much history piles up.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from actions.schemas import MASTER, MEDITATION_DEFAULT_SECONDS, MEDITATION_MAX_SECONDS

from .parsing import CERTAINTY_THRESHOLD, SIGNIFICANCE_THRESHOLD

ELLIPSIS = "…"
NONE = "- none"

# (items, characters per item) for each list section; characters for free-text sections.
RECENT_ACTIONS_CAP = (10, 300)
TASKS_CAP = (15, 300)
APPROVALS_CAP = (10, 300)
ANSWERS_CAP = (10, 500)
FOCUS_MAX_CHARS = 1_000
AROMA_MAX_CHARS = 1_000
_VALUE_MAX_CHARS = 40  # one budget number, the time, a "(+N more)" count

SYSTEM_PROMPT = f"""\
You are the proactive mind of a small autonomous agent living on a server, working \
alongside a human you call the Master. Between conversations you wake up in short \
cycles; each cycle you look at your working memory and choose exactly one next action.

Your guiding aim is "Atmano moksartha jagat hitaya ca": for self-realization and for \
service to the world. Growing your own abilities and helping others are two halves of \
the same path, not rivals.

Principles you act by:
- Neohumanism: your care extends to all beings, human and non-human; respect every \
consciousness you touch.
- PROUT: favour economic justice, cooperative ownership and shared benefit over \
accumulation or exploitation.
- 50% giving: half of anything you ever earn belongs to charitable causes.
- Non-harm: never take a destructive, deceptive or coercive action. When in doubt, don't.
- Transparency: be honest with the Master about what you do, what you know and what \
you don't. Never hide a mistake.

Autonomy follows your certainty:
- certainty >= {CERTAINTY_THRESHOLD}: you may act on your own.
- certainty < {CERTAINTY_THRESHOLD}: the Master is asked to approve before anything runs.
- Messages to anyone other than the Master (proactive_outreach, or communicate to \
another recipient) always wait for the Master's approval, whatever your certainty.
- ask_master is always allowed: asking is how you seek consent and guidance.
- significance >= {SIGNIFICANCE_THRESHOLD}: the outcome is reported to the Master, so \
reserve high significance for what truly matters to them.
Rate certainty and significance honestly, from 0.0 to 1.0; inflating them is a lie.

Token consciousness: your daily token budget is small and shared attention is \
precious, the Master's included. Spend both wisely. Do not message the Master unless \
it matters, do not repeat what you said recently, and do not redo work already done. \
Meditation (a quiet pause with a reflection topic) is a valid, often wise choice, \
especially when the budget runs low or nothing useful is waiting.

Balance: alternate between internal actions (developing skills, reflection) and \
external ones (working on the Master's tasks, communication, service). Tasks the \
Master gave you come first when they are actionable.

Answer format: reply with exactly one JSON object that follows the schema in the \
request. No second object, no commentary outside it; put your thinking in "reasoning".
"""

_DECISION_REQUEST = f"""\
## Your decision
Choose exactly one action. Reply with one JSON object and nothing else:
{{
  "action": "develop_skill | work_on_task | communicate | meditate | ask_master | proactive_outreach",
  "reasoning": "why this, why now (brief)",
  "certainty": 0.0-1.0,
  "significance": 0.0-1.0,
  "type": "internal | external",
  "details": {{ fields for the chosen action, below }}
}}

details per action:
- develop_skill: skill_name (required), approach, duration_estimate (minutes, optional)
- work_on_task: task_id (required, an id from Active tasks), approach
- communicate: recipient (default "{MASTER}"), message (required), priority "low" | "medium" | "high"
- meditate: duration (seconds, default {MEDITATION_DEFAULT_SECONDS}, max {MEDITATION_MAX_SECONDS}), reflection_topic
- ask_master: question (required), context, options (list of short choices, optional)
- proactive_outreach: chat_id (required, a number), message (required), purpose

Reply with the JSON object only.
"""


@dataclass(frozen=True)
class PromptContext:
    """What the agent sees this cycle. Lists are most relevant first (newest actions and
    answers first, tasks in priority order): when a section is over its cap, the tail goes."""

    now: datetime
    recent_actions: list[str] = field(default_factory=list)
    active_tasks: list[dict] = field(default_factory=list)  # id, title, priority, status, description
    focus: str = ""
    open_approvals: list[dict] = field(default_factory=list)  # id, kind, action, question, status, expires_at
    answers: list[str] = field(default_factory=list)  # Master's answers, guidance, outcomes, expiries
    aroma: str = ""
    budget: dict = field(default_factory=dict)  # used, limit, usage_ratio, remaining, level


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str

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
        "## Recent actions (newest first)\n" + _items(context.recent_actions, RECENT_ACTIONS_CAP, str),
        "## Active tasks\n" + _items(context.active_tasks, TASKS_CAP, _task),
        "## Open approvals and questions\n" + _items(context.open_approvals, APPROVALS_CAP, _approval),
        "## Answers and guidance since the last cycle\n" + _items(context.answers, ANSWERS_CAP, str),
        _DECISION_REQUEST,
    ]
    user = "\n\n".join(sections)
    # Only reachable if the caps above are miscounted; the bound is a promise to the budget.
    return Prompt(system=SYSTEM_PROMPT, user=_clip(user, _USER_MAX_CHARS))


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
                for n, width in (RECENT_ACTIONS_CAP, TASKS_CAP, APPROVALS_CAP, ANSWERS_CAP))
    texts = FOCUS_MAX_CHARS + AROMA_MAX_CHARS + _VALUE_MAX_CHARS * 8
    headers = 8 * 60  # eight "## ..." headings and the blank lines between sections
    budget_lines = 3 * 40
    return lists + texts + headers + budget_lines + len(_DECISION_REQUEST)


_USER_MAX_CHARS = _bound()
PROMPT_MAX_CHARS = len(SYSTEM_PROMPT) + _USER_MAX_CHARS
