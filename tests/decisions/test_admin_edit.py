"""The approval page's edit form: a field per detail of the action's schema, prefilled;
Approve runs the edit, an invalid edit shows the schema's error and changes nothing;
Reject takes feedback; Approve is the primary button."""

import re

import pytest

from decisions.admin_edit import approval_edit_form, approval_edit_posted
from decisions.models import Approval, ApprovalStatus, Notification
from memory.models import MemoryEntry, MemoryKind
from tests.factories.decisions import ApprovalFactory

pytestmark = pytest.mark.django_db

APPROVALS = "/admin/decisions/approval/"


def test_the_page_shows_one_prefilled_field_per_detail(admin_client, master):
    approval = ApprovalFactory(action="proactive_outreach")
    html = admin_client.get(f"{APPROVALS}{approval.pk}/change/").content.decode()
    message = r'<textarea name="details-message"[^>]*id="id_details-message"[^>]*>\s*Hello from the agent</textarea>'
    assert re.search(message, html)
    assert re.search(r'<input type="number" name="details-chat_id" value="5555"', html)
    assert re.search(r'<input type="text" name="details-purpose" value="introduce"', html)


def test_a_literal_is_a_select_and_a_question_has_no_edit_form(admin_client, master):
    approval = ApprovalFactory(action="communicate", details={"recipient": "4242", "message": "hi"})
    html = admin_client.get(f"{APPROVALS}{approval.pk}/change/").content.decode()
    assert re.search(r'<select name="details-priority"', html) and '<option value="high">' in html
    question = ApprovalFactory(kind="question")
    assert approval_edit_form(question) is None
    assert 'id="approval-edit"' not in admin_client.get(f"{APPROVALS}{question.pk}/change/").content.decode()


def test_approve_is_the_primary_button_and_reject_secondary(admin_client, master):
    approval = ApprovalFactory()
    html = admin_client.get(f"{APPROVALS}{approval.pk}/change/").content.decode()
    assert re.search(r'<button type="submit" class="button default" id="approve-button"', html)
    assert re.search(r'<button type="submit" class="button" id="reject-button"', html)


def test_approving_with_an_edited_message_runs_the_edit(admin_client, master, django_capture_on_commit_callbacks):
    approval = ApprovalFactory(action="proactive_outreach")
    form = {"details-message": "Edited in the admin", "details-chat_id": "5555", "details-purpose": "introduce"}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{APPROVALS}{approval.pk}/approve/", form, follow=True)
    assert "Approved #%d with your edit" % approval.pk in response.content.decode()
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXECUTED
    assert approval.edited_details["message"] == "Edited in the admin"
    assert approval.payload["details"]["message"] == "Hello from the agent"
    assert Notification.objects.get(chat_id=5555).text == "Edited in the admin"
    page = response.content.decode()
    assert "Details as the Master edited them" in page and "<td>Edited in the admin</td>" in page


def test_an_unchanged_form_is_a_plain_approval(admin_client, master, django_capture_on_commit_callbacks):
    approval = ApprovalFactory(action="proactive_outreach")
    form = {"details-message": "Hello from the agent", "details-chat_id": "5555", "details-purpose": "introduce"}
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"{APPROVALS}{approval.pk}/approve/", form)
    approval.refresh_from_db()
    assert (approval.status, approval.edited_details) == (ApprovalStatus.EXECUTED, None)


@pytest.mark.parametrize("form, words", [
    ({"details-message": "   ", "details-chat_id": "5555"}, "message: String should have at least 1 character"),
    ({"details-message": "hi", "details-chat_id": ""}, "chat_id: Input should be a valid integer"),
    ({"details-message": "hi", "details-chat_id": "12abc"}, "chat_id: Input should be a valid integer"),
])
def test_an_invalid_edit_shows_the_error_and_nothing_changes(admin_client, master, form, words):
    approval = ApprovalFactory(action="proactive_outreach")
    response = admin_client.post(f"{APPROVALS}{approval.pk}/approve/", form, follow=True)
    html = response.content.decode()
    assert "Nothing changed: invalid edit of proactive_outreach: " + words in html
    approval.refresh_from_db()
    assert (approval.status, approval.edited_details) == (ApprovalStatus.PENDING, None)
    assert 'id="approve-button"' in html  # still there to try again
    assert not Notification.objects.filter(chat_id=5555).exists()


def test_reject_with_feedback_becomes_guidance(admin_client, master):
    approval = ApprovalFactory(action="develop_skill")
    response = admin_client.post(f"{APPROVALS}{approval.pk}/reject/", {"note": "Rest first."}, follow=True)
    assert "your feedback is the agent&#x27;s guidance" in response.content.decode()
    assert Approval.objects.get(pk=approval.pk).note == "Rest first."
    assert MemoryEntry.objects.get(kind=MemoryKind.GUIDANCE).content.endswith(": Rest first.")


def test_posted_details_ignore_a_form_without_edit_fields(master):
    approval = ApprovalFactory(action="proactive_outreach")
    from django.http import QueryDict

    assert approval_edit_posted(approval, QueryDict("note=x")) is None
    posted = approval_edit_posted(approval, QueryDict("details-chat_id=&details-message=a"))
    assert posted == {"chat_id": None, "message": "a"}
