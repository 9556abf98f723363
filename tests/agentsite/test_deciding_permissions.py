"""Deciding and steering need a permission, not just staff status (issue #9, item 5).

`decisions.decide_approval` (approve, reject, answer) and `decisions.control_agent`
(pause, resume, run a cycle) are checked by the API and the admin alike; reading stays
open to every staff user. A staff user without them gets 403 and nothing changes.
(Telegram's Masters are the chats in MASTER_CHAT_IDS; strangers are refused in
tests/telegrambot/test_strangers.py and test_callbacks.py.)
"""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from decisions.agent import agent_pause, agent_state_get
from decisions.approvals import approval_ask
from decisions.models import AgentState, Approval, ApprovalStatus, Cycle
from tests.factories.decisions import ApprovalFactory

pytestmark = pytest.mark.django_db

FAULT = pytest.mark.fault("Staff user without permission decides")
APPROVALS = "/admin/decisions/approval/"
DASHBOARD, TOGGLE = "/admin/agent/", "/admin/agent/pause-resume/"
DECIDE_DETAIL = "Deciding approvals needs the decisions.decide_approval permission."
CONTROL_DETAIL = "Pausing, resuming and running the agent need the decisions.control_agent permission."


@pytest.fixture(autouse=True)
def master(settings):
    settings.MASTER_CHAT_IDS = [1001]


def asked() -> Approval:
    return approval_ask(question="Which first?", options=("A", "B"), cycle=None)


def decision_fields(approval: Approval) -> tuple:
    approval.refresh_from_db()
    return (approval.status, approval.decided_by, approval.decided_via, approval.decided_at, approval.note,
            approval.answer, approval.updated_at)


