"""Memory reads: newest first, filtered by kind and time, and always bounded."""

import pytest

from memory.models import MemoryKind
from memory.selectors import (
    memory_current_focus,
    memory_last_aroma,
    memory_latest,
    memory_recent,
    memory_recent_actions,
)

pytestmark = pytest.mark.django_db


def write(factory, minutes, *entries: tuple[int, str, str]) -> list:
    """(minute, kind, content) rows, each written at its own minute."""
    rows = []
    for minute, kind, content in entries:
        with minutes(minute):
            rows.append(factory(kind=kind, content=content))
    return rows


def test_recent_is_newest_first_and_bounded(memory_entry_factory, minutes):
    rows = write(memory_entry_factory, minutes, *[(i, MemoryKind.REFLECTION, f"r{i}") for i in range(5)])
    assert memory_recent(limit=10) == rows[::-1]
    assert memory_recent(limit=2) == [rows[4], rows[3]]


def test_recent_breaks_a_tie_in_time_by_the_newest_row(memory_entry_factory, minutes):
    first, second = write(memory_entry_factory, minutes, (1, MemoryKind.WORKING, "a"), (1, MemoryKind.WORKING, "b"))
    assert memory_recent() == [second, first]


def test_recent_filters_by_kind_and_by_time(memory_entry_factory, minutes):
    guidance, reflection, summary, later = write(
        memory_entry_factory, minutes,
        (1, MemoryKind.GUIDANCE, "g"), (2, MemoryKind.REFLECTION, "r"),
        (3, MemoryKind.CYCLE_SUMMARY, "s"), (4, MemoryKind.GUIDANCE, "g2"),
    )
    assert memory_recent(kinds=[MemoryKind.GUIDANCE]) == [later, guidance]
    assert memory_recent(kinds=[MemoryKind.GUIDANCE, MemoryKind.REFLECTION]) == [later, reflection, guidance]
    # strictly after `since`: the entry written at that instant is not new
    assert memory_recent(since=reflection.created_at) == [later, summary]
    assert memory_recent(kinds=[MemoryKind.GUIDANCE], since=reflection.created_at) == [later]


def test_recent_actions_are_the_cycle_summaries_only(memory_entry_factory, minutes):
    rows = write(
        memory_entry_factory, minutes,
        (1, MemoryKind.CYCLE_SUMMARY, "a1"), (2, MemoryKind.REFLECTION, "noise"),
        (3, MemoryKind.CYCLE_SUMMARY, "a2"), (4, MemoryKind.CYCLE_SUMMARY, "a3"),
    )
    assert [e.content for e in memory_recent_actions()] == ["a3", "a2", "a1"]
    assert memory_recent_actions(limit=1) == [rows[3]]


def test_latest_of_a_kind_or_none(memory_entry_factory, minutes):
    assert memory_latest(kind=MemoryKind.AROMA) is None
    _, newest, _ = write(
        memory_entry_factory, minutes,
        (1, MemoryKind.AROMA, "old"), (2, MemoryKind.AROMA, "new"), (3, MemoryKind.FOCUS, "other kind"),
    )
    assert memory_latest(kind=MemoryKind.AROMA) == newest


def test_the_last_aroma_and_the_current_focus_are_the_newest_or_empty(memory_entry_factory, minutes):
    assert (memory_last_aroma(), memory_current_focus()) == ("", "")
    write(
        memory_entry_factory, minutes,
        (1, MemoryKind.FOCUS, "gardening"), (2, MemoryKind.AROMA, "quiet morning"),
        (3, MemoryKind.FOCUS, "poetry"), (4, MemoryKind.REFLECTION, "not a focus"),
    )
    assert memory_current_focus() == "poetry"
    assert memory_last_aroma() == "quiet morning"
