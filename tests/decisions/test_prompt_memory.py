"""The prompt's pinned and relevant memory: pinned entries always, then the entries most
relevant to the focus and the open tasks; never archived ones; in the same one read the
recent actions came from (no statement added to the cycle)."""

from datetime import timedelta

import pytest
import time_machine

from actions.models import Task
from agentsite.core.clock import utc_now
from decisions.agent import agent_state_get
from decisions.prompts import prompt_build
from decisions.selectors import PROMPT_ACTIONS, PROMPT_MEMORIES, cycle_view_read, prompt_context_gather
from memory.models import MemoryEntry, MemoryKind
from memory.prompting import memory_relevant, relevance_words
from memory.services import memory_record, memory_set_focus
from memory.shaping import memory_archive, memory_pin

pytestmark = pytest.mark.django_db


def _at(minutes: int):
    return time_machine.travel(utc_now().replace(microsecond=0) - timedelta(hours=5) + timedelta(minutes=minutes),
                               tick=False)


def test_pinned_first_then_relevant_to_focus_and_tasks_never_archived():
    with _at(1):
        pinned = memory_record(kind=MemoryKind.REFLECTION, content="Always greet the Master politely")
        about_rust = memory_record(kind=MemoryKind.SKILL_NOTE, content="Rust borrow checker: lifetimes notes")
        about_kites = memory_record(kind=MemoryKind.TASK_RESULT, content="Built a kite from paper")
        memory_record(kind=MemoryKind.REFLECTION, content="Unrelated musing about clouds")
        archived = memory_record(kind=MemoryKind.REFLECTION, content="Rust lifetimes and kites, outdated")
    memory_pin(entry_id=pinned.pk, by="m", via="api")
    memory_archive(entry_id=archived.pk, by="m", via="api")
    memory_set_focus(content="Learn Rust lifetimes")
    Task.objects.create(title="Fly the bamboo kite", source="api")
    context = prompt_context_gather()
    assert context.memories == [
        f"#{pinned.pk} (pinned) Always greet the Master politely",
        f"#{about_rust.pk} [skill_note] Rust borrow checker: lifetimes notes",  # two words shared
        f"#{about_kites.pk} [task_result] Built a kite from paper",  # one
    ]
    user = prompt_build(context=context).user
    assert "## Pinned and relevant memory\n- #" in user and "clouds" not in user and "outdated" not in user


def test_recent_actions_are_the_newest_live_summaries_only():
    for i in range(PROMPT_ACTIONS + 3):
        with _at(i):
            memory_record(kind=MemoryKind.CYCLE_SUMMARY, content=f"action {i}")
    newest = MemoryEntry.objects.filter(kind=MemoryKind.CYCLE_SUMMARY).order_by("-created_at").first()
    memory_archive(entry_id=newest.pk, by="m", via="api")
    old = MemoryEntry.objects.get(content="action 0")
    memory_pin(entry_id=old.pk, by="m", via="api")  # a pinned old action is a memory, not a recent action
    context = prompt_context_gather()
    last = PROMPT_ACTIONS + 1
    assert context.recent_actions == [f"action {i}" for i in range(last, last - PROMPT_ACTIONS, -1)]
    assert context.memories == [f"#{old.pk} (pinned) action 0"]


def test_pinned_entries_fill_the_section_before_relevant_ones():
    memory_set_focus(content="gardening")
    for i in range(PROMPT_MEMORIES + 2):
        with _at(i):
            entry = memory_record(kind=MemoryKind.REFLECTION, content=f"pinned {i} gardening")
        memory_pin(entry_id=entry.pk, by="m", via="api")
    memories = prompt_context_gather().memories
    assert len(memories) == PROMPT_MEMORIES and all("(pinned)" in m for m in memories)
    assert "pinned 7 gardening" in memories[0]  # the newest pinned first


def test_the_memory_lines_come_from_the_one_read_the_recent_actions_came_from(django_assert_num_queries):
    agent_state_get()
    memory_record(kind=MemoryKind.REFLECTION, content="pinned one")
    memory_pin(entry_id=MemoryEntry.objects.get().pk, by="m", via="api")
    memory_record(kind=MemoryKind.CYCLE_SUMMARY, content="meditate -> done")
    view = cycle_view_read()
    with django_assert_num_queries(2):  # the open tasks, and memory (actions + pinned + pool)
        context = prompt_context_gather(view=view)
    assert context.recent_actions == ["meditate -> done"] and len(context.memories) == 1


def test_relevance_counts_shared_words_then_recency():
    words = relevance_words("Learn the Rust language", "Write about RUST lifetimes")
    assert words == {"learn", "rust", "language", "write", "lifetimes"}  # no "about", no short words
    now = utc_now()
    pool = [(1, "reflection", "rust", False, now), (2, "reflection", "rust lifetimes", False, now - timedelta(1)),
            (3, "reflection", "Rust again", False, now + timedelta(1)), (4, "reflection", "nothing", False, now)]
    assert [row[0] for row in memory_relevant(pool=pool, words=words, limit=3)] == [2, 3, 1]
    assert memory_relevant(pool=pool, words=set(), limit=3) == []
    assert memory_relevant(pool=pool, words=words, limit=0) == []
