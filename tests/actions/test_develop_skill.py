import json

import pytest

from actions.handlers.develop_skill import MAX_NOTE_TOKENS
from actions.models import Skill
from budget.models import LedgerEntry, Reservation, ReservationStatus
from memory.models import MemoryEntry, MemoryKind
from tests.fakes.anthropic_api import OVERLOADED, error_reply

pytestmark = pytest.mark.django_db

STUDY = {"skill_name": "Rust ownership", "approach": "explain borrowing with one example", "duration_estimate": 20}


def test_develop_skill_asks_the_model_for_a_study_note_on_the_skill(claude, run):
    claude.reply_text("Ownership: each value has one owner.")
    run("develop_skill", STUDY)
    [request] = claude.message_requests
    body = request.json
    prompt = body["messages"][0]["content"]
    assert "Rust ownership" in prompt and "explain borrowing with one example" in prompt and "20 minutes" in prompt
    assert body["max_tokens"] == MAX_NOTE_TOKENS
    assert "study note" in body["system"][0]["text"]


def test_develop_skill_creates_the_skill_and_keeps_the_note(claude, run):
    claude.reply_text("Ownership: each value has one owner.")
    result = run("develop_skill", STUDY, cycle_id=42)
    assert result.status == "ok"
    skill = Skill.objects.get()
    assert (skill.name, skill.practice_count) == ("Rust ownership", 1)
    assert "each value has one owner" in skill.notes
    assert skill.last_practised_at is not None
    note = MemoryEntry.objects.get(kind=MemoryKind.SKILL_NOTE)
    assert "each value has one owner" in note.content
    assert note.cycle_id == 42 and note.meta["skill_id"] == skill.pk
    assert result.data["skill_id"] == skill.pk
    assert result.data["summary"] == "studied Rust ownership (practice #1)"
    json.dumps(result.as_dict())


def test_practising_the_same_skill_again_counts_up_whatever_its_case(claude, run):
    claude.reply_text("first note")
    claude.reply_text("second note")
    run("develop_skill", STUDY)
    result = run("develop_skill", {**STUDY, "skill_name": "  rust   OWNERSHIP "})
    skill = Skill.objects.get()
    assert skill.practice_count == 2 and result.data["practice_count"] == 2
    assert skill.name == "Rust ownership"  # the display name as first written
    assert skill.notes.index("first note") < skill.notes.index("second note")


def test_develop_skill_records_its_call_in_the_ledger_as_proactive_with_the_cycle(claude, run, budget_limit):
    budget_limit(100_000)
    claude.reply_text("a note", input_tokens=300, output_tokens=50)
    run("develop_skill", STUDY, cycle_id=42)
    entry = LedgerEntry.objects.get()
    assert entry.scope == "proactive"
    assert entry.meta == {"cycle_id": 42, "action": "develop_skill", "scope": "proactive"}
    assert (entry.input_tokens, entry.output_tokens) == (300, 50)


def test_develop_skill_without_a_skill_name_is_invalid_and_calls_nothing(claude, run):
    result = run("develop_skill", {"approach": "read"})
    assert result.status == "invalid_details"
    assert "skill_name" in result.data["error"]
    assert claude.requests == []


def test_develop_skill_fails_cleanly_when_the_api_keeps_failing(claude, run, budget_limit):
    budget_limit(100_000)
    claude.fail(OVERLOADED, times=3)  # the first try and both SDK retries
    result = run("develop_skill", STUDY)
    assert result.status == "failed"
    assert result.data["error"] == "Claude API call failed (overloaded, HTTP 529)"
    assert "could not study Rust ownership" in result.data["summary"]
    assert Skill.objects.count() == 0 and MemoryEntry.objects.count() == 0
    assert Reservation.objects.get().status == ReservationStatus.RELEASED


def test_develop_skill_is_refused_before_sending_when_the_budget_cannot_cover_it(claude, run, budget_limit):
    budget_limit(100)
    result = run("develop_skill", STUDY)
    assert result.status == "failed"
    assert "budget exceeded" in result.data["error"].lower()
    assert claude.requests == []
    assert Skill.objects.count() == 0 and LedgerEntry.objects.count() == 0


def test_an_empty_note_from_the_model_writes_nothing(claude, run):
    claude.reply_text("   ")
    result = run("develop_skill", STUDY)
    assert result.status == "failed"
    assert Skill.objects.count() == 0 and MemoryEntry.objects.count() == 0


@pytest.mark.fault("Claude retry-after 4,000,000 s")
def test_a_retry_after_the_call_could_not_wait_out_holds_back_the_next_cycle(claude, run):
    claude.fail((429, "rate_limit_error"), retry_after=4_000_000.5)
    result = run("develop_skill", STUDY)
    assert result.status == "failed"
    assert result.effects.min_next_interval_seconds == 4_000_001


def test_a_failure_without_retry_after_asks_for_no_pause(claude, run, settings):
    settings.AGENT_LLM_MAX_RETRIES = 0
    claude.enqueue(error_reply(*OVERLOADED, headers={}))
    result = run("develop_skill", STUDY)
    assert result.status == "failed" and result.effects.min_next_interval_seconds is None
