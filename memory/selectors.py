"""Memory reads, each bounded in count so its cost and size stay flat as memory grows."""

from datetime import datetime

from django.db.models import Subquery

from .errors import MemoryNotFound
from .models import MemoryEntry, MemoryKind


def _live():
    """Entries not archived: what prompts and default lists show."""
    return MemoryEntry.objects.filter(archived_at__isnull=True)


def memory_recent(*, kinds: list[str] | None = None, limit: int = 10, since: datetime | None = None) -> list[MemoryEntry]:
    qs = _live()
    if kinds:
        qs = qs.filter(kind__in=kinds)
    if since is not None:
        qs = qs.filter(created_at__gt=since)
    return list(qs.order_by("-created_at", "-id")[:limit])


def memory_recent_actions(*, limit: int = 10) -> list[MemoryEntry]:
    return memory_recent(kinds=[MemoryKind.CYCLE_SUMMARY], limit=limit)


def memory_latest(*, kind: str) -> MemoryEntry | None:
    return _live().filter(kind=kind).order_by("-created_at", "-id").first()


def memory_last_aroma() -> str:
    entry = memory_latest(kind=MemoryKind.AROMA)
    return entry.content if entry else ""


def memory_current_focus() -> str:
    entry = memory_latest(kind=MemoryKind.FOCUS)
    return entry.content if entry else ""


def memory_latest_subquery(*, kind: str, field: str = "content") -> Subquery:
    """A field of the newest entry of one kind (None when there is none), as an expression
    another read can annotate: one row read in the memory_kind_newest index's order."""
    return Subquery(_live().filter(kind=kind).order_by("-created_at", "-id").values(field)[:1])


def memory_browse(*, include_archived: bool = False):
    """Every entry (archived ones only when asked), newest first: a lazy queryset the
    caller filters and pages."""
    qs = MemoryEntry.objects.all() if include_archived else _live()
    return qs.order_by("-created_at", "-id")


def memory_get(*, entry_id: int) -> MemoryEntry:
    """One entry, archived or not, with its revisions (newest first) prefetched."""
    try:
        return MemoryEntry.objects.prefetch_related("revisions").get(pk=entry_id)
    except (MemoryEntry.DoesNotExist, TypeError, ValueError, OverflowError):
        raise MemoryNotFound(entry_id) from None


# What consolidation folds: the agent's own records. Not the Master's guidance, the focus
# (the newest one counts however old), the aroma (the next prompt's scent) or digests.
CONSOLIDATE_KINDS = [MemoryKind.CYCLE_SUMMARY, MemoryKind.WORKING, MemoryKind.REFLECTION, MemoryKind.SKILL_NOTE,
                     MemoryKind.TASK_RESULT, MemoryKind.OUTCOME]


def memory_consolidation_batch(*, before: datetime, limit: int) -> list[MemoryEntry]:
    """The oldest live, unpinned entries of CONSOLIDATE_KINDS written before `before`."""
    return list(
        _live().filter(kind__in=CONSOLIDATE_KINDS, pinned=False, created_at__lt=before)
        .order_by("created_at", "id")[:limit]
    )
