"""The approval and cycle admins: approvals are decided only through the approval services
(list actions, the detail page's buttons), with the deciding permission; cycles are
read-only and show what the model was told and answered."""

import re
from datetime import timedelta

import pytest
from django.test import Client

from agentsite.core.clock import utc_now
from decisions.approvals import approval_ask, approval_reject
from decisions.models import Approval, ApprovalStatus, Cycle, CycleStatus
from decisions.selectors import prompt_context_gather
from memory.models import MemoryEntry, MemoryKind
from tests.factories.decisions import ApprovalFactory

pytestmark = pytest.mark.django_db

APPROVALS = "/admin/decisions/approval/"


def listed_ids(html: str) -> list[int]:
    ids = []
    for found in re.findall(r'href="/admin/decisions/approval/(\d+)/change/', html):
        if int(found) not in ids:
            ids.append(int(found))
    return ids


# --- approvals: list ---------------------------------------------------------------------


def test_approvals_list_pending_first_with_expired_shown_as_expired(admin_client, master):
    decided = ApprovalFactory()
    approval_reject(approval_id=decided.pk, by="m", via="api")
    live = ApprovalFactory(action="develop_skill", certainty=0.42, significance=0.77)
    overdue = ApprovalFactory()
    Approval.objects.filter(pk=overdue.pk).update(expires_at=utc_now() - timedelta(minutes=1))
    Approval.objects.filter(pk=live.pk).update(created_at=utc_now() - timedelta(days=2))  # oldest, still first

    html = admin_client.get(APPROVALS).content.decode()
    assert listed_ids(html)[0] == live.pk
    assert set(listed_ids(html)) == {decided.pk, live.pk, overdue.pk}
    assert "0.42" in html and "0.77" in html and "develop_skill" in html
    row = re.search(rf'approval/{overdue.pk}/change/.*?</tr>', html, re.S).group(0)
    assert "approval-status-expired" in row and ">expired<" in row

    only_pending = admin_client.get(APPROVALS, {"effective_status": "pending"}).content.decode()
    assert listed_ids(only_pending) == [live.pk]
    expired = admin_client.get(APPROVALS, {"effective_status": "expired"}).content.decode()
    assert listed_ids(expired) == [overdue.pk]


def test_approve_selected_runs_the_service_and_execution_follows(
    admin_client, master, django_capture_on_commit_callbacks
):
    first, second = ApprovalFactory(), ApprovalFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            APPROVALS, {"action": "approve_selected", "_selected_action": [first.pk, second.pk]}, follow=True
        )
    assert response.status_code == 200
    for approval in (first, second):
        approval.refresh_from_db()
        assert approval.status == ApprovalStatus.EXECUTED
        assert (approval.decided_by, approval.decided_via) == ("admin", "admin")
    assert MemoryEntry.objects.filter(kind=MemoryKind.REFLECTION).count() == 2  # meditate ran twice
    outcomes = MemoryEntry.objects.filter(kind=MemoryKind.OUTCOME, content__startswith="The Master approved meditate")
    assert outcomes.count() == 2
    assert "Approved 2 approval(s)" in response.content.decode()


