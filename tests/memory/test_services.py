"""Memory writes: one entry per call, of the right kind, never larger than the cap."""

import pytest

from memory.models import MemoryEntry, MemoryKind
from memory.services import (
    memory_add_guidance,
    memory_record,
    memory_set_focus,
    memory_store_aroma,
    memory_summarize_cycle,
    memory_update_working,
)

pytestmark = pytest.mark.django_db

CAP = 20_000  # written out, not imported: the test must fail if the cap is dropped or raised


def test_record_stores_kind_content_meta_and_cycle():
    entry = memory_record(kind=MemoryKind.REFLECTION, content="Patience", meta={"topic": "tea"}, cycle_id=42)
    stored = MemoryEntry.objects.get()
    assert stored == entry
    assert (stored.kind, stored.content, stored.meta, stored.cycle_id) == ("reflection", "Patience", {"topic": "tea"}, 42)


def test_record_defaults_to_empty_meta_no_cycle_and_empty_text():
    entry = memory_record(kind=MemoryKind.WORKING, content=None)
    entry.refresh_from_db()
    assert (entry.content, entry.meta, entry.cycle_id) == ("", {}, None)


def test_record_refuses_an_unknown_kind_and_writes_nothing():
    with pytest.raises(ValueError, match="unknown memory kind: 'dream'"):
        memory_record(kind="dream", content="flying")
    assert not MemoryEntry.objects.exists()


@pytest.mark.parametrize("length", [CAP, CAP + 1, 5 * CAP])
def test_no_entry_is_stored_larger_than_the_cap(length):
    content = "".join(chr(ord("a") + i % 26) for i in range(length))
    entry = memory_record(kind=MemoryKind.TASK_RESULT, content=content)
    entry.refresh_from_db()
    assert len(entry.content) == CAP
    assert entry.content == content[:CAP]  # the beginning is kept


def test_a_short_entry_is_stored_whole():
    entry = memory_record(kind=MemoryKind.REFLECTION, content="x" * (CAP - 1))
    entry.refresh_from_db()
    assert len(entry.content) == CAP - 1


def test_every_writer_is_capped_too():
    long = "y" * (CAP + 500)
    entries = [
        memory_update_working(content=long),
        memory_store_aroma(content=long),
        memory_set_focus(content=long),
        memory_add_guidance(content=long),
        memory_summarize_cycle(cycle_id=1, action="meditate", status="completed", reasoning="",
                               result={"summary": long}),
    ]
    for entry in entries:
        entry.refresh_from_db()
        assert len(entry.content) == CAP, entry.kind


def test_cycle_summary_line_with_outcome_summary_and_reasoning():
    entry = memory_summarize_cycle(
        cycle_id=7, action="work_on_task", status="completed", reasoning="it was urgent",
        result={"status": "done", "summary": "wrote the note"},
    )
    assert entry.kind == MemoryKind.CYCLE_SUMMARY and entry.cycle_id == 7
    assert entry.content == "work_on_task -> done: wrote the note (why: it was urgent)"
    assert entry.meta == {"action": "work_on_task", "status": "completed", "outcome": "done"}


def test_cycle_summary_falls_back_to_the_status_and_cuts_the_reasoning():
    entry = memory_summarize_cycle(cycle_id=8, action="meditate", status="failed", reasoning="r" * 400)
    assert entry.content == f"meditate -> failed (why: {'r' * 300})"
    assert entry.meta["outcome"] == "failed"


def test_cycle_summary_without_reasoning_or_summary_is_just_the_action_and_outcome():
    entry = memory_summarize_cycle(cycle_id=9, action="meditate", status="completed", reasoning="", result={})
    assert entry.content == "meditate -> completed"


@pytest.mark.parametrize(
    ("write", "kind", "cycle_id"),
    [
        (lambda: memory_update_working(content="c", cycle_id=3), MemoryKind.WORKING, 3),
        (lambda: memory_store_aroma(content="c", cycle_id=4), MemoryKind.AROMA, 4),
        (lambda: memory_set_focus(content="c"), MemoryKind.FOCUS, None),
        (lambda: memory_add_guidance(content="c"), MemoryKind.GUIDANCE, None),
    ],
)
def test_each_writer_stores_its_own_kind(write, kind, cycle_id):
    entry = write()
    assert (entry.kind, entry.content, entry.cycle_id) == (kind, "c", cycle_id)


def test_guidance_keeps_who_gave_it():
    entry = memory_add_guidance(content="Be brief", meta={"source": "admin", "by": "master"})
    entry.refresh_from_db()
    assert entry.meta == {"source": "admin", "by": "master"}
