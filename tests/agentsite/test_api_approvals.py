"""Approvals over the API: the same state machine as Telegram and the admin (200/404/409)."""

from datetime import timedelta

import pytest
import time_machine

from agentsite.core.clock import utc_now
from decisions.approvals import approval_ask, approval_reject
from decisions.models import Approval, ApprovalStatus
from memory.models import MemoryEntry, MemoryKind
from tests.factories.decisions import ApprovalFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def master(settings):
    settings.MASTER_CHAT_IDS = [1001]


def question() -> Approval:
    return approval_ask(question="Which first?", options=("Tea", "Code"), cycle=None)


@pytest.fixture
def expired(settings) -> Approval:
    """An approval past its deadline that the sweep has not marked yet."""
    settings.APPROVAL_TIMEOUT_SECONDS = 60
    approval = ApprovalFactory()
    Approval.objects.filter(pk=approval.pk).update(expires_at=utc_now() - timedelta(seconds=1))
    return approval


def test_the_list_shows_effective_statuses_and_pending_leaves_out_the_overdue(api, expired):
    fresh = ApprovalFactory(action="develop_skill")
    body = api.get("/api/approvals/").json()
    statuses = {a["id"]: a["status"] for a in body["results"]}
    assert statuses == {fresh.pk: "pending", expired.pk: "expired"}
    assert [a["id"] for a in api.get("/api/approvals/?status=pending").json()["results"]] == [fresh.pk]
    assert [a["id"] for a in api.get("/api/approvals/?status=expired").json()["results"]] == [expired.pk]


def test_the_list_filters_by_kind(api):
    ApprovalFactory()
    q = question()
    assert [a["id"] for a in api.get("/api/approvals/?kind=question").json()["results"]] == [q.pk]


def test_a_bad_status_filter_is_400(api):
    response = api.get("/api/approvals/?status=maybe")
    assert response.status_code == 400 and "status" in response.json()["errors"]


def test_the_detail_shows_the_decision(api):
    approval = ApprovalFactory(action="develop_skill", certainty=0.6)
    body = api.get(f"/api/approvals/{approval.pk}/").json()
    assert (body["id"], body["kind"], body["status"], body["action"]) == (
        approval.pk, "decision", "pending", "develop_skill",
    )
    assert body["payload"]["certainty"] == 0.6 and body["decided_by"] == ""


def test_approving_runs_the_service_and_the_decision_is_executed(
    api, staff_user, django_capture_on_commit_callbacks
):
    approval = ApprovalFactory(action="meditate", certainty=0.5)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post(f"/api/approvals/{approval.pk}/approve/", {"note": "go on"}, format="json")
    assert response.status_code == 200
    assert len(callbacks) == 1  # the service queued the execution on commit
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXECUTED and approval.result["status"] == "ok"
    assert (approval.decided_by, approval.decided_via, approval.note) == (staff_user.username, "api", "go on")
    assert MemoryEntry.objects.filter(kind=MemoryKind.REFLECTION).count() == 1
    body = response.json()
    assert body["decided_by"] == "master" and body["decided_via"] == "api"
    assert body["status"] in ("approved", "executed")


def test_approving_needs_no_body(api, django_capture_on_commit_callbacks):
    approval = ApprovalFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/approvals/{approval.pk}/approve/")
    assert response.status_code == 200
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXECUTED and approval.note == ""


def test_rejecting_stores_the_note_and_the_agent_remembers_it(api):
    approval = ApprovalFactory(action="develop_skill")
    response = api.post(f"/api/approvals/{approval.pk}/reject/", {"note": "not now, rest"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["note"], body["decided_by"], body["decided_via"]) == (
        "rejected", "not now, rest", "master", "api",
    )
    guidance = MemoryEntry.objects.get(kind=MemoryKind.GUIDANCE)  # the reason is the Master's feedback
    assert "rejected develop_skill" in guidance.content and "not now, rest" in guidance.content


def test_answering_a_question_becomes_guidance(api):
    q = question()
    response = api.post(f"/api/approvals/{q.pk}/answer/", {"answer": "Code, then tea"}, format="json")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["answer"]) == ("answered", "Code, then tea")
    guidance = MemoryEntry.objects.get(kind=MemoryKind.GUIDANCE)
    assert "Which first?" in guidance.content and "Code, then tea" in guidance.content


