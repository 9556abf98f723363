"""The admin as the Master's console: every page renders for staff and not for anyone
else; approvals are decided only through the approval services; records the agent wrote
are read-only; the Master adds guidance or a focus; the ledger shows today's totals."""

import re
from datetime import timedelta

import pytest
from django.test import Client

from actions.models import Skill, Task
from agentsite.core.clock import utc_now
from budget.models import DailyCounter, LedgerEntry, Reservation, Scope
from budget.services import budget_reserve, ledger_record
from budget.usage import TokenUsage
from decisions.approvals import approval_ask, approval_reject, approval_request_decision
from decisions.models import Approval, ApprovalStatus, Cycle, CycleStatus, Notification, NotificationStatus
from decisions.selectors import prompt_context_gather
from memory.models import MemoryEntry, MemoryKind
from memory.services import memory_record
from tests.factories import decision
from tests.factories.decisions import ApprovalFactory

pytestmark = pytest.mark.django_db

APPROVALS = "/admin/decisions/approval/"


@pytest.fixture
def master(settings):
    settings.MASTER_CHAT_IDS = [1001]


@pytest.fixture
def world(master):
    """One of everything the admin shows."""
    cycle = Cycle.objects.create(
        status=CycleStatus.AWAITING_APPROVAL, action="meditate", prompt="Decide. <script>alert('p')</script>",
        raw_response='```json\n{"action": "meditate"}\n```', decision=decision("meditate"), certainty=0.5,
        significance=0.3, input_tokens=1200, output_tokens=80, duration_ms=2100,
    )
    approval = approval_request_decision(decision=decision("meditate", reasoning="<b>calm</b> first"), cycle=cycle)
    question = approval_ask(question="Which first?", context="both urgent", options=("A", "B"), cycle=None)
    Notification.objects.filter(approval=approval).update(status=NotificationStatus.FAILED, last_error="boom")
    ledger_record(scope=Scope.PROACTIVE, usage=TokenUsage(input=1000, output=234), model="claude-test")
    ledger_record(scope=Scope.REACTIVE, usage=TokenUsage(input=500, output=67), model="claude-test")
    reservation = budget_reserve(amount=500)
    memory = memory_record(kind=MemoryKind.REFLECTION, content="Meditated on patience.", cycle_id=cycle.pk)
    task = Task.objects.create(title="Write a haiku", source="api")
    skill = Skill.objects.create(name="Haiku")
    return {
        "cycle": cycle, "approval": approval, "question": question, "reservation": reservation,
        "memory": memory, "task": task, "skill": skill,
        "notification": Notification.objects.filter(approval=approval).first(),
        "ledger": LedgerEntry.objects.first(), "counter": DailyCounter.objects.first(),
    }


CHANGELISTS = [
    APPROVALS, "/admin/decisions/cycle/", "/admin/decisions/notification/", "/admin/budget/ledgerentry/",
    "/admin/budget/dailycounter/", "/admin/budget/reservation/", "/admin/memory/memoryentry/",
    "/admin/actions/task/", "/admin/actions/skill/", "/admin/django_q/schedule/",
    "/admin/telegrambot/chatmessage/", "/admin/telegrambot/telegramupdate/",
]


@pytest.mark.parametrize("url", CHANGELISTS)
def test_each_changelist_renders_for_staff(admin_client, world, url):
    assert admin_client.get(url).status_code == 200


@pytest.mark.parametrize(
    "name,url",
    [
        ("approval", "/admin/decisions/approval/{}/change/"),
        ("question", "/admin/decisions/approval/{}/change/"),
        ("cycle", "/admin/decisions/cycle/{}/change/"),
        ("notification", "/admin/decisions/notification/{}/change/"),
        ("ledger", "/admin/budget/ledgerentry/{}/change/"),
        ("counter", "/admin/budget/dailycounter/{}/change/"),
        ("reservation", "/admin/budget/reservation/{}/change/"),
        ("memory", "/admin/memory/memoryentry/{}/change/"),
        ("task", "/admin/actions/task/{}/change/"),
        ("skill", "/admin/actions/skill/{}/change/"),
    ],
)
def test_each_change_page_renders_for_staff(admin_client, world, name, url):
    assert admin_client.get(url.format(world[name].pk)).status_code == 200


