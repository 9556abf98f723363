"""The daily memory consolidation through the real SDK against the fake: old unpinned
entries folded into a digest and archived in one transaction, recorded as a Cycle with its
tokens; once a day; faults archive nothing."""

import json
from datetime import timedelta

import pytest
import time_machine

from agentsite.core.clock import utc_now
from budget.models import LedgerEntry, Reservation, ReservationStatus
from decisions.agent import agent_pause, agent_state_get, cycle_lock_acquire
from decisions.consolidation import InvalidDigest, consolidation_run, digest_parse
from decisions.models import Cycle, CycleStatus
from decisions.selectors import cycle_view_read, prompt_context_gather
from memory.models import MemoryEntry, MemoryKind, MemoryRevision
from memory.services import memory_add_guidance, memory_record
from memory.shaping import memory_pin
from tests.fakes.anthropic_api import OVERLOADED

pytestmark = pytest.mark.django_db

DIGEST = {"digest": "The Master likes green tea. Rust lifetimes were studied; the kite task is done."}


@pytest.fixture
def old_memory():
    """Six old entries to fold, one old pinned, old guidance and a recent entry (kept)."""
    agent_state_get()
    with time_machine.travel(utc_now() - timedelta(days=10), tick=False):
        old = [memory_record(kind=kind, content=f"old {kind} {i}") for i, kind in enumerate(
            [MemoryKind.CYCLE_SUMMARY, MemoryKind.REFLECTION, MemoryKind.TASK_RESULT, MemoryKind.OUTCOME,
             MemoryKind.SKILL_NOTE, MemoryKind.WORKING])]
        pinned = memory_record(kind=MemoryKind.REFLECTION, content="old but pinned")
        guidance = memory_add_guidance(content="old guidance from the Master")
    memory_pin(entry_id=pinned.pk, by="m", via="api")
    recent = memory_record(kind=MemoryKind.REFLECTION, content="a recent thought")
    return {"old": old, "kept": [pinned, guidance, recent]}


def _live_ids():
    return set(MemoryEntry.objects.filter(archived_at__isnull=True).values_list("pk", flat=True))


def test_old_entries_become_one_digest_and_are_archived(claude, old_memory):
    claude.reply_json(DIGEST, input_tokens=900, output_tokens=60)
    cycle = consolidation_run()
    assert (cycle.status, cycle.trigger, cycle.action) == (CycleStatus.COMPLETED, "consolidation", "consolidate_memory")
    assert (cycle.input_tokens, cycle.output_tokens) == (900, 60)
    old_ids = [e.pk for e in old_memory["old"]]
    digest = MemoryEntry.objects.get(kind=MemoryKind.DIGEST)
    assert digest.content == DIGEST["digest"] and digest.meta["folded"] == old_ids and digest.cycle_id == cycle.pk
    assert cycle.result["digest_id"] == digest.pk and cycle.result["folded"] == old_ids
    assert _live_ids() == {digest.pk, *(e.pk for e in old_memory["kept"])}
    assert set(MemoryRevision.objects.values_list("entry_id", "field", "via", "by").filter(via="system")) == {
        (pk, "archived", "system", "consolidation") for pk in old_ids}
    sent = claude.message_requests[-1].json["messages"][0]["content"]
    assert all(e.content in sent for e in old_memory["old"]) and "pinned" not in sent and "recent" not in sent
    ledger = LedgerEntry.objects.get()
    assert (ledger.scope, ledger.meta["cycle_id"], ledger.meta["purpose"]) == ("proactive", cycle.pk, "consolidation")


def test_once_a_day_then_again_the_next_day(claude, old_memory):
    claude.reply_json(DIGEST)
    assert consolidation_run().status == CycleStatus.COMPLETED
    with time_machine.travel(utc_now() - timedelta(days=10), tick=False):
        for i in range(5):
            memory_record(kind=MemoryKind.REFLECTION, content=f"another old {i}")
    assert consolidation_run() is None  # done today: no second call
    assert len(claude.message_requests) == 1
    with time_machine.travel(utc_now() + timedelta(days=1), tick=False):
        claude.reply_json(DIGEST)
        assert consolidation_run().status == CycleStatus.COMPLETED
    assert MemoryEntry.objects.filter(kind=MemoryKind.DIGEST).count() == 2