def test_reject_selected_and_a_double_decision_is_a_message_not_an_error(admin_client, master):
    approval, other = ApprovalFactory(), ApprovalFactory()
    approval_reject(approval_id=other.pk, by="someone", via="telegram")
    response = admin_client.post(
        APPROVALS, {"action": "reject_selected", "_selected_action": [approval.pk, other.pk]}, follow=True
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f"#{other.pk} not rejected" in html and "already rejected" in html
    assert "Rejected 1 approval(s)" in html
    approval.refresh_from_db()
    assert (approval.status, approval.decided_via, approval.decided_by) == ("rejected", "admin", "admin")
    outcomes = MemoryEntry.objects.filter(kind=MemoryKind.OUTCOME, content__startswith="The Master rejected meditate")
    assert outcomes.count() == 2


def test_approving_a_question_from_the_list_is_refused_with_a_message(admin_client, master):
    question = approval_ask(question="Why?", cycle=None)
    response = admin_client.post(APPROVALS, {"action": "approve_selected", "_selected_action": [question.pk]},
                                 follow=True)
    assert response.status_code == 200 and b"answer it instead" in response.content
    question.refresh_from_db()
    assert question.status == ApprovalStatus.PENDING


# --- approvals: the detail page ----------------------------------------------------------


def test_the_detail_page_shows_the_decision_readably_and_escaped(admin_client, world):
    html = admin_client.get(f"{APPROVALS}{world['approval'].pk}/change/").content.decode()
    assert 'id="approve-button"' in html and 'id="reject-button"' in html
    assert "&lt;b&gt;calm&lt;/b&gt; first" in html and "<b>calm</b>" not in html
    assert "<th>reflection_topic</th><td>patience</td>" in html  # details as a table
    assert f'href="/admin/decisions/cycle/{world["cycle"].pk}/change/"' in html
    assert 'name="_save"' not in html  # nothing to save: decisions go through the buttons


def test_the_approve_button_executes_with_a_note(admin_client, master, django_capture_on_commit_callbacks):
    approval = ApprovalFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{APPROVALS}{approval.pk}/approve/", {"note": "go ahead"})
    assert response.status_code == 302 and response["Location"] == f"{APPROVALS}{approval.pk}/change/"
    approval.refresh_from_db()
    assert (approval.status, approval.decided_via, approval.note) == ("executed", "admin", "go ahead")
    assert approval.result["status"] == "ok"
    assert MemoryEntry.objects.filter(kind=MemoryKind.OUTCOME, content__contains="go ahead").exists()
    page = admin_client.get(response["Location"]).content.decode()
    assert "Approved #" in page and 'id="approve-button"' not in page and "nothing left to decide" in page


def test_the_reject_button_and_then_a_second_click(admin_client, master):
    approval = ApprovalFactory()
    admin_client.post(f"{APPROVALS}{approval.pk}/reject/", {"note": "not now"})
    approval.refresh_from_db()
    assert (approval.status, approval.note, approval.decided_via) == ("rejected", "not now", "admin")
    again = admin_client.post(f"{APPROVALS}{approval.pk}/approve/", follow=True)
    assert again.status_code == 200
    assert "Nothing changed" in again.content.decode() and "already rejected" in again.content.decode()
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.REJECTED


def test_an_expired_approval_cannot_be_approved(admin_client, master):
    approval = ApprovalFactory()
    Approval.objects.filter(pk=approval.pk).update(expires_at=utc_now() - timedelta(seconds=1))
    page = admin_client.get(f"{APPROVALS}{approval.pk}/change/").content.decode()
    assert 'id="approve-button"' not in page and 'id="approval-status">expired<' in page
    response = admin_client.post(f"{APPROVALS}{approval.pk}/approve/", follow=True)
    assert response.status_code == 200 and b"has expired" in response.content
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING  # the sweep, not the admin, marks it


def test_answering_a_question_by_option_records_guidance(admin_client, master):
    question = approval_ask(question="Which first?", options=("A", "B"), cycle=None)
    admin_client.post(f"{APPROVALS}{question.pk}/answer/", {"option": "B", "answer": ""})
    question.refresh_from_db()
    assert (question.status, question.answer, question.decided_via) == ("answered", "B", "admin")
    assert "Master's answer: B" in prompt_context_gather().answers[0]


def test_unknown_approvals_and_get_requests_are_handled(admin_client):
    response = admin_client.post(f"{APPROVALS}999/approve/", follow=True)
    assert response.status_code == 200 and b"does not exist" in response.content
    assert admin_client.post(f"{APPROVALS}abc/reject/").status_code == 302
    assert admin_client.get(f"{APPROVALS}1/approve/").status_code == 405


def test_approval_records_cannot_be_added_edited_or_deleted(admin_client, world):
    pk = world["approval"].pk
    assert admin_client.get(f"{APPROVALS}add/").status_code == 403
    assert admin_client.post(f"{APPROVALS}{pk}/change/", {"note": "edited"}).status_code == 403
    assert admin_client.get(f"{APPROVALS}{pk}/delete/").status_code == 403
    assert Approval.objects.get(pk=pk).note == ""


def test_the_approve_button_needs_the_csrf_token(admin_user, master):
    approval = ApprovalFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(f"{APPROVALS}{approval.pk}/approve/").status_code == 403
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


@pytest.mark.fault("Staff user without permission decides")
def test_staff_without_the_decide_permission_can_look_but_not_decide(client, django_user_model, master):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_approval"))
    client.force_login(viewer)
    approval = ApprovalFactory()
    page = client.get(f"{APPROVALS}{approval.pk}/change/")
    assert page.status_code == 200 and b'id="approve-button"' not in page.content
    assert client.post(f"{APPROVALS}{approval.pk}/approve/").status_code == 403
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


# --- cycles ------------------------------------------------------------------------------


def test_cycles_are_read_only_and_show_prompt_response_decision_tokens(admin_client, world):
    pk = world["cycle"].pk
    html = admin_client.get(f"/admin/decisions/cycle/{pk}/change/").content.decode()
    assert "Decide. &lt;script&gt;alert(&#x27;p&#x27;)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "&quot;action&quot;: &quot;meditate&quot;" in html  # the parsed decision as JSON
    assert "<th>total</th><td>1280</td>" in html and "2100" in html
    assert f'href="/admin/decisions/approval/?cycle__id__exact={pk}"' in html
    assert admin_client.get("/admin/decisions/cycle/add/").status_code == 403
    assert admin_client.get(f"/admin/decisions/cycle/{pk}/delete/").status_code == 403
    assert admin_client.post(f"/admin/decisions/cycle/{pk}/change/", {"status": "failed"}).status_code == 403
    listed = admin_client.get(f"{APPROVALS}?cycle__id__exact={pk}").content.decode()
    assert listed_ids(listed) == [world["approval"].pk]


def test_cycles_filter_by_status_and_action(admin_client, world):
    Cycle.objects.create(status=CycleStatus.SKIPPED, reason="paused")
    html = admin_client.get("/admin/decisions/cycle/", {"status__exact": "skipped"}).content.decode()
    assert "paused" in html and "1 cycle" in html
    html = admin_client.get("/admin/decisions/cycle/", {"action": "meditate"}).content.decode()
    assert "1 cycle" in html
