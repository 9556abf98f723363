"""Edit, then approve; or reject with feedback: the services (decisions.approvals,
decisions.approval_edits), execution of the edited details, and the next prompt."""

from datetime import timedelta

import pytest
import time_machine

from agentsite.core.clock import utc_now
from decisions.approval_edits import details_edit_summary, details_edited, editable_text_field
from decisions.approvals import (
    EDIT_REPLY_WINDOW,
    approval_approve,
    approval_expire_due,
    approval_approve_text,
    approval_edit_request,
    approval_edit_waiting,
    approval_reject,
)
from decisions.errors import ApprovalEditInvalid, ApprovalNotPending
from decisions.models import Approval, ApprovalStatus, Notification
from decisions.prompts import prompt_build
from decisions.selectors import prompt_context_gather
from memory.models import MemoryEntry, MemoryKind
from telegrambot.delivery import outbox_deliver
from tests.factories.decisions import ApprovalFactory

pytestmark = pytest.mark.django_db

OUTREACH = {"chat_id": 5555, "message": "Hello from the agent", "purpose": "introduce"}


def test_an_edited_outreach_sends_the_edited_text_and_keeps_the_original(
    telegram, django_capture_on_commit_callbacks
):
    approval = ApprovalFactory(action="proactive_outreach", certainty=0.99)
    with django_capture_on_commit_callbacks(execute=True):
        approval_approve(
            approval_id=approval.pk, by="master", via="api", details={"message": "  Hi, I am the agent.  "}
        )
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXECUTED
    assert approval.payload["details"] == OUTREACH  # the original, untouched
    assert approval.edited_details == {**OUTREACH, "message": "Hi, I am the agent."}  # normalised by the schema
    outbox_deliver()
    assert telegram.texts(chat_id=5555) == ["Hi, I am the agent."]
    memory = MemoryEntry.objects.get(kind=MemoryKind.OUTCOME, meta__status="approved")
    assert "after editing it" in memory.content
    assert 'message: "Hello from the agent" -> "Hi, I am the agent."' in memory.content
    assert memory.meta["edited"] is True


def test_an_edit_that_changes_nothing_is_a_plain_approval(master, django_capture_on_commit_callbacks):
    approval = ApprovalFactory(action="proactive_outreach")
    with django_capture_on_commit_callbacks(execute=True):
        approval_approve(approval_id=approval.pk, by="m", via="api", details={"message": "Hello from the agent"})
    approval.refresh_from_db()
    assert approval.edited_details is None and approval.status == ApprovalStatus.EXECUTED
    assert Notification.objects.get(chat_id=5555).text == "Hello from the agent"


@pytest.mark.parametrize("changes, field, words", [
    ({"message": ""}, "message", "at least 1 character"),
    ({"message": "x" * 4001}, "message", "at most 4000"),
    ({"chat_id": "not a chat"}, "chat_id", "valid integer"),
    ({"mesage": "typo"}, "mesage", "has no field 'mesage'"),
])
def test_an_invalid_edit_is_refused_naming_the_field_and_nothing_changes(master, changes, field, words):
    approval = ApprovalFactory(action="proactive_outreach")
    with pytest.raises(ApprovalEditInvalid, match=words) as caught:
        approval_approve(approval_id=approval.pk, by="m", via="api", details=changes)
    assert caught.value.extra["field"] == field and field in caught.value.message
    assert caught.value.http_status == 400
    approval.refresh_from_db()
    assert (approval.status, approval.edited_details, approval.decided_by) == (ApprovalStatus.PENDING, None, "")
    assert not MemoryEntry.objects.filter(meta__approval_id=approval.pk).exists()


def test_an_edit_passes_the_same_rules_as_the_models_decision(master):
    # communicate to someone else: the recipient must still be a chat id, edited or not
    approval = ApprovalFactory(action="communicate", details={"recipient": "4242", "message": "hi"})
    with pytest.raises(ApprovalEditInvalid, match="recipient.*'master' or a numeric Telegram chat id"):
        approval_approve(approval_id=approval.pk, by="m", via="api", details={"recipient": "@everyone"})
    with pytest.raises(ApprovalEditInvalid, match="details must be an object"):
        approval_approve(approval_id=approval.pk, by="m", via="api", details=["message", "x"])
    assert Approval.objects.get(pk=approval.pk).status == ApprovalStatus.PENDING


def test_an_edited_communicate_to_another_chat_is_sent_there(master, django_capture_on_commit_callbacks):
    approval = ApprovalFactory(action="communicate", details={"recipient": "4242", "message": "hi"})
    with django_capture_on_commit_callbacks(execute=True):
        approval_approve(
            approval_id=approval.pk, by="m", via="cli", details={"message": "hello there", "recipient": "4343"}
        )
    assert Notification.objects.get(chat_id=4343).text == "hello there"
    assert not Notification.objects.filter(chat_id=4242).exists()


