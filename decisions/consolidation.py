"""The daily memory consolidation: once per UTC day, the oldest unpinned entries older than
MEMORY_CONSOLIDATE_AFTER_DAYS (at most MEMORY_CONSOLIDATE_BATCH) are sent to Claude on the
proactive budget (claude_complete reserves first, so it can't overspend) for a digest; the
digest becomes a DIGEST entry (meta: the folded ids) and the folded entries are archived
(audited, via system), in one transaction, recorded as a Cycle (trigger "consolidation")
with its tokens.

Single-flight with the proactive cycles (it holds the cycle lock) and idempotent per day:
under the lock, a completed consolidation today means there is nothing to do (one left
`running` by a dead process is failed as abandoned first, its reservation charged). Faults archive nothing: a model outage or a short budget leaves it for the next run
(hourly, at most MAX_FAILED_PER_DAY failed attempts a day); an empty or invalid digest
fails the attempt."""

import json
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from agentsite.core.clock import utc_day_start, utc_now
from budget.client import claude_complete, claude_configured
from budget.errors import BudgetExceeded, ClaudeCallError
from budget.models import Scope
from budget.selectors import budget_stats
from budget.text import text_clip
from budget.usage import estimate_input_upper_bound
from agentsite.core.surfaces import Surface
from memory.models import MemoryKind
from memory.selectors import memory_consolidation_batch
from memory.services import memory_record
from memory.shaping import memory_archive_many

from .agent import agent_state_get, cycle_lock_acquire, cycle_lock_release
from .cycle_records import cycles_fail_abandoned
from .models import Cycle, CycleStatus

logger = logging.getLogger(__name__)

TRIGGER = "consolidation"
ACTION = "consolidate_memory"
MIN_ENTRIES = 5  # fewer old entries than this: not worth a call
MAX_FAILED_PER_DAY = 3
MAX_TOKENS = 1_024
ENTRY_CHARS = 500
DIGEST_MAX_CHARS = 4_000
BY = "consolidation"

SYSTEM = """\
You keep the long-term memory of an autonomous agent useful. You are given its oldest \
memory entries. Fold them into one digest: the facts, lessons, outcomes, decisions and open \
threads still worth remembering, grouped by topic, without repetition; leave out what no \
longer matters. Write plain sentences, at most 300 words.
Reply with one JSON object and nothing else: {"digest": "<the digest>"}"""


class InvalidDigest(ValueError):
    pass


def consolidation_run() -> Cycle | None:
    """Consolidate today if due: the Cycle it recorded, or None when there was nothing to
    do (off, paused, done today, too few old entries, no credentials, locked, budget short)."""
    if settings.MEMORY_CONSOLIDATE_AFTER_DAYS <= 0 or not claude_configured():
        return None
    if agent_state_get().paused:
        return None
    token = cycle_lock_acquire(state_exists=True)
    if token is None:
        return None  # a cycle runs; the next run tries again
    try:
        return _run_locked()
    finally:
        cycle_lock_release(token=token)


def _due_today(now) -> bool:
    cycles_fail_abandoned()  # we hold the lock: a `running` row is a dead process's
    today = Cycle.objects.filter(trigger=TRIGGER, started_at__gte=utc_day_start(now.date()))
    if today.filter(status=CycleStatus.COMPLETED).exists():
        return False
    return today.filter(status=CycleStatus.FAILED).count() < MAX_FAILED_PER_DAY