@pytest.mark.fault("Claude 529 during consolidation")
def test_an_outage_archives_nothing_and_the_next_run_retries(claude, old_memory):
    claude.fail(OVERLOADED, times=3)
    failed = consolidation_run()
    assert (failed.status, failed.reason) == (CycleStatus.FAILED, "overloaded")
    assert not MemoryRevision.objects.filter(via="system").exists()
    assert not MemoryEntry.objects.filter(kind=MemoryKind.DIGEST).exists()
    assert Reservation.objects.get().status == ReservationStatus.RELEASED
    claude.reply_json(DIGEST)
    assert consolidation_run().status == CycleStatus.COMPLETED


@pytest.mark.fault("Invalid consolidation digest")
@pytest.mark.parametrize("text", ["not json", json.dumps({"digest": "   "}), json.dumps({"summary": "x"}),
                                  json.dumps(["digest"]), json.dumps({"digest": "x" * 4_001})])
def test_an_empty_or_invalid_digest_archives_nothing(claude, old_memory, text):
    claude.reply_text(text)
    cycle = consolidation_run()
    assert (cycle.status, cycle.reason) == (CycleStatus.FAILED, "invalid_digest") and cycle.error
    assert cycle.input_tokens > 0  # the call still counted
    assert _live_ids() >= {e.pk for e in old_memory["old"]}
    assert not MemoryEntry.objects.filter(kind=MemoryKind.DIGEST).exists()


def test_three_failures_a_day_at_most(claude, old_memory):
    for _ in range(3):
        claude.reply_text("nonsense")
        assert consolidation_run().status == CycleStatus.FAILED
    assert consolidation_run() is None
    assert len(claude.message_requests) == 3


def test_nothing_to_do_makes_no_call_and_no_row(claude, settings):
    agent_state_get()
    with time_machine.travel(utc_now() - timedelta(days=10), tick=False):
        for i in range(4):  # fewer than five old entries
            memory_record(kind=MemoryKind.REFLECTION, content=f"old {i}")
    assert consolidation_run() is None
    assert not claude.message_requests and not Cycle.objects.exists()


@pytest.mark.parametrize("why", ["off", "paused", "locked", "budget short", "no credentials"])
def test_it_waits_when_off_paused_locked_short_of_budget_or_without_credentials(
        claude, old_memory, settings, budget_limit, why):
    if why == "off":
        settings.MEMORY_CONSOLIDATE_AFTER_DAYS = 0
    elif why == "paused":
        agent_pause()
    elif why == "locked":
        assert cycle_lock_acquire() is not None
    elif why == "budget short":
        budget_limit(2_500, min_cycle=1_000)  # too little for the call and a proactive cycle after it
    else:
        settings.ANTHROPIC_API_KEY = ""
    assert consolidation_run() is None
    assert not claude.message_requests and not Cycle.objects.exists()
    assert not MemoryRevision.objects.filter(via="system").exists()


def test_a_consolidation_does_not_hide_new_guidance_from_the_next_cycle(claude, old_memory):
    memory_add_guidance(content="Fresh advice")
    claude.reply_json(DIGEST)
    consolidation_run()
    assert "Fresh advice" in prompt_context_gather().answers
    view = cycle_view_read()
    assert view.any_new_answer and "Fresh advice" in prompt_context_gather(view=view).answers


def test_digest_parse_accepts_a_fenced_object_and_refuses_a_cut_off_reply():
    assert digest_parse('```json\n{"digest": " tidy "}\n```') == "tidy"
    with pytest.raises(InvalidDigest, match="cut off"):
        digest_parse('{"digest": "x"}', stop_reason="max_tokens")
