"""What memory puts into a proactive prompt, in ONE bounded SELECT (`memory_for_prompt`):
the newest cycle summaries (the prompt's recent actions), the pinned entries, and a pool
of recent knowledge (reflections, notes, results, guidance, outcomes, digests) from which
the entries most relevant to the current focus and tasks are picked in Python
(`memory_relevant`: shared words, then recency). Archived entries never come back.

The SELECT is `id IN (newest summaries UNION ALL pinned UNION ALL pool per kind)`, each
part bounded and read in an index's order (memory_kind_newest, memory_pinned_newest),
the rows then looked up by primary key; its SQL is compiled once per connection
(agentsite.core.compiled)."""

import re
from dataclasses import dataclass, field

from django.db.models.expressions import RawSQL

from agentsite.core.compiled import rows_compiled

from .models import MemoryEntry, MemoryKind

POOL_KINDS = [MemoryKind.REFLECTION, MemoryKind.SKILL_NOTE, MemoryKind.TASK_RESULT, MemoryKind.GUIDANCE,
              MemoryKind.OUTCOME, MemoryKind.DIGEST]
PINNED_MAX = 6
POOL_PER_KIND = 8  # 48 candidates in all
_FIELDS = ("id", "kind", "content", "pinned", "created_at")
_WORD = re.compile(r"[^\W_]{4,}", re.UNICODE)
# Words too common to say what an entry is about (only words of 4+ letters are used at all).
_STOP = frozenset(
    "about after again also been before being could does doing done each from have into just like more most "
    "much must only other over same should some such than that their them then there these they this those "
    "through under very what when where which while will with would your task tasks".split()
)


@dataclass(frozen=True)
class PromptMemory:
    recent_actions: list[str] = field(default_factory=list)  # newest first
    pinned: list[tuple] = field(default_factory=list)  # (id, kind, content, pinned, created_at), newest first
    pool: list[tuple] = field(default_factory=list)  # the same, newest first, neither pinned nor an action


def _query(actions: int):
    live = MemoryEntry.objects.filter(archived_at__isnull=True).order_by("-created_at", "-id")
    parts = [
        live.filter(kind=MemoryKind.CYCLE_SUMMARY).values("id")[:actions],
        MemoryEntry.objects.filter(pinned=True).order_by("-created_at", "-id").values("id")[:PINNED_MAX],
        # The pool: the newest few of each kind, each read in memory_kind_newest's order
        # (one read of "the newest of these kinds" would sort every entry of them on SQLite).
        *(live.filter(kind=kind).values("id")[:POOL_PER_KIND] for kind in POOL_KINDS),
    ]
    # One IN over a UNION ALL of the three bounded reads: the database looks the few ids up
    # by primary key (an OR of three INs would have PostgreSQL filter every row). Each part
    # is a derived table, as SQLite allows no LIMIT in a compound's own members.
    sqls, params = [], []
    for n, part in enumerate(parts):
        sql, part_params = part.query.sql_with_params()
        sqls.append(f"SELECT id FROM ({sql}) AS part{n}")
        params.extend(part_params)
    ids = RawSQL(" UNION ALL ".join(sqls), params)
    return MemoryEntry.objects.filter(id__in=ids).order_by().values_list(*_FIELDS)  # sorted in Python


def memory_for_prompt(*, actions: int) -> PromptMemory:
    """The newest `actions` cycle summaries' texts, the pinned entries and the pool."""
    rows, _ = rows_compiled(("memory.for_prompt", actions), lambda: _query(actions))
    rows.sort(key=lambda row: (row[4], row[0]), reverse=True)  # newest first
    summaries = [row for row in rows if row[1] == MemoryKind.CYCLE_SUMMARY][:actions]
    in_actions = {row[0] for row in summaries}
    return PromptMemory(
        recent_actions=[row[2] for row in summaries],
        pinned=[row for row in rows if row[3]][:PINNED_MAX],
        pool=[row for row in rows if not row[3] and row[0] not in in_actions],
    )


def relevance_words(*texts: str) -> set[str]:
    """The words that say what the focus and tasks are about: 4+ letters, lower-cased, no
    common words."""
    return {w for text in texts for w in _WORD.findall((text or "")[:5_000].lower()) if w not in _STOP}


def memory_relevant(*, pool: list[tuple], words: set[str], limit: int) -> list[tuple]:
    """The pool's entries sharing most of `words` (at least one), the newest first on ties."""
    if not words or limit <= 0:
        return []
    scored = []
    for row in pool:
        shared = len(words & set(_WORD.findall(row[2][:5_000].lower())))
        if shared:
            scored.append((shared, row[4], row[0], row))
    scored.sort(key=lambda item: (item[0], item[1], item[2]), reverse=True)
    return [row for *_, row in scored[:limit]]