@pytest.mark.parametrize("url", CHANGELISTS + ["/admin/", "/admin/agent/"])
def test_anyone_but_staff_is_sent_to_the_login_page(client, django_user_model, url):
    assert client.get(url)["Location"].startswith("/admin/login/")
    client.force_login(django_user_model.objects.create_user("visitor", password="x"))
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_the_admin_index_lists_the_agent_dashboard_and_the_apps(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert 'href="/admin/agent/"' in page and "Approvals" in page and "Scheduled tasks" in page


# --- approvals: list ------------------------------------------------------------------


def listed_ids(html: str) -> list[int]:
    ids = []
    for found in re.findall(r'href="/admin/decisions/approval/(\d+)/change/', html):
        if int(found) not in ids:
            ids.append(int(found))
    return ids


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


# --- approvals: the detail page's buttons ---------------------------------------------


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


# --- cycles, ledger: read-only ----------------------------------------------------------


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


def test_the_ledger_is_read_only_and_shows_todays_totals_from_the_counters(admin_client, world):
    pk = world["ledger"].pk
    # The totals come from the counters: make them differ from the ledger's sum to prove it.
    DailyCounter.objects.filter(scope=Scope.PROACTIVE).update(used=4_321_000)
    html = admin_client.get("/admin/budget/ledgerentry/").content.decode()
    totals = re.search(r'id="ledger-totals".*?</table>', html, re.S).group(0)
    assert "4,321,000" in totals and "567" in totals and "500" in totals  # proactive, reactive, reserved
    assert admin_client.get("/admin/budget/ledgerentry/add/").status_code == 403
    assert admin_client.get(f"/admin/budget/ledgerentry/{pk}/delete/").status_code == 403
    filtered = admin_client.get("/admin/budget/ledgerentry/", {"scope__exact": "reactive"}).content.decode()
    assert "1 ledger entry" in filtered


# --- memory -----------------------------------------------------------------------------


def test_memory_add_offers_only_guidance_and_focus(admin_client):
    html = admin_client.get("/admin/memory/memoryentry/add/").content.decode()
    options = re.findall(r'<option value="([^"]*)"', html)
    assert options == ["guidance", "focus"]
    response = admin_client.post("/admin/memory/memoryentry/add/", {"kind": "reflection", "content": "sneaky"})
    assert response.status_code == 200 and b"Select a valid choice" in response.content
    assert not MemoryEntry.objects.exists()


def test_guidance_added_in_the_admin_reaches_the_next_prompt(admin_client):
    response = admin_client.post("/admin/memory/memoryentry/add/", {"kind": "guidance", "content": " Be brief. "})
    assert response.status_code == 302
    entry = MemoryEntry.objects.get()
    assert (entry.kind, entry.content, entry.meta) == ("guidance", "Be brief.", {"source": "admin", "by": "admin"})
    assert "Be brief." in prompt_context_gather().answers


def test_a_focus_added_in_the_admin_becomes_the_focus(admin_client):
    admin_client.post("/admin/memory/memoryentry/add/", {"kind": "focus", "content": "Learn Rust"})
    assert prompt_context_gather().focus == "Learn Rust"
    assert MemoryEntry.objects.get().kind == MemoryKind.FOCUS


def test_memory_search_date_and_cycle_link(admin_client, world):
    memory_record(kind=MemoryKind.WORKING, content="Something unrelated")
    html = admin_client.get("/admin/memory/memoryentry/", {"q": "patience"}).content.decode()
    assert "Meditated on patience." in html and "Something unrelated" not in html
    assert f'href="/admin/decisions/cycle/{world["cycle"].pk}/change/"' in html
    today = utc_now().date()
    dated = admin_client.get(
        "/admin/memory/memoryentry/",
        {"created_at__year": today.year, "created_at__month": today.month, "created_at__day": today.day},
    )
    assert dated.status_code == 200 and b"Something unrelated" in dated.content


def test_the_agents_memories_are_read_only_but_the_master_may_withdraw_guidance(admin_client, world):
    reflection = world["memory"]
    assert admin_client.post(f"/admin/memory/memoryentry/{reflection.pk}/change/",
                             {"kind": "reflection", "content": "x"}).status_code == 403
    assert admin_client.get(f"/admin/memory/memoryentry/{reflection.pk}/delete/").status_code == 403
    guidance = memory_record(kind=MemoryKind.GUIDANCE, content="Old advice")
    assert admin_client.post(f"/admin/memory/memoryentry/{guidance.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not MemoryEntry.objects.filter(pk=guidance.pk).exists()


# --- notifications, tasks, skills ---------------------------------------------------------


def test_retry_now_requeues_failed_notifications_through_the_delivery_service(admin_client, world):
    failed = world["notification"]
    sent = Notification.objects.create(kind="message", text="hi", chat_id=1001, status="sent", idempotency_key="s1")
    response = admin_client.post(
        "/admin/decisions/notification/",
        {"action": "retry_now", "_selected_action": [failed.pk, sent.pk]},
        follow=True,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Queued 1 notification(s)" in html and f"#{sent.pk} not retried" in html
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0) and failed.next_attempt_at is not None
    assert admin_client.get("/admin/decisions/notification/add/").status_code == 403
    filtered = admin_client.get("/admin/decisions/notification/", {"status__exact": "sent", "kind__exact": "message"})
    assert filtered.status_code == 200 and b"1 notification" in filtered.content


def test_tasks_and_skills_have_full_crud_and_admin_tasks_come_from_the_admin(admin_client, world):
    response = admin_client.post(
        "/admin/actions/task/add/",
        {"title": "From the console", "description": "", "priority": 2, "status": "pending", "result": "", "error": ""},
    )
    assert response.status_code == 302
    assert Task.objects.get(title="From the console").source == "admin"
    task = world["task"]
    admin_client.post(f"/admin/actions/task/{task.pk}/delete/", {"post": "yes"})
    assert not Task.objects.filter(pk=task.pk).exists()
    assert admin_client.post("/admin/actions/skill/add/", {"name": "Chess", "description": "", "practice_count": 0,
                                                           "notes": ""}).status_code == 302
    assert Skill.objects.filter(name="Chess").exists()


def test_reservations_are_listed_read_only(admin_client, world):
    assert admin_client.get(f"/admin/budget/reservation/{world['reservation'].pk}/delete/").status_code == 403
    assert Reservation.objects.count() == 1


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
