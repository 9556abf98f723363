"""Memory writes. Entries are capped in size so no single one can flood a prompt."""

from .models import MemoryEntry, MemoryKind

MAX_CONTENT_CHARS = 20_000


def memory_record(*, kind: str, content: str, meta: dict | None = None, cycle_id: int | None = None) -> MemoryEntry:
    entry = _entry(kind=kind, content=content, meta=meta, cycle_id=cycle_id)
    entry.save()
    return entry


def _entry(*, kind: str, content: str, meta: dict | None = None, cycle_id: int | None = None) -> MemoryEntry:
    if kind not in MemoryKind.values:
        raise ValueError(f"unknown memory kind: {kind!r}")
    return MemoryEntry(kind=kind, content=(content or "")[:MAX_CONTENT_CHARS], meta=meta or {}, cycle_id=cycle_id)


def _cycle_summary(*, cycle_id: int, action: str, status: str, reasoning: str, result: dict | None) -> MemoryEntry:
    outcome = (result or {}).get("status", status)
    summary = (result or {}).get("summary") or ""
    text = f"{action} -> {outcome}"
    if summary:
        text += f": {summary}"
    if reasoning:
        text += f" (why: {reasoning[:300]})"
    return _entry(
        kind=MemoryKind.CYCLE_SUMMARY, content=text,
        meta={"action": action, "status": status, "outcome": outcome}, cycle_id=cycle_id,
    )


def memory_summarize_cycle(
    *, cycle_id: int, action: str, status: str, reasoning: str, result: dict | None = None
) -> MemoryEntry:
    """One line the next prompts show under "recent actions"."""
    entry = _cycle_summary(cycle_id=cycle_id, action=action, status=status, reasoning=reasoning, result=result)
    entry.save()
    return entry


def memory_record_cycle(
    *, cycle_id: int, action: str, status: str, reasoning: str, result: dict | None = None, aroma: str
) -> list[MemoryEntry]:
    """A finished cycle's memory in one INSERT: its summary line (`memory_summarize_cycle`)
    and the aroma the next prompt starts from (`memory_store_aroma`), in that order."""
    entries = [
        _cycle_summary(cycle_id=cycle_id, action=action, status=status, reasoning=reasoning, result=result),
        _entry(kind=MemoryKind.AROMA, content=aroma, cycle_id=cycle_id),
    ]
    return MemoryEntry.objects.bulk_create(entries)


def memory_update_working(*, content: str, cycle_id: int | None = None) -> MemoryEntry:
    return memory_record(kind=MemoryKind.WORKING, content=content, cycle_id=cycle_id)


def memory_store_aroma(*, content: str, cycle_id: int | None = None) -> MemoryEntry:
    """The short scent of this cycle that the next prompt starts from."""
    return memory_record(kind=MemoryKind.AROMA, content=content, cycle_id=cycle_id)


def memory_set_focus(*, content: str) -> MemoryEntry:
    """The Master's (or the agent's) current focus; the newest one counts."""
    return memory_record(kind=MemoryKind.FOCUS, content=content)


def memory_add_guidance(*, content: str, meta: dict | None = None) -> MemoryEntry:
    return memory_record(kind=MemoryKind.GUIDANCE, content=content, meta=meta)