def test_approving_with_a_new_text_uses_the_actions_text_field(master, django_capture_on_commit_callbacks):
    outreach = ApprovalFactory(action="proactive_outreach")
    with django_capture_on_commit_callbacks(execute=True):
        approval_approve_text(approval_id=outreach.pk, text="New words", by="m", via="telegram")
    outreach.refresh_from_db()
    assert outreach.edited_details["message"] == "New words" and outreach.status == ApprovalStatus.EXECUTED
    meditate = ApprovalFactory(action="meditate")
    with pytest.raises(ApprovalEditInvalid, match="no text to replace: edit its details in the admin or the API"):
        approval_approve_text(approval_id=meditate.pk, text="calm", by="m", via="telegram")
    with pytest.raises(ApprovalEditInvalid, match="empty"):
        approval_approve_text(approval_id=outreach.pk, text="  ", by="m", via="telegram")
    assert Approval.objects.get(pk=meditate.pk).status == ApprovalStatus.PENDING


def test_an_edit_cannot_be_applied_to_a_decided_approval(master):
    approval = ApprovalFactory(action="proactive_outreach")
    approval_reject(approval_id=approval.pk, by="m", via="api")
    with pytest.raises(ApprovalNotPending):
        approval_approve(approval_id=approval.pk, by="m", via="api", details={"message": "late"})


def test_the_edit_helpers():
    assert editable_text_field("proactive_outreach") == "message"
    assert editable_text_field("communicate") == "message" and editable_text_field("develop_skill") is None
    assert editable_text_field("meditate") is None and editable_text_field("nonsense") is None
    assert details_edited(action="meditate", original={"duration": 60}, changes={"duration": 5000}) == {
        "duration": 600, "reflection_topic": "",  # capped, exactly as the model's own decision
    }
    long = "y" * 500
    summary = details_edit_summary(original={"message": "a", "purpose": "p"}, edited={"message": long, "purpose": "p"})
    assert summary.startswith('message: "a" -> "yyy') and len(summary) < 200 and "purpose" not in summary
    assert details_edit_summary(original={"message": "a"}, edited={"message": "b", "purpose": ""}) == (
        'message: "a" -> "b"'
    )


# --- reject with feedback -------------------------------------------------------------


def test_rejection_feedback_becomes_guidance_in_the_next_prompt(master):
    approval = ApprovalFactory(action="develop_skill")
    approval_reject(approval_id=approval.pk, by="master", via="api", feedback="  Too early; finish task 3 first.  ")
    approval.refresh_from_db()
    assert (approval.status, approval.note) == (ApprovalStatus.REJECTED, "Too early; finish task 3 first.")
    guidance = MemoryEntry.objects.get(kind=MemoryKind.GUIDANCE)
    assert guidance.content == (
        f"The Master rejected develop_skill (approval #{approval.pk}): Too early; finish task 3 first."
    )
    prompt = prompt_build(context=prompt_context_gather())
    section = prompt.user.split("## Answers and guidance since the last cycle")[1]
    assert "Too early; finish task 3 first." in section


def test_a_rejection_without_feedback_stays_an_outcome(master):
    approval = ApprovalFactory(action="develop_skill")
    approval_reject(approval_id=approval.pk, by="master", via="api")
    assert not MemoryEntry.objects.filter(kind=MemoryKind.GUIDANCE).exists()
    assert "no reason given" in MemoryEntry.objects.get(kind=MemoryKind.OUTCOME).content


# --- Telegram's waiting edit ------------------------------------------------------------


def test_an_edit_request_waits_for_the_chats_next_text_then_ends(master):
    first, second = ApprovalFactory(action="proactive_outreach"), ApprovalFactory(action="communicate")
    approval_edit_request(approval_id=first.pk, chat_id=1001)
    assert approval_edit_waiting(chat_id=1001) == first
    assert approval_edit_waiting(chat_id=2002) is None
    approval_edit_request(approval_id=second.pk, chat_id=1001)  # the newest tap wins
    assert approval_edit_waiting(chat_id=1001) == second
    assert Approval.objects.get(pk=first.pk).edit_chat_id is None
    with time_machine.travel(utc_now() + EDIT_REPLY_WINDOW + timedelta(seconds=1)):
        assert approval_edit_waiting(chat_id=1001) is None
    approval_reject(approval_id=second.pk, by="m", via="telegram")
    assert approval_edit_waiting(chat_id=1001) is None
    assert Approval.objects.get(pk=second.pk).edit_chat_id is None


def test_an_edit_request_needs_a_pending_decision_with_a_text(master):
    meditate = ApprovalFactory(action="meditate")
    with pytest.raises(ApprovalEditInvalid, match="edit its details in the admin or the API"):
        approval_edit_request(approval_id=meditate.pk, chat_id=1001)
    assert Approval.objects.get(pk=meditate.pk).edit_chat_id is None


def test_a_waiting_edit_expires_with_its_approval(master, settings):
    settings.APPROVAL_TIMEOUT_SECONDS = 600
    approval = ApprovalFactory(action="proactive_outreach")
    approval_edit_request(approval_id=approval.pk, chat_id=1001)
    with time_machine.travel(utc_now() + timedelta(seconds=601)):
        assert approval_edit_waiting(chat_id=1001) is None  # past its deadline, before the sweep
        assert approval_expire_due() == 1
    approval.refresh_from_db()
    assert (approval.status, approval.edit_chat_id, approval.edit_requested_at) == (ApprovalStatus.EXPIRED, None, None)
