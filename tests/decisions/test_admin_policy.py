"""The per-action policy in the admin: all six actions listed, saved through the service
(a new policy version, who changed it), bad values refused, the permission needed."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from actions.schemas import ACTIONS
from decisions.models import ActionPolicy, AgentState
from decisions.policy import policy_current

pytestmark = pytest.mark.django_db

LIST = "/admin/decisions/actionpolicy/"


def change_url(action: str) -> str:
    return f"{LIST}{ActionPolicy.objects.get(action=action).pk}/change/"


def form(**values) -> dict:
    return {"mode": "act_at", "min_certainty": "0.8", "approval_timeout_seconds": "", **values}


def test_the_list_shows_every_action_with_its_floor(admin_client):
    html = admin_client.get(LIST).content.decode()
    assert sorted(ActionPolicy.objects.values_list("action", flat=True)) == sorted(ACTIONS)
    for action in ACTIONS:
        assert action in html
    assert "always asks the Master (a message to someone else)" in html
    assert "Add action policy" not in html  # one row per action, no adding
    assert AgentState.objects.filter(policy_version__isnull=False).count() == 0  # defaults change nothing
    admin_client.get(LIST)
    assert ActionPolicy.objects.count() == len(ACTIONS)


def test_saving_goes_through_the_service(admin_client):
    admin_client.get(LIST)
    response = admin_client.post(change_url("work_on_task"),
                                 form(min_certainty="0.55", approval_timeout_seconds="1200"))
    assert response.status_code == 302, response.content.decode()[:2000]
    row = ActionPolicy.objects.get(action="work_on_task")
    assert (row.mode, row.min_certainty, row.approval_timeout_seconds) == ("act_at", 0.55, 1200)
    assert row.updated_by == "admin (admin)"
    assert AgentState.objects.get().policy_version is not None
    assert policy_current().rule("work_on_task").min_certainty == 0.55

    admin_client.post(change_url("proactive_outreach"), form(mode="disabled"))
    assert policy_current().rule("proactive_outreach").mode == "disabled"


@pytest.mark.parametrize(
    "values",
    [{"min_certainty": "1.5"}, {"min_certainty": "-0.2"}, {"approval_timeout_seconds": "0"},
     {"approval_timeout_seconds": "99999999"}, {"mode": "sometimes"}],
)
def test_bad_values_are_refused_on_the_form(admin_client, values):
    admin_client.get(LIST)
    response = admin_client.post(change_url("meditate"), form(**values))
    assert response.status_code == 200  # the form again, with its error
    assert "errornote" in response.content.decode() or "errorlist" in response.content.decode()
    assert ActionPolicy.objects.get(action="meditate").min_certainty == 0.8
    assert not AgentState.objects.filter(policy_version__isnull=False).exists()


def test_changing_needs_the_permission(django_user_model, admin_client):
    admin_client.get(LIST)
    viewer = django_user_model.objects.create_user(username="viewer", password="pw-0003", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_actionpolicy"))
    client = Client()
    client.force_login(viewer)
    assert client.get(LIST).status_code == 200
    response = client.post(change_url("meditate"), form(mode="disabled"))
    assert response.status_code == 403
    assert ActionPolicy.objects.get(action="meditate").mode == "act_at"
    assert client.post(f"{LIST}{ActionPolicy.objects.get(action='meditate').pk}/delete/").status_code == 403
