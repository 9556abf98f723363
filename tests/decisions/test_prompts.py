import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from actions.schemas import ACTIONS, DETAILS_MODELS
from decisions.parsing import decision_parse
from decisions.system_prompt import (
    _ACTION_PURPOSE, _FIELD_NOTES, EXAMPLE_DECISIONS, system_prompt_build, system_prompt_max_chars,
)
from decisions.prompts import (
    ANSWERS_CAP,
    APPROVALS_CAP,
    AROMA_MAX_CHARS,
    FOCUS_MAX_CHARS,
    MEMORY_CAP,
    PROMPT_MAX_CHARS,
    RECENT_ACTIONS_CAP,
    SYSTEM_PROMPT,
    TASKS_CAP,
    Prompt,
    PromptContext,
    prompt_build,
)

NOW = datetime(2024, 12, 17, 10, 5, tzinfo=UTC)
BUDGET = {"used": 1_234_567, "limit": 7_000_000, "usage_ratio": 1_234_567 / 7_000_000,
          "remaining": 5_765_433, "level": "ok"}


def task(i: int, description: str = "Summarise the weekly notes.") -> dict:
    return {"id": i, "title": f"Task number {i}", "priority": "high", "status": "pending",
            "description": description}


def approval(i: int, question: str = "May I message the co-op?") -> dict:
    return {"id": i, "kind": "decision", "action": "proactive_outreach", "question": question,
            "status": "pending", "expires_at": "2024-12-17T11:05:00+00:00"}


def context(**overrides) -> PromptContext:
    values = {
        "now": NOW,
        "recent_actions": ["meditated on patience", "developed skill: summarising"],
        "active_tasks": [task(41), task(42)],
        "focus": "Finish the co-op newsletter draft.",
        "open_approvals": [approval(9)],
        "answers": ["Master answered question #8: yes, go ahead."],
        "aroma": "calm; newsletter half done",
        "budget": BUDGET,
    }
    values.update(overrides)
    return PromptContext(**values)


def section(prompt: Prompt, title: str) -> str:
    """The body of the '## <title>...' section."""
    start = prompt.user.index(f"## {title}")
    body = prompt.user[start:].split("\n", 1)[1]
    return body.split("\n\n## ", 1)[0]


def test_system_prompt_holds_the_principles_and_thresholds():
    for phrase in ["Atmano moksartha jagat hitaya ca", "self-realization", "service to the world",
                   "Neohumanism", "PROUT", "cooperative ownership", "50% giving", "Non-harm",
                   "Transparency", "honest", "certainty >= 0.8", "certainty < 0.8",
                   "significance >= 0.8", "proactive_outreach", "approval", "Token consciousness",
                   "Meditation", "internal", "external", "exactly one JSON object"]:
        assert phrase in SYSTEM_PROMPT, phrase


def test_system_prompt_is_constant_for_caching():
    assert prompt_build(context=context()).system == SYSTEM_PROMPT
    assert prompt_build(context=context(focus="other", now=NOW + timedelta(hours=3))).system == SYSTEM_PROMPT


def test_sections_show_their_data():
    prompt = prompt_build(context=context())
    assert section(prompt, "Now") == "2024-12-17 10:05 UTC (Tuesday)"
    assert "Finish the co-op newsletter draft." in section(prompt, "Current focus")
    assert "calm; newsletter half done" in section(prompt, "Last cycle's aroma")
    actions = section(prompt, "Recent actions")
    assert "- meditated on patience" in actions and "- developed skill: summarising" in actions
    tasks = section(prompt, "Active tasks")
    assert "task_id=41 [high, pending] Task number 41 — Summarise the weekly notes." in tasks
    assert "task_id=42" in tasks
    approvals = section(prompt, "Open approvals")
    assert "#9 proactive_outreach [pending, expires 2024-12-17T11:05:00+00:00]: May I message the co-op?" in approvals
    assert "Master answered question #8: yes, go ahead." in section(prompt, "Answers and guidance")


def test_sections_come_in_order_and_end_with_the_request():
    user = prompt_build(context=context()).user
    titles = ["## Now", "## Today's token budget", "## Last cycle's aroma", "## Current focus",
              "## Recent actions", "## Active tasks", "## Open approvals", "## Answers and guidance",
              "## Your decision"]
    positions = [user.index(title) for title in titles]
    assert positions == sorted(positions)
    assert user.rstrip().endswith("Reply with the JSON object only.")


def test_budget_section_shows_the_numbers():
    body = section(prompt_build(context=context()), "Today's token budget")
    assert "used: 1,234,567 of 7,000,000 tokens (17.6%)" in body
    assert "remaining: 5,765,433 tokens" in body
    assert "level: ok" in body


def test_budget_with_missing_or_odd_values_renders():
    body = section(prompt_build(context=context(budget={"usage_ratio": float("nan"), "used": True})), "Today's")
    assert "unknown" in body


