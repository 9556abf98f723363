"""Skills, memory and the agent over the API."""

import re

import pytest

from actions.services import skill_practise
from decisions.agent import agent_pause, agent_state_get
from decisions.models import Cycle, CycleStatus
from memory.models import MemoryEntry, MemoryKind
from memory.selectors import memory_current_focus
from memory.services import memory_record
from tests.factories import decision_text

pytestmark = pytest.mark.django_db


# --- skills -----------------------------------------------------------------------------


def test_skills_are_listed_by_name_with_their_notes(api):
    skill_practise(name="Rust", note="ownership")
    skill_practise(name="haiku", note="5-7-5")
    skill_practise(name="haiku", note="kigo")
    body = api.get("/api/skills/").json()
    assert [(s["name"], s["practice_count"]) for s in body["results"]] == [("Rust", 1), ("haiku", 2)]
    haiku = body["results"][1]
    detail = api.get(f"/api/skills/{haiku['id']}/").json()
    assert "5-7-5" in detail["notes"] and "kigo" in detail["notes"]


def test_skills_are_read_only(api):
    assert api.post("/api/skills/", {"name": "x"}, format="json").status_code == 405
    assert api.delete("/api/skills/1/").json() == {"detail": 'Method "DELETE" not allowed.', "code": "method_not_allowed"}


def test_an_unknown_skill_is_404(api):
    assert api.get("/api/skills/77/").json() == {"detail": "Skill #77 does not exist", "code": "not_found"}


# --- memory -----------------------------------------------------------------------------


def test_memory_lists_newest_first_and_filters_by_kind_and_search(api):
    memory_record(kind=MemoryKind.REFLECTION, content="Patience is a Virtue")
    memory_record(kind=MemoryKind.GUIDANCE, content="Be brief")
    memory_record(kind=MemoryKind.REFLECTION, content="Tea first")
    body = api.get("/api/memory/").json()
    assert [e["content"] for e in body["results"]] == ["Tea first", "Be brief", "Patience is a Virtue"]
    assert api.get("/api/memory/?kind=guidance").json()["count"] == 1
    assert [e["content"] for e in api.get("/api/memory/?search=virtue").json()["results"]] == ["Patience is a Virtue"]
    assert api.get("/api/memory/?kind=guidance&search=virtue").json()["count"] == 0
    assert api.get("/api/memory/?search=%25").json()["count"] == 0  # % is literal, not a wildcard


@pytest.mark.parametrize("query", ["kind=dream", "search=" + "x" * 201, "search=a%00b"])
def test_bad_memory_filters_are_400(api, query):
    assert api.get(f"/api/memory/?{query}").status_code == 400


def test_posting_content_adds_guidance(api):
    response = api.post("/api/memory/", {"content": "Prefer small steps"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["content"]) == ("guidance", "Prefer small steps")
    entry = MemoryEntry.objects.get(pk=body["id"])
    assert entry.kind == MemoryKind.GUIDANCE and entry.meta == {"via": "api", "by": "master"}


def test_posting_a_focus_sets_the_current_focus(api):
    api.post("/api/memory/", {"content": "Learn Rust", "kind": "focus"}, format="json")
    response = api.post("/api/memory/", {"content": "Write haiku", "kind": "focus"}, format="json")
    assert response.status_code == 201 and response.json()["kind"] == "focus"
    assert memory_current_focus() == "Write haiku"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "content"),
        ({"content": ""}, "content"),
        ({"content": "x" * 10_001}, "content"),
        ({"content": "x", "kind": "working"}, "kind"),
        ({"content": "x", "kind": "reflection"}, "kind"),
        ({"content": "x", "meta": {}}, "meta"),
        ({"content": 12}, "content"),
        ({"content": None}, "content"),
    ],
)
def test_bad_memory_bodies_are_400(api, body, field):
    response = api.post("/api/memory/", body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"]
    assert not MemoryEntry.objects.exists()


# --- agent ------------------------------------------------------------------------------


def test_the_agent_status(api):
    body = api.get("/api/agent/").json()
    assert body == {
        "paused": False, "next_cycle_at": None, "last_cycle_at": None, "consecutive_failures": 0,
        "last_cycle": None, "pending_approvals": 0,
    }


def test_pause_and_resume_return_the_state(api):
    response = api.post("/api/agent/pause/")
    assert response.status_code == 200 and response.json()["paused"] is True
    assert agent_state_get().paused is True
    response = api.post("/api/agent/resume/")
    assert response.status_code == 200
    body = response.json()
    assert body["paused"] is False and body["next_cycle_at"] is not None  # the next tick runs
    assert agent_state_get().paused is False


def test_pause_is_idempotent(api):
    agent_pause()
    assert api.post("/api/agent/pause/").json()["paused"] is True


def test_the_status_reads_by_get_only(api):
    assert api.post("/api/agent/").status_code == 405
    assert api.get("/api/agent/pause/").status_code == 405


def test_run_cycle_queues_a_cycle_now(api, claude):
    claude.reply_text(decision_text(action="meditate", certainty=0.9, significance=0.2))
    response = api.post("/api/agent/run-cycle/")
    assert response.status_code == 202
    task_id = response.json()["task_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", task_id)
    # Django-Q2 runs tasks inline in the tests (sync): the cycle already ran.
    cycle = Cycle.objects.get()
    assert (cycle.trigger, cycle.status, cycle.action) == ("api", CycleStatus.COMPLETED, "meditate")
    status = api.get("/api/agent/").json()
    assert status["last_cycle"]["id"] == cycle.pk and status["last_cycle"]["status"] == "completed"


def test_run_cycle_while_paused_records_a_skipped_cycle(api, claude):
    agent_pause()
    assert api.post("/api/agent/run-cycle/").status_code == 202
    cycle = Cycle.objects.get()
    assert (cycle.trigger, cycle.status, cycle.reason) == ("api", CycleStatus.SKIPPED, "paused")
    assert not claude.message_requests


def test_run_cycle_with_the_queue_down_is_503_not_500(api, monkeypatch):
    import django_q.tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(django_q.tasks, "async_task", broker_down)
    response = api.post("/api/agent/run-cycle/")
    assert response.status_code == 503
    assert response.json() == {"detail": "The task queue is unavailable; try again shortly", "code": "unavailable"}


def test_reading_the_agent_state_writes_nothing(api):
    from decisions.models import AgentState

    assert api.get("/api/agent/").status_code == 200
    assert AgentState.objects.count() == 0
