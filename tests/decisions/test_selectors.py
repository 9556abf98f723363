"""The working memory a prompt is built from: bounded however much history exists."""

from datetime import timedelta

import pytest
import time_machine

from actions.models import Task
from agentsite.core.clock import utc_now
from decisions.models import CycleStatus
from decisions.prompts import PROMPT_MAX_CHARS, prompt_build
from decisions.selectors import prompt_context_gather
from memory.models import MemoryEntry, MemoryKind
from memory.services import memory_add_guidance, memory_set_focus
from tests.factories.decisions import CycleFactory

pytestmark = pytest.mark.django_db


def fill(memory: int, tasks: int) -> None:
    kinds = [MemoryKind.CYCLE_SUMMARY, MemoryKind.GUIDANCE, MemoryKind.OUTCOME, MemoryKind.AROMA, MemoryKind.FOCUS]
    MemoryEntry.objects.bulk_create(
        MemoryEntry(kind=kinds[i % len(kinds)], content=f"entry {i} " + "x" * 2_000) for i in range(memory)
    )
    Task.objects.bulk_create(
        Task(title=f"task {i} " + "t" * 180, description="d" * 5_000, source="api") for i in range(tasks)
    )


def test_the_prompt_stays_flat_with_10000_memories_and_1000_tasks(django_assert_max_num_queries):
    fill(memory=40, tasks=20)  # enough to fill every section's cap
    modest = prompt_build(context=prompt_context_gather())
    fill(memory=10_000, tasks=1_000)
    with django_assert_max_num_queries(15):
        huge = prompt_build(context=prompt_context_gather())
    assert huge.size <= PROMPT_MAX_CHARS
    assert abs(huge.size - modest.size) < 0.05 * PROMPT_MAX_CHARS  # only counters and ids grow
    assert huge.user.count("task_id=") == 15  # the top of the queue, not all 1,000


def test_guidance_focus_and_tasks_reach_the_prompt():
    memory_set_focus(content="learn Telegram etiquette")
    memory_add_guidance(content="Be brief with strangers")
    Task.objects.create(title="Tidy the notes", source="api", priority=1)
    prompt = prompt_build(context=prompt_context_gather())
    assert "learn Telegram etiquette" in prompt.user
    assert "Be brief with strangers" in prompt.user
    assert "Tidy the notes" in prompt.user


def test_the_prompt_holds_only_the_answers_given_since_the_last_cycle():
    """Answers the agent already read in an earlier cycle don't come back; a skipped
    cycle (no prompt was read) doesn't count as one."""
    start = utc_now() - timedelta(hours=1)
    with time_machine.travel(start, tick=False):
        memory_add_guidance(content="Old advice, read by the last cycle")
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        CycleFactory(status=CycleStatus.COMPLETED)
    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        memory_add_guidance(content="Fresh advice since then")
    with time_machine.travel(start + timedelta(minutes=3), tick=False):
        CycleFactory(status=CycleStatus.SKIPPED, reason="paused")
    with time_machine.travel(start + timedelta(minutes=4), tick=False):
        context = prompt_context_gather()
    assert context.answers == ["Fresh advice since then"]
    assert "Old advice" not in prompt_build(context=context).user
