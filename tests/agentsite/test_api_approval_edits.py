"""Edit, then approve; reject with feedback, over the API (and its OpenAPI schema)."""

import pytest

from decisions.models import Approval, ApprovalStatus, Notification
from memory.models import MemoryEntry, MemoryKind
from tests.factories.decisions import ApprovalFactory

pytestmark = pytest.mark.django_db

OUTREACH = {"chat_id": 5555, "message": "Hello from the agent", "purpose": "introduce"}


@pytest.fixture(autouse=True)
def master(settings):
    settings.MASTER_CHAT_IDS = [1001]


def test_approve_with_details_runs_the_edit_and_shows_both(api, django_capture_on_commit_callbacks):
    approval = ApprovalFactory(action="proactive_outreach", certainty=0.99)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"/api/approvals/{approval.pk}/approve/", {"details": {"message": "Edited hello"}}, format="json"
        )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] in ("approved", "executed")
    assert Approval.objects.get(pk=approval.pk).status == ApprovalStatus.EXECUTED
    assert body["payload"]["details"] == OUTREACH
    assert body["edited_details"] == {**OUTREACH, "message": "Edited hello"}
    assert Notification.objects.get(chat_id=5555).text == "Edited hello"


def test_an_invalid_edit_is_a_400_naming_the_field_and_nothing_changes(api):
    approval = ApprovalFactory(action="proactive_outreach")
    response = api.post(f"/api/approvals/{approval.pk}/approve/", {"details": {"message": ""}}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and body["field"] == "message" and "at least 1 character" in body["detail"]
    approval.refresh_from_db()
    assert (approval.status, approval.edited_details) == (ApprovalStatus.PENDING, None)
    assert not Notification.objects.filter(chat_id=5555).exists()


@pytest.mark.parametrize("details", ["a string", ["a", "list"], 3])
def test_details_must_be_an_object(api, details):
    approval = ApprovalFactory(action="proactive_outreach")
    response = api.post(f"/api/approvals/{approval.pk}/approve/", {"details": details}, format="json")
    assert response.status_code == 400 and "details" in response.json()["errors"]
    assert Approval.objects.get(pk=approval.pk).status == ApprovalStatus.PENDING


def test_editing_a_question_is_refused(api):
    question = ApprovalFactory(kind="question")
    response = api.post(f"/api/approvals/{question.pk}/approve/", {"details": {"x": 1}}, format="json")
    assert response.status_code == 400 and "answer it instead" in response.json()["detail"]


def test_reject_with_feedback_becomes_guidance(api):
    approval = ApprovalFactory(action="develop_skill")
    response = api.post(f"/api/approvals/{approval.pk}/reject/", {"feedback": "Practise later."}, format="json")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["note"]) == ("rejected", "Practise later.")
    guidance = MemoryEntry.objects.get(kind=MemoryKind.GUIDANCE)
    assert guidance.content.endswith(": Practise later.")


def test_reject_rejects_unknown_keys_and_non_strings(api):
    approval = ApprovalFactory()
    assert api.post(f"/api/approvals/{approval.pk}/reject/", {"feedbak": "x"}, format="json").status_code == 400
    assert api.post(f"/api/approvals/{approval.pk}/reject/", {"feedback": 12}, format="json").status_code == 400
    assert Approval.objects.get(pk=approval.pk).status == ApprovalStatus.PENDING


def test_the_schema_documents_details_and_feedback(anon):
    schema = anon.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]

    def body_of(verb: str) -> dict:
        ref = schema["paths"][f"/api/approvals/{{id}}/{verb}/"]["post"]["requestBody"]["content"]["application/json"]
        return components[ref["schema"]["$ref"].rsplit("/", 1)[1]]["properties"]

    assert body_of("approve")["details"]["type"] == "object"
    assert "schema" in body_of("approve")["details"]["description"]
    assert {"feedback", "note"} <= set(body_of("reject"))
    assert "edited_details" in components["Approval"]["properties"]
