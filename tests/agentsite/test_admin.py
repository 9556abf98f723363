"""The admin as a whole: every changelist and change page renders for staff and for no one
else; the index leads to the agent dashboard. Each app's own admin behaviour is tested
beside it (tests/<app>/test_admin.py)."""

import pytest

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "/admin/decisions/approval/", "/admin/decisions/cycle/", "/admin/decisions/notification/", "/admin/budget/ledgerentry/",
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