def staff(django_user_model, username: str, *codenames: str):
    user = django_user_model.objects.create_user(username, password="pw-not-used", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


# --- the permissions themselves --------------------------------------------------------


def test_the_permissions_exist_and_only_superusers_hold_them_by_default(django_user_model, admin_user):
    codenames = set(Permission.objects.filter(content_type__app_label="decisions").values_list("codename", flat=True))
    assert {"decide_approval", "control_agent"} <= codenames
    plain = staff(django_user_model, "plain")
    assert not plain.has_perm("decisions.decide_approval") and not plain.has_perm("decisions.control_agent")
    assert admin_user.has_perm("decisions.decide_approval") and admin_user.has_perm("decisions.control_agent")


# --- API --------------------------------------------------------------------------------


@FAULT
@pytest.mark.parametrize(("verb", "body"), [("approve", {"note": "go"}), ("reject", {"note": "no"}),
                                            ("answer", {"answer": "A"})])
def test_api_staff_without_decide_approval_get_403_and_the_approval_is_unchanged(staff_only, verb, body):
    approval = asked() if verb == "answer" else ApprovalFactory(certainty=0.5)
    before = decision_fields(approval)

    response = staff_only.post(f"/api/approvals/{approval.pk}/{verb}/", body, format="json")

    assert response.status_code == 403
    assert response.json() == {"detail": DECIDE_DETAIL, "code": "permission_denied"}
    assert decision_fields(approval) == before and before[0] == ApprovalStatus.PENDING


@FAULT
def test_api_staff_without_control_agent_cannot_pause(staff_only):
    response = staff_only.post("/api/agent/pause/")

    assert response.status_code == 403
    assert response.json() == {"detail": CONTROL_DETAIL, "code": "permission_denied"}
    assert not AgentState.objects.filter(paused=True).exists()


@FAULT
def test_api_staff_without_control_agent_cannot_resume(staff_only):
    before = agent_pause()

    assert staff_only.post("/api/agent/resume/").status_code == 403

    after = agent_state_get()
    assert (after.paused, after.next_run_at, after.updated_at) == (True, before.next_run_at, before.updated_at)


@FAULT
def test_api_staff_without_control_agent_cannot_run_a_cycle(staff_only, claude):
    assert staff_only.post("/api/agent/run-cycle/").status_code == 403
    assert not Cycle.objects.exists() and not claude.message_requests


def test_api_staff_without_permissions_still_read_everything(staff_only):
    approval = ApprovalFactory(certainty=0.5)
    for path in ("/api/approvals/", f"/api/approvals/{approval.pk}/", "/api/agent/", "/api/budget/", "/api/cycles/"):
        assert staff_only.get(path).status_code == 200, path


def test_api_decide_approval_lets_a_staff_user_decide_but_not_steer(django_user_model):
    client = token_client(staff(django_user_model, "decider", "decide_approval"))
    approval, question = ApprovalFactory(certainty=0.5), asked()

    response = client.post(f"/api/approvals/{approval.pk}/reject/", {"note": "not now"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "rejected"
    response = client.post(f"/api/approvals/{question.pk}/answer/", {"answer": "B"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "answered"
    assert (decision_fields(approval)[:3]) == (ApprovalStatus.REJECTED, "decider", "api")

    assert client.post("/api/agent/pause/").status_code == 403
    assert not AgentState.objects.filter(paused=True).exists()


def test_api_control_agent_lets_a_staff_user_steer_but_not_decide(django_user_model, claude):
    from tests.factories import decision_text

    client = token_client(staff(django_user_model, "pilot", "control_agent"))
    approval = ApprovalFactory(certainty=0.5)

    assert client.post("/api/agent/pause/").status_code == 200 and agent_state_get().paused is True
    assert client.post("/api/agent/resume/").status_code == 200 and agent_state_get().paused is False
    claude.reply_text(decision_text(action="meditate", certainty=0.9, significance=0.2))
    assert client.post("/api/agent/run-cycle/").status_code == 202 and Cycle.objects.count() == 1

    assert client.post(f"/api/approvals/{approval.pk}/approve/", {}, format="json").status_code == 403
    assert decision_fields(approval)[0] == ApprovalStatus.PENDING


def test_api_a_superuser_needs_no_explicit_grant(admin_user):
    client = token_client(admin_user)
    approval = ApprovalFactory(certainty=0.5)
    assert client.post(f"/api/approvals/{approval.pk}/reject/", {}, format="json").status_code == 200
    assert client.post("/api/agent/pause/").status_code == 200
    assert decision_fields(approval)[0] == ApprovalStatus.REJECTED and agent_state_get().paused is True


# --- admin ------------------------------------------------------------------------------


@FAULT
@pytest.mark.parametrize(("verb", "form"), [("approve", {"note": "go"}), ("reject", {}), ("answer", {"option": "A"})])
def test_admin_buttons_refuse_staff_without_decide_approval(client, django_user_model, verb, form):
    client.force_login(staff(django_user_model, "viewer", "view_approval"))
    approval = asked() if verb == "answer" else ApprovalFactory(certainty=0.5)
    before = decision_fields(approval)

    page = client.get(f"{APPROVALS}{approval.pk}/change/").content.decode()
    assert "approval-decide-form" not in page and "You may view this approval but not decide it." in page
    assert client.post(f"{APPROVALS}{approval.pk}/{verb}/", form).status_code == 403
    assert decision_fields(approval) == before


@FAULT
@pytest.mark.parametrize("action", ["approve_selected", "reject_selected"])
def test_admin_bulk_actions_are_hidden_and_refused_without_decide_approval(client, django_user_model, action):
    client.force_login(staff(django_user_model, "viewer", "view_approval"))
    first, second = ApprovalFactory(certainty=0.5), ApprovalFactory(certainty=0.5)
    before = [decision_fields(first), decision_fields(second)]

    listing = client.get(APPROVALS)
    assert listing.status_code == 200 and action not in listing.content.decode()
    client.post(APPROVALS, {"action": action, "_selected_action": [first.pk, second.pk]})
    assert [decision_fields(first), decision_fields(second)] == before


def test_admin_decide_approval_shows_the_buttons_and_they_work(client, django_user_model):
    client.force_login(staff(django_user_model, "decider", "view_approval", "decide_approval"))
    approval, first, second = ApprovalFactory(certainty=0.5), ApprovalFactory(certainty=0.5), ApprovalFactory(certainty=0.5)

    page = client.get(f"{APPROVALS}{approval.pk}/change/").content.decode()
    assert 'id="approve-button"' in page and 'id="reject-button"' in page
    assert client.post(f"{APPROVALS}{approval.pk}/reject/", {"note": "no"}).status_code == 302
    assert decision_fields(approval)[:3] == (ApprovalStatus.REJECTED, "decider", "admin")

    assert "approve_selected" in client.get(APPROVALS).content.decode()
    client.post(APPROVALS, {"action": "reject_selected", "_selected_action": [first.pk, second.pk]})
    assert decision_fields(first)[0] == decision_fields(second)[0] == ApprovalStatus.REJECTED


@FAULT
def test_admin_resume_is_refused_without_control_agent(client, django_user_model):
    client.force_login(staff(django_user_model, "viewer"))
    before = agent_pause()

    page = client.get(DASHBOARD).content.decode()
    assert 'id="resume-button"' not in page and 'id="agent-toggle"' not in page
    assert client.post(TOGGLE, {"action": "resume"}).status_code == 403
    after = agent_state_get()
    assert (after.paused, after.updated_at) == (True, before.updated_at)


def test_admin_control_agent_shows_the_button_and_it_works(client, django_user_model):
    client.force_login(staff(django_user_model, "pilot", "control_agent"))

    assert 'id="pause-button"' in client.get(DASHBOARD).content.decode()
    assert client.post(TOGGLE, {"action": "pause"}).status_code == 302
    assert agent_state_get().paused is True
    assert client.post(TOGGLE, {"action": "resume"}).status_code == 302
    assert agent_state_get().paused is False