def _run_locked() -> Cycle | None:
    now = utc_now()
    if not _due_today(now):
        return None
    before = now - timedelta(days=settings.MEMORY_CONSOLIDATE_AFTER_DAYS)
    entries = memory_consolidation_batch(before=before, limit=settings.MEMORY_CONSOLIDATE_BATCH)
    if len(entries) < MIN_ENTRIES:
        return None
    user = "\n".join(f"#{e.pk} [{e.kind}] {e.created_at:%Y-%m-%d}: {_line(e.content)}" for e in entries)
    messages = [{"role": "user", "content": f"The entries, oldest first:\n{user}"}]
    bound = estimate_input_upper_bound(system=SYSTEM, messages=messages) + MAX_TOKENS
    if budget_stats()["proactive"]["remaining"] < bound + settings.PROACTIVE_MIN_CYCLE_TOKENS:
        return None  # budget short: leave room for the proactive cycles; try another day
    started = time.monotonic()
    cycle = Cycle.objects.create(status=CycleStatus.RUNNING, trigger=TRIGGER, action=ACTION, prompt=text_clip(user))
    try:
        reply = claude_complete(system=SYSTEM, messages=messages, scope=Scope.PROACTIVE, max_tokens=MAX_TOKENS,
                                meta={"cycle_id": cycle.pk, "purpose": "consolidation"})
    except BudgetExceeded:
        cycle.delete()  # nothing was sent
        return None
    except ClaudeCallError as exc:
        return _close(cycle, started, status=CycleStatus.FAILED, reason=exc.kind, error=exc.message)
    cycle.raw_response = text_clip(reply.text)
    cycle.input_tokens, cycle.output_tokens = reply.usage.input, reply.usage.output
    cycle.cache_creation_input_tokens, cycle.cache_read_input_tokens = reply.usage.cache_creation, reply.usage.cache_read
    try:
        digest = digest_parse(reply.text, stop_reason=reply.stop_reason)
    except InvalidDigest as exc:
        return _close(cycle, started, status=CycleStatus.FAILED, reason="invalid_digest", error=str(exc))
    return _fold(cycle, started, digest=digest, ids=[e.pk for e in entries])


def _line(text: str) -> str:
    return " ".join(text[: ENTRY_CHARS * 2].split())[:ENTRY_CHARS]


def digest_parse(text: str, *, stop_reason: str | None = "end_turn") -> str:
    """The digest in a reply `{"digest": "..."}` (a code fence around it is tolerated)."""
    if stop_reason != "end_turn":
        raise InvalidDigest(f"the reply was cut off ({stop_reason})")
    body = (text or "").strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        data = json.loads(body)
    except ValueError:
        raise InvalidDigest("the reply is not a JSON object") from None
    digest = data.get("digest") if isinstance(data, dict) else None
    if not isinstance(digest, str) or not digest.strip():
        raise InvalidDigest("the reply has no digest")
    if len(digest) > DIGEST_MAX_CHARS:
        raise InvalidDigest(f"the digest is {len(digest):,} characters; at most {DIGEST_MAX_CHARS:,}")
    return digest.strip()


def _fold(cycle: Cycle, started: float, *, digest: str, ids: list[int]) -> Cycle:
    """One transaction: the digest entry, the folded entries archived, the cycle completed."""
    with transaction.atomic():
        archived = memory_archive_many(entry_ids=ids, by=BY, via=Surface.SYSTEM)
        if not archived:  # all pinned or archived meanwhile: keep nothing of it
            return _close(cycle, started, status=CycleStatus.FAILED, reason="nothing_to_fold", error="")
        entry = memory_record(kind=MemoryKind.DIGEST, content=digest, cycle_id=cycle.pk,
                              meta={"folded": archived, "count": len(archived)})
        cycle.result = {"status": "done", "summary": f"folded {len(archived)} entries into digest #{entry.pk}",
                        "digest_id": entry.pk, "folded": archived}
        cycle.executed = True
        return _close(cycle, started, status=CycleStatus.COMPLETED)


def _close(cycle: Cycle, started: float, *, status: str, reason: str = "", error: str = "") -> Cycle:
    cycle.status, cycle.reason, cycle.error = status, reason, error
    cycle.finished_at = utc_now()
    cycle.duration_ms = int((time.monotonic() - started) * 1000)
    cycle.save()
    if status == CycleStatus.FAILED:
        logger.warning("Memory consolidation (cycle %s) failed: %s %s", cycle.pk, reason, error)
    return cycle
