"""`manage.py approvals`: edit, then approve (--details, --set, edit ID TEXT); reject --feedback."""

import json

import pytest

from decisions.models import Approval, ApprovalStatus, Notification
from memory.models import MemoryEntry, MemoryKind
from tests.factories.decisions import ApprovalFactory

from .test_commands import run

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def master(settings):
    settings.MASTER_CHAT_IDS = [1001]


def test_approve_with_set_and_details_runs_the_edit(django_capture_on_commit_callbacks):
    approval = ApprovalFactory(action="proactive_outreach")
    with django_capture_on_commit_callbacks(execute=True):
        code, out, err = run(
            "approvals", "approve", str(approval.pk), "--details", '{"purpose": "say hi", "message": "x"}',
            "--set", "message=Hello = hi", "--json",
        )
    assert (code, err) == (0, "")
    body = json.loads(out)
    assert body["id"] == approval.pk and body["edited_details"]["message"] == "Hello = hi"
    approval.refresh_from_db()
    assert approval.edited_details == {"chat_id": 5555, "message": "Hello = hi", "purpose": "say hi"}
    assert Notification.objects.get(chat_id=5555).text == "Hello = hi"


def test_edit_replaces_the_text_and_approves(django_capture_on_commit_callbacks):
    approval = ApprovalFactory(action="communicate", details={"recipient": "4242", "message": "hi"})
    with django_capture_on_commit_callbacks(execute=True):
        code, out, _ = run("approvals", "edit", str(approval.pk), "Good morning")
    assert code == 0 and out.strip() == f"Approval #{approval.pk} is now approved"
    assert Notification.objects.get(chat_id=4242).text == "Good morning"


@pytest.mark.parametrize("args, words", [
    (("--details", "{not json"), "--details is not JSON"),
    (("--details", "[1]"), "--details must be a JSON object"),
    (("--set", "message"), "expected FIELD=VALUE"),
    (("--set", "message="), "invalid edit of proactive_outreach: message"),
    (("--set", "colour=red"), "has no field 'colour'"),
])
def test_a_bad_edit_exits_1_with_one_line_and_changes_nothing(args, words):
    approval = ApprovalFactory(action="proactive_outreach")
    code, out, err = run("approvals", "approve", str(approval.pk), *args)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("Error: ") and words in err
    assert Approval.objects.get(pk=approval.pk).status == ApprovalStatus.PENDING


def test_edit_of_an_action_without_text_says_where_to_edit():
    approval = ApprovalFactory(action="meditate")
    code, _, err = run("approvals", "edit", str(approval.pk), "calm")
    assert code == 1 and "edit its details in the admin or the API" in err


def test_reject_with_feedback_becomes_guidance():
    approval = ApprovalFactory(action="develop_skill")
    code, out, _ = run("approvals", "reject", str(approval.pk), "--feedback", "Not this week")
    assert code == 0 and "rejected" in out
    assert MemoryEntry.objects.get(kind=MemoryKind.GUIDANCE).content.endswith(": Not this week")
    assert Approval.objects.get(pk=approval.pk).note == "Not this week"
