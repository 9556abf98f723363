"""The Master's shaping of memory: edit, pin, archive, restore; each change audited once,
bad input refused with nothing changed."""

import pytest

from memory.errors import MemoryContentInvalid, MemoryNotFound, MemoryStateConflict
from memory.models import MemoryEntry, MemoryKind, MemoryRevision
from memory.selectors import memory_browse, memory_current_focus, memory_get, memory_recent
from memory.shaping import (
    memory_archive,
    memory_archive_many,
    memory_edit,
    memory_pin,
    memory_restore,
    memory_unpin,
    memory_update,
)

pytestmark = pytest.mark.django_db


def _revisions(entry):
    return list(MemoryRevision.objects.filter(entry=entry).order_by("id").values_list("field", "before", "after", "by", "via"))


def test_edit_changes_the_content_and_records_before_and_after(memory_entry_factory):
    entry = memory_entry_factory(content="tea at noon")
    edited = memory_edit(entry_id=entry.pk, content="  tea at four  ", by="master", via="api")
    entry.refresh_from_db()
    assert edited.content == entry.content == "tea at four"
    assert entry.updated_at >= entry.created_at
    assert _revisions(entry) == [("content", "tea at noon", "tea at four", "master", "api")]


def test_an_edit_to_the_same_text_writes_no_revision(memory_entry_factory):
    entry = memory_entry_factory(content="same")
    memory_edit(entry_id=entry.pk, content="same", by="m", via="admin")
    assert not MemoryRevision.objects.exists()


@pytest.mark.parametrize("content", ["", "   \n ", None, 42])
def test_empty_content_is_refused_and_nothing_changes(memory_entry_factory, content):
    entry = memory_entry_factory(content="kept")
    with pytest.raises(MemoryContentInvalid, match="empty"):
        memory_edit(entry_id=entry.pk, content=content, by="m", via="api")
    entry.refresh_from_db()
    assert entry.content == "kept" and not MemoryRevision.objects.exists()


def test_too_long_content_is_refused_not_clipped(memory_entry_factory):
    entry = memory_entry_factory(content="kept")
    with pytest.raises(MemoryContentInvalid, match="20,001 characters; at most 20,000"):
        memory_edit(entry_id=entry.pk, content="x" * 20_001, by="m", via="api")
    entry.refresh_from_db()
    assert entry.content == "kept"
    memory_edit(entry_id=entry.pk, content="x" * 20_000, by="m", via="api")  # the cap itself fits


@pytest.mark.parametrize("service", [memory_edit, memory_pin, memory_unpin, memory_archive, memory_restore])
@pytest.mark.parametrize("entry_id", [999, "abc", None, 2**70])
def test_a_missing_entry_is_not_found(service, entry_id):
    kwargs = {"content": "x"} if service is memory_edit else {}
    with pytest.raises(MemoryNotFound, match="not found"):
        service(entry_id=entry_id, by="m", via="api", **kwargs)


def test_an_unknown_surface_is_a_programming_error(memory_entry_factory):
    entry = memory_entry_factory()
    with pytest.raises(ValueError, match="unknown surface"):
        memory_pin(entry_id=entry.pk, by="m", via="carrier pigeon")
    assert not MemoryEntry.objects.get().pinned


def test_pin_and_unpin_are_audited_and_idempotent(memory_entry_factory):
    entry = memory_entry_factory()
    memory_pin(entry_id=entry.pk, by="m", via="telegram")
    memory_pin(entry_id=entry.pk, by="m", via="telegram")  # already pinned: nothing more
    assert MemoryEntry.objects.get().pinned
    memory_unpin(entry_id=entry.pk, by="m", via="admin")
    assert not MemoryEntry.objects.get().pinned
    assert _revisions(entry) == [("pinned", "False", "True", "m", "telegram"), ("pinned", "True", "False", "m", "admin")]


def test_archive_unpins_hides_from_lists_and_restore_brings_it_back(memory_entry_factory):
    focus = memory_entry_factory(kind=MemoryKind.FOCUS, content="old focus")
    newer = memory_entry_factory(kind=MemoryKind.FOCUS, content="wrong focus", pinned=True)
    memory_archive(entry_id=newer.pk, by="m", via="cli")
    newer.refresh_from_db()
    assert newer.archived_at is not None and not newer.pinned
    assert memory_current_focus() == "old focus"  # the archived focus no longer counts
    assert newer not in memory_recent() and newer not in memory_browse()
    assert newer in memory_browse(include_archived=True)
    assert [f for f, *_ in _revisions(newer)] == ["pinned", "archived"]
    memory_restore(entry_id=newer.pk, by="m", via="cli")
    newer.refresh_from_db()
    assert newer.archived_at is None and memory_current_focus() == "wrong focus"
    assert _revisions(newer)[-1][0:3] == ("archived", _revisions(newer)[1][2], "")
    assert focus.pk in [e.pk for e in memory_browse()]


def test_an_archived_entry_cannot_be_pinned(memory_entry_factory):
    entry = memory_entry_factory()
    memory_archive(entry_id=entry.pk, by="m", via="api")
    with pytest.raises(MemoryStateConflict, match="restore it before pinning"):
        memory_pin(entry_id=entry.pk, by="m", via="api")
    assert not MemoryEntry.objects.get().pinned


def test_archive_many_skips_pinned_and_archived_ones(memory_entry_factory):
    plain, pinned, gone = memory_entry_factory(), memory_entry_factory(pinned=True), memory_entry_factory()
    memory_archive(entry_id=gone.pk, by="m", via="api")
    archived = memory_archive_many(entry_ids=[plain.pk, pinned.pk, gone.pk], by="consolidation", via="system")
    assert archived == [plain.pk]
    assert MemoryEntry.objects.get(pk=pinned.pk).archived_at is None
    assert _revisions(plain)[0][0::4] == ("archived", "system")


def test_get_returns_the_entry_with_its_revisions(memory_entry_factory):
    entry = memory_entry_factory()
    memory_pin(entry_id=entry.pk, by="m", via="api")
    memory_archive(entry_id=entry.pk, by="m", via="api")
    got = memory_get(entry_id=entry.pk)
    assert [r.field for r in got.revisions.all()] == ["archived", "pinned", "pinned"]
    with pytest.raises(MemoryNotFound):
        memory_get(entry_id=entry.pk + 1)


def test_update_applies_several_changes_or_none(memory_entry_factory):
    entry = memory_entry_factory(content="draft")
    memory_archive(entry_id=entry.pk, by="m", via="api")
    updated = memory_update(entry_id=entry.pk, by="m", via="api", content="final", pinned=True, archived=False)
    assert (updated.content, updated.pinned, updated.archived_at) == ("final", True, None)
    memory_archive(entry_id=entry.pk, by="m", via="api")
    revisions = MemoryRevision.objects.count()
    with pytest.raises(MemoryContentInvalid):
        memory_update(entry_id=entry.pk, by="m", via="api", archived=False, content="")
    entry.refresh_from_db()
    assert entry.archived_at is not None and entry.content == "final"  # the restore rolled back too
    with pytest.raises(MemoryStateConflict, match="pinned and archived at once"):
        memory_update(entry_id=entry.pk, by="m", via="api", archived=True, pinned=True)
    assert MemoryRevision.objects.count() == revisions


def test_the_database_refuses_an_archived_entry_that_is_pinned(memory_entry_factory):
    from django.db import IntegrityError, transaction

    from agentsite.core.clock import utc_now

    entry = memory_entry_factory(pinned=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        MemoryEntry.objects.filter(pk=entry.pk).update(archived_at=utc_now())
    assert MemoryEntry.objects.get().archived_at is None
