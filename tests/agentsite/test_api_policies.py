"""The per-action policy over the API: every action's effective policy, PUT and PATCH
through the service, 400 on bad input, 403 without decisions.change_actionpolicy."""

import pytest
from django.contrib.auth.models import Permission

from decisions.models import ActionPolicy, AgentState
from decisions.policy import action_policy_set, policy_current

pytestmark = pytest.mark.django_db

LIST = "/api/policies/"


@pytest.fixture
def editor(api, staff_user):
    """The Master's client, allowed to change the policy."""
    staff_user.user_permissions.add(Permission.objects.get(codename="change_actionpolicy"))
    return api


def test_the_list_has_every_action_with_its_effective_policy(api, settings):
    settings.APPROVAL_TIMEOUT_SECONDS = 3600
    action_policy_set(action="work_on_task", mode="ask_always", approval_timeout_seconds=600, by="master")
    body = api.get(LIST).json()
    assert [p["action"] for p in body] == [
        "develop_skill", "work_on_task", "communicate", "meditate", "ask_master", "proactive_outreach"]
    by_action = {p["action"]: p for p in body}
    assert by_action["meditate"] | {"updated_at": None} == {
        "action": "meditate", "mode": "act_at", "min_certainty": 0.8, "approval_timeout_seconds": None,
        "effective_timeout_seconds": 3600, "floor": None, "is_default": True, "updated_at": None, "updated_by": "",
    }
    task = by_action["work_on_task"]
    assert (task["mode"], task["approval_timeout_seconds"], task["effective_timeout_seconds"]) == ("ask_always", 600, 600)
    assert task["updated_by"] == "master (system)" and not task["is_default"]
    assert "always asks" in by_action["proactive_outreach"]["floor"]
    assert api.get(f"{LIST}meditate/").json()["mode"] == "act_at"


def test_put_sets_the_policy_and_the_agent_sees_it(editor):
    response = editor.put(f"{LIST}work_on_task/", {"mode": "act_at", "min_certainty": 0.6,
                                                    "approval_timeout_seconds": 1800}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["min_certainty"], response.json()["updated_by"]) == (0.6, "master (api)")
    assert policy_current().rule("work_on_task").min_certainty == 0.6
    # PUT is the whole policy: what it leaves out goes back to its default.
    again = editor.put(f"{LIST}work_on_task/", {"mode": "ask_always"}, format="json").json()
    assert (again["mode"], again["min_certainty"], again["approval_timeout_seconds"]) == ("ask_always", 0.8, None)


def test_patch_changes_only_what_it_names(editor):
    editor.put(f"{LIST}meditate/", {"mode": "act_at", "min_certainty": 0.5, "approval_timeout_seconds": 900},
               format="json")
    body = editor.patch(f"{LIST}meditate/", {"approval_timeout_seconds": 120}, format="json").json()
    assert (body["mode"], body["min_certainty"], body["approval_timeout_seconds"]) == ("act_at", 0.5, 120)
    body = editor.patch(f"{LIST}meditate/", {"mode": "disabled"}, format="json").json()
    assert (body["mode"], body["min_certainty"]) == ("disabled", 0.5)


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "sometimes"},
        {"mode": "act_at", "min_certainty": 1.2},
        {"mode": "act_at", "min_certainty": "0.5"},
        {"mode": "act_at", "min_certainty": True},
        {"mode": "act_at", "approval_timeout_seconds": 0},
        {"mode": "act_at", "approval_timeout_seconds": "60"},
        {"mode": "act_at", "approval_timeout_seconds": 10**9},
        {"mode": "act_at", "colour": "blue"},
        {"min_certainty": 0.5},  # PUT needs the mode
        [],
    ],
)
def test_bad_input_is_400_and_changes_nothing(editor, body):
    response = editor.put(f"{LIST}meditate/", body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"
    assert not ActionPolicy.objects.exists()
    assert not AgentState.objects.filter(policy_version__isnull=False).exists()


def test_an_unknown_action_is_404(editor, api):
    response = editor.put(f"{LIST}dance/", {"mode": "act_at"}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert "unknown action 'dance'" in response.json()["detail"]
    assert api.get(f"{LIST}dance/").status_code == 404


def test_changing_needs_the_permission_reading_needs_staff(api, staff_only, anon, non_staff):
    denied = api.put(f"{LIST}meditate/", {"mode": "disabled"}, format="json")
    assert denied.status_code == 403 and "decisions.change_actionpolicy" in denied.json()["detail"]
    assert staff_only.patch(f"{LIST}meditate/", {"mode": "disabled"}, format="json").status_code == 403
    assert not ActionPolicy.objects.exists()
    assert staff_only.get(LIST).status_code == 200
    assert anon.get(LIST).status_code == 401
    assert non_staff.get(LIST).status_code == 403


def test_rows_the_admin_made_with_the_default_policy_read_as_default(admin_client, api):
    admin_client.get("/admin/decisions/actionpolicy/")  # creates the six rows
    assert all(p["is_default"] for p in api.get(LIST).json())


def test_the_api_root_links_the_policies(anon):
    assert anon.get("/api/").json()["policies"].endswith("/api/policies/")