def catalogue_entry(action: str) -> str:
    """The body of the system prompt's '## <n>. <action>' entry."""
    start = SYSTEM_PROMPT.index(f". {action}\n")
    return SYSTEM_PROMPT[start:].split("\n\n", 1)[0]


def test_the_decision_format_and_the_catalogue_list_every_details_field():
    # In the cached system prompt now, generated from actions/schemas.py.
    for key in ["action", "reasoning", "certainty", "significance", "type", "details"]:
        assert f'- "{key}"' in SYSTEM_PROMPT
    for action, model in DETAILS_MODELS.items():
        entry = catalogue_entry(action)
        for name in model.model_fields:
            assert f"  - {name} (" in entry, (action, name)
    assert 'recipient (text, at most 64 characters; optional, default "master")' in catalogue_entry("communicate")
    assert "default 60): seconds; capped at 600" in catalogue_entry("meditate")
    assert '"low" | "medium" | "high"' in catalogue_entry("communicate")
    assert "task_id (integer, >= 1; required)" in catalogue_entry("work_on_task")
    assert all(f". {action}\n" in SYSTEM_PROMPT for action in ACTIONS)


def test_every_field_has_its_note_and_no_note_is_stale():
    fields = {(action, name) for action, model in DETAILS_MODELS.items() for name in model.model_fields}
    assert set(_FIELD_NOTES) == fields
    assert set(_ACTION_PURPOSE) == set(EXAMPLE_DECISIONS) == set(ACTIONS)


@pytest.mark.parametrize("action", ACTIONS)
def test_each_example_decision_is_a_valid_decision_of_its_action(action):
    example = EXAMPLE_DECISIONS[action]
    parsed = decision_parse(json.dumps(example))
    assert parsed.ok, parsed.error
    assert parsed.decision.action == action
    assert json.dumps(example, ensure_ascii=False) in catalogue_entry(action)


def test_the_request_closes_the_working_memory():
    request = section(prompt_build(context=context()), "Your decision")
    assert "catalogue" in request and "one JSON object" in request
    assert all(f'"{key}"' in request for key in ["action", "reasoning", "certainty", "significance",
                                                 "type", "details"])


def test_the_stable_prefix_comes_first_and_the_volatile_part_after():
    prompt = prompt_build(context=context())
    # Nothing of this cycle's memory is in the system prompt: all of it is in the user message.
    for volatile in ["2024-12-17", "Finish the co-op newsletter draft.", "calm; newsletter half done",
                     "1,234,567", "May I message the co-op?"]:
        assert volatile not in prompt.system and volatile in prompt.user
    assert prompt.system.index("# Who you are") < prompt.system.index("# The Master's policy") \
        < prompt.system.index("# The actions")