@pytest.mark.parametrize(
    ("verb", "body"), [("approve", {}), ("reject", {"note": "no"}), ("answer", {"answer": "yes"})]
)
def test_deciding_an_unknown_approval_is_404(api, verb, body):
    response = api.post(f"/api/approvals/424242/{verb}/", body, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "approval #424242 does not exist", "code": "not_found"}


def test_an_unknown_approval_is_404(api):
    assert api.get("/api/approvals/424242/").status_code == 404


@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_deciding_a_decided_approval_is_409(api, verb):
    approval = ApprovalFactory()
    approval_reject(approval_id=approval.pk, by="someone", via="telegram")
    response = api.post(f"/api/approvals/{approval.pk}/{verb}/", {}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"approval #{approval.pk} is already rejected", "code": "conflict", "status": "rejected",
    }
    approval.refresh_from_db()
    assert approval.decided_by == "someone"  # unchanged


def test_answering_an_answered_question_is_409(api):
    q = question()
    assert api.post(f"/api/approvals/{q.pk}/answer/", {"answer": "Tea"}, format="json").status_code == 200
    response = api.post(f"/api/approvals/{q.pk}/answer/", {"answer": "Code"}, format="json")
    assert response.status_code == 409 and response.json()["status"] == "answered"


@pytest.mark.parametrize(
    ("verb", "body"), [("approve", {}), ("reject", {"note": "late"}), ("answer", {"answer": "late"})]
)
def test_deciding_an_expired_approval_is_409(api, expired, verb, body):
    if verb == "answer":
        expired = question()
        Approval.objects.filter(pk=expired.pk).update(expires_at=utc_now() - timedelta(seconds=1))
    response = api.post(f"/api/approvals/{expired.pk}/{verb}/", body, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"approval #{expired.pk} has expired", "code": "conflict", "status": "expired",
    }


def test_an_approval_expires_with_time(api, settings):
    settings.APPROVAL_TIMEOUT_SECONDS = 60
    approval = ApprovalFactory()
    with time_machine.travel(utc_now() + timedelta(minutes=2), tick=False):
        assert api.get(f"/api/approvals/{approval.pk}/").json()["status"] == "expired"
        response = api.post(f"/api/approvals/{approval.pk}/approve/", {}, format="json")
    assert response.status_code == 409 and response.json()["status"] == "expired"


def test_approving_a_question_or_answering_a_decision_is_400(api):
    q, d = question(), ApprovalFactory()
    response = api.post(f"/api/approvals/{q.pk}/approve/", {}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": f"approval #{q.pk} is a question: answer it instead", "code": "invalid"}
    assert api.post(f"/api/approvals/{d.pk}/answer/", {"answer": "yes"}, format="json").status_code == 400


@pytest.mark.parametrize(
    ("verb", "body", "field"),
    [
        ("answer", {}, "answer"),
        ("answer", {"answer": ""}, "answer"),
        ("answer", {"answer": "x" * 4_001}, "answer"),
        ("answer", {"answer": ["yes"]}, "answer"),
        ("reject", {"note": "x" * 2_001}, "note"),
        ("reject", {"note": 5, "why": "typo"}, "why"),
        ("approve", {"notes": "typo"}, "notes"),
        ("approve", {"note": None}, "note"),
    ],
)
def test_bad_bodies_are_400_and_change_nothing(api, verb, body, field):
    approval = question() if verb == "answer" else ApprovalFactory()
    response = api.post(f"/api/approvals/{approval.pk}/{verb}/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and field in response.json()["errors"]
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


def test_a_body_that_is_not_an_object_is_400(api):
    approval = ApprovalFactory()
    response = api.post(f"/api/approvals/{approval.pk}/reject/", ["no"], format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_malformed_json_is_400(api):
    approval = ApprovalFactory()
    response = api.post(f"/api/approvals/{approval.pk}/reject/", "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"


def test_only_json_bodies_are_accepted(api):
    approval = ApprovalFactory()
    response = api.post(f"/api/approvals/{approval.pk}/reject/", {"note": "x"}, format="multipart")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"
