"""The Master's shaping of memory: edit, pin, unpin, archive, restore. Each change is one
transaction with the entry's row locked, and leaves a MemoryRevision (field, before, after,
by, via). A change to the same value is a no-op and writes nothing."""

from collections.abc import Iterable

from django.db import transaction

from agentsite.core.clock import utc_now
from agentsite.core.surfaces import Surface

from .errors import MemoryContentInvalid, MemoryNotFound, MemoryStateConflict
from .models import MemoryEntry, MemoryRevision, RevisionField
from .services import MAX_CONTENT_CHARS


def _locked(entry_id) -> MemoryEntry:
    try:
        return MemoryEntry.objects.select_for_update().get(pk=int(entry_id))
    except (MemoryEntry.DoesNotExist, TypeError, ValueError, OverflowError):
        raise MemoryNotFound(entry_id) from None


def _check_via(via: str) -> None:
    if via not in Surface.values:
        raise ValueError(f"unknown surface: {via!r}")


def _revise(entry: MemoryEntry, *, field: str, before: str, after: str, by: str, via: str) -> MemoryRevision:
    return MemoryRevision(entry=entry, field=field, before=before, after=after, by=(by or "")[:150], via=via)


def memory_edit(*, entry_id: int, content: str, by: str, via: str) -> MemoryEntry:
    """New content for an entry; refuses empty or over-long text (nothing is clipped)."""
    _check_via(via)
    text = content.strip() if isinstance(content, str) else ""
    if not text:
        raise MemoryContentInvalid("The content is empty; write something, or archive the entry instead")
    if len(text) > MAX_CONTENT_CHARS:
        raise MemoryContentInvalid(f"The content is {len(text):,} characters; at most {MAX_CONTENT_CHARS:,} fit")
    with transaction.atomic():
        entry = _locked(entry_id)
        if entry.content == text:
            return entry
        revision = _revise(entry, field=RevisionField.CONTENT, before=entry.content, after=text, by=by, via=via)
        entry.content = text
        entry.save(update_fields=["content", "updated_at"])
        revision.save()
    return entry


def _set_pinned(*, entry_id: int, pinned: bool, by: str, via: str) -> MemoryEntry:
    _check_via(via)
    with transaction.atomic():
        entry = _locked(entry_id)
        if entry.pinned == pinned:
            return entry
        if pinned and entry.archived_at is not None:
            raise MemoryStateConflict(f"Memory entry #{entry.pk} is archived; restore it before pinning")
        revision = _revise(entry, field=RevisionField.PINNED, before=str(entry.pinned), after=str(pinned), by=by, via=via)
        entry.pinned = pinned
        entry.save(update_fields=["pinned", "updated_at"])
        revision.save()
    return entry


def memory_pin(*, entry_id: int, by: str, via: str) -> MemoryEntry:
    """Keep the entry in every prompt (and at the top of the prompt's memory)."""
    return _set_pinned(entry_id=entry_id, pinned=True, by=by, via=via)


def memory_unpin(*, entry_id: int, by: str, via: str) -> MemoryEntry:
    return _set_pinned(entry_id=entry_id, pinned=False, by=by, via=via)


def _archive_locked(entry: MemoryEntry, *, by: str, via: str, now) -> list[MemoryRevision]:
    """Archive a locked entry (unpinning it too); its revisions, unsaved."""
    revisions = []
    if entry.pinned:
        revisions.append(_revise(entry, field=RevisionField.PINNED, before="True", after="False", by=by, via=via))
        entry.pinned = False
    revisions.append(_revise(entry, field=RevisionField.ARCHIVED, before="", after=now.isoformat(), by=by, via=via))
    entry.archived_at = entry.updated_at = now
    return revisions


def memory_archive(*, entry_id: int, by: str, via: str) -> MemoryEntry:
    """Take the entry out of the prompt and the default lists; kept, searchable, restorable."""
    _check_via(via)
    with transaction.atomic():
        entry = _locked(entry_id)
        if entry.archived_at is not None:
            return entry
        revisions = _archive_locked(entry, by=by, via=via, now=utc_now())
        entry.save(update_fields=["pinned", "archived_at", "updated_at"])
        MemoryRevision.objects.bulk_create(revisions)
    return entry


def memory_restore(*, entry_id: int, by: str, via: str) -> MemoryEntry:
    _check_via(via)
    with transaction.atomic():
        entry = _locked(entry_id)
        if entry.archived_at is None:
            return entry
        revision = _revise(entry, field=RevisionField.ARCHIVED, before=entry.archived_at.isoformat(), after="",
                           by=by, via=via)
        entry.archived_at = None
        entry.save(update_fields=["archived_at", "updated_at"])
        revision.save()
    return entry


def memory_archive_many(*, entry_ids: Iterable[int], by: str, via: str) -> list[int]:
    """Archive several entries in the caller's transaction (consolidation): the ids of those
    archived now; ones already archived or pinned meanwhile are left alone."""
    _check_via(via)
    now = utc_now()
    with transaction.atomic():
        entries = list(
            MemoryEntry.objects.select_for_update()
            .filter(pk__in=list(entry_ids), archived_at__isnull=True, pinned=False).order_by("pk")
        )
        revisions = [r for entry in entries for r in _archive_locked(entry, by=by, via=via, now=now)]
        if entries:
            MemoryEntry.objects.bulk_update(entries, ["pinned", "archived_at", "updated_at"])
        MemoryRevision.objects.bulk_create(revisions)
    return [entry.pk for entry in entries]


def memory_update(
    *, entry_id: int, by: str, via: str, content: str | None = None, pinned: bool | None = None,
    archived: bool | None = None,
) -> MemoryEntry:
    """Several changes at once (the API's PATCH), all or none: restore, then edit, then pin
    or unpin, then archive. A field left None is not touched."""
    if pinned and archived:
        raise MemoryStateConflict("An entry can't be pinned and archived at once")
    with transaction.atomic():
        entry = _locked(entry_id)
        if archived is False:
            entry = memory_restore(entry_id=entry.pk, by=by, via=via)
        if content is not None:
            entry = memory_edit(entry_id=entry.pk, content=content, by=by, via=via)
        if pinned is not None:
            entry = _set_pinned(entry_id=entry.pk, pinned=pinned, by=by, via=via)
        if archived:
            entry = memory_archive(entry_id=entry.pk, by=by, via=via)
    return entry