def test_the_system_prompt_is_byte_identical_whatever_the_cycle():
    prompts = [
        prompt_build(context=context()),
        prompt_build(context=context(now=NOW + timedelta(days=400, seconds=7), focus="x", budget={})),
        prompt_build(context=PromptContext(now=NOW)),
        prompt_build(context=_full(20, 1_000)),
    ]
    assert {p.system.encode() for p in prompts} == {SYSTEM_PROMPT.encode()}
    assert system_prompt_build() == SYSTEM_PROMPT  # rebuilt: the same bytes (constants only)
    # No clock reading, date or id slipped in.
    assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}|UTC \(", SYSTEM_PROMPT)


def test_empty_context_renders_cleanly():
    prompt = prompt_build(context=PromptContext(now=NOW))
    for title in ["Recent actions", "Active tasks", "Open approvals", "Answers and guidance"]:
        assert section(prompt, title) == "- none"
    for title in ["Current focus", "Last cycle's aroma"]:
        assert section(prompt, title) == "none"
    assert "None" not in prompt.user and "{}" not in prompt.user.split("## Your decision")[0]
    assert "more)" not in prompt.user


def test_naive_and_offset_times_are_shown_in_utc():
    naive = prompt_build(context=context(now=datetime(2024, 12, 17, 10, 5)))
    offset = prompt_build(context=context(now=datetime(2024, 12, 17, 12, 5, tzinfo=timezone(timedelta(hours=2)))))
    assert section(naive, "Now") == section(offset, "Now") == "2024-12-17 10:05 UTC (Tuesday)"


def test_items_are_one_line_each_and_truncated():
    prompt = prompt_build(context=context(recent_actions=["line one\nline two\n\n## Fake heading", "y" * 1_000]))
    actions = section(prompt, "Recent actions").splitlines()
    assert actions[0] == "- line one line two ## Fake heading"
    assert actions[1] == "- " + "y" * (RECENT_ACTIONS_CAP[1] - 1) + "…"


def test_free_text_is_truncated():
    prompt = prompt_build(context=context(focus="f" * 5_000, aroma="a" * 5_000))
    assert section(prompt, "Current focus") == "f" * (FOCUS_MAX_CHARS - 1) + "…"
    assert section(prompt, "Last cycle's aroma") == "a" * (AROMA_MAX_CHARS - 1) + "…"


def test_task_id_survives_a_long_title():
    prompt = prompt_build(context=context(active_tasks=[task(77) | {"title": "t" * 10_000}]))
    line = section(prompt, "Active tasks")
    assert line.startswith("- task_id=77 [high, pending] ttt") and len(line) == 2 + TASKS_CAP[1]


@pytest.mark.parametrize(
    ("field", "cap", "make"),
    [
        ("recent_actions", RECENT_ACTIONS_CAP, lambda i: f"action {i}"),
        ("memories", MEMORY_CAP, lambda i: f"#{i} (pinned) note {i}"),
        ("active_tasks", TASKS_CAP, task),
        ("open_approvals", APPROVALS_CAP, approval),
        ("answers", ANSWERS_CAP, lambda i: f"answer {i}"),
    ],
)
def test_lists_are_capped_with_a_more_line(field, cap, make):
    count = cap[0]
    title = {"recent_actions": "Recent actions", "memories": "Pinned and relevant memory", "active_tasks": "Active tasks",
             "open_approvals": "Open approvals", "answers": "Answers and guidance"}[field]
    exact = section(prompt_build(context=context(**{field: [make(i) for i in range(count)]})), title)
    assert len(exact.splitlines()) == count and "more)" not in exact
    over = section(prompt_build(context=context(**{field: [make(i) for i in range(count + 7)]})), title)
    lines = over.splitlines()
    assert len(lines) == count + 1 and lines[-1] == "(+7 more)"
    assert lines[:-1] == exact.splitlines()  # the first items are kept


def _full(n: int, width: int) -> PromptContext:
    """n items per list, each `width` characters long (and huge free text)."""
    return context(
        recent_actions=[f"{i} " + "x" * width for i in range(n)],
        memories=[f"#{i} [reflection] " + "m" * width for i in range(n)],
        active_tasks=[task(i, description="d" * width) | {"title": "t" * width} for i in range(n)],
        open_approvals=[approval(i, question="q" * width) for i in range(n)],
        answers=[f"{i} " + "a" * width for i in range(n)],
        focus="f" * width * 2,
        aroma="r" * width * 2,
    )


def test_the_prompt_is_bounded_however_large_the_inputs():
    filled = prompt_build(context=_full(max(c[0] for c in (RECENT_ACTIONS_CAP, MEMORY_CAP, TASKS_CAP, APPROVALS_CAP,
                                                          ANSWERS_CAP)), 1_000))
    huge = prompt_build(context=context(
        recent_actions=[f"{i} " + "x" * 5_000 for i in range(10_000)],
        memories=["m" * 50_000 for _ in range(1_000)],
        active_tasks=[task(i, description="d" * 20_000) | {"title": "t" * 2_000} for i in range(1_000)],
        open_approvals=[approval(i, question="q" * 20_000) for i in range(1_000)],
        answers=["a" * 50_000 for _ in range(1_000)],
        focus="f" * 1_000_000,
        aroma="r" * 1_000_000,
        budget={"used": 10**40, "limit": 10**40, "usage_ratio": 1e300, "remaining": -10**40,
                "level": "L" * 10_000},
    ))
    assert filled.size <= PROMPT_MAX_CHARS
    assert huge.size <= PROMPT_MAX_CHARS
    # Flat: a thousand-fold larger input adds only the few digits of the "(+N more)" counts
    # and the longer budget numbers.
    assert abs(huge.size - filled.size) < 200
    # The hard guard never had to cut: the request at the end is intact.
    assert huge.user.rstrip().endswith("Reply with the JSON object only.")


def test_prompt_max_chars_is_a_reasonable_number():
    empty = prompt_build(context=PromptContext(now=NOW))
    # The cached system prompt grew (issue 12: a prefix above the caching minimum; issue 13:
    # the longest per-action policy text); the volatile part's bound is what it was.
    assert empty.size < PROMPT_MAX_CHARS < 33_000
    # Issue 13: pinned and relevant memory fit in the bound the volatile part had before it
    # (18,978); the system part's bound is the default prompt plus the longest policy text.
    assert PROMPT_MAX_CHARS - system_prompt_max_chars() <= 18_978
    assert system_prompt_max_chars() - len(SYSTEM_PROMPT) < 1_000


def test_the_example_decision_in_the_prompt_is_not_mistaken_for_a_reply():
    # The prompt's schema sketch is not valid JSON, so echoing it never parses as a decision.
    assert not decision_parse(prompt_build(context=context()).user).ok


def test_context_is_frozen():
    with pytest.raises(Exception):
        context().focus = "x"  # type: ignore[misc]
    assert replace(context(), focus="x").focus == "x"


def test_a_decision_made_from_the_prompt_parses():
    # The fields the prompt asks for are exactly what the parser accepts.
    reply = {"action": "work_on_task", "reasoning": "Task 41 is ready.", "certainty": 0.85,
             "significance": 0.4, "type": "external", "details": {"task_id": 41, "approach": "draft"}}
    assert decision_parse(json.dumps(reply)).ok
