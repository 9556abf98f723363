"""The Master's schedules in the admin: saved through the services (the time validated on
the form, the creator recorded, the next run computed), enabled/disabled, deleted."""

import re
from datetime import UTC, datetime

import pytest
import time_machine

from decisions.master_schedules import master_schedule_create
from decisions.models import MasterSchedule, ScheduleKind, Surface

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_no_default_digest")]

SCHEDULES = "/admin/decisions/masterschedule/"
MONDAY_0700 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


@pytest.fixture
def _no_default_digest():
    MasterSchedule.objects.all().delete()


def form(**fields) -> dict:
    return {"cron": "weekday 08:00", "kind": "task", "text": "Summarize yesterday", "enabled": "on", **fields}


@time_machine.travel(MONDAY_0700, tick=False)
def test_adding_a_schedule_goes_through_the_service(admin_client, admin_user):
    response = admin_client.post(f"{SCHEDULES}add/", form())
    assert response.status_code == 302, response.content.decode()[-2000:]
    schedule = MasterSchedule.objects.get()
    assert (schedule.cron, schedule.created_by, schedule.created_via) == ("0 8 * * 1-5", admin_user.username,
                                                                          Surface.ADMIN)
    assert schedule.next_run_at == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    html = admin_client.get(SCHEDULES).content.decode()
    assert "0 8 * * 1-5" in html and "Summarize yesterday" in html and "Nov. 30, 2026, 8 a.m." in html


@pytest.mark.parametrize(("fields", "says"), [
    ({"cron": "now and then"}, "Not a schedule time"),
    ({"cron": "0 0 31 2 *"}, "never runs"),
    ({"text": ""}, "needs a text"),
])
def test_a_bad_schedule_is_shown_on_the_form_and_not_saved(admin_client, fields, says):
    response = admin_client.post(f"{SCHEDULES}add/", form(**fields))
    assert response.status_code == 200
    assert says in response.content.decode()
    assert not MasterSchedule.objects.exists()


def test_changing_and_disabling_and_deleting(admin_client):
    with time_machine.travel(MONDAY_0700, tick=False):
        schedule = master_schedule_create(cron="hour", text="Inbox", by="m", via=Surface.TELEGRAM)
        response = admin_client.post(f"{SCHEDULES}{schedule.pk}/change/",
                                     form(cron="monday 09:30", kind="digest", text=""))
        assert response.status_code == 302
    schedule.refresh_from_db()
    assert (schedule.cron, schedule.kind, schedule.created_via) == ("30 9 * * 1", ScheduleKind.DIGEST, Surface.TELEGRAM)
    assert schedule.next_run_at == datetime(2026, 11, 30, 9, 30, tzinfo=UTC)

    admin_client.post(SCHEDULES, {"action": "disable_selected", "_selected_action": [schedule.pk]})
    schedule.refresh_from_db()
    assert (schedule.enabled, schedule.next_run_at) == (False, None)
    admin_client.post(SCHEDULES, {"action": "enable_selected", "_selected_action": [schedule.pk]})
    schedule.refresh_from_db()
    assert schedule.enabled and schedule.next_run_at is not None

    response = admin_client.post(f"{SCHEDULES}{schedule.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not MasterSchedule.objects.exists()


def test_the_change_page_shows_the_next_run_read_only(admin_client):
    schedule = master_schedule_create(cron="hour", text="Inbox", by="ann", via=Surface.API)
    html = admin_client.get(f"{SCHEDULES}{schedule.pk}/change/").content.decode()
    assert re.search(r"Next run at", html) and "ann" in html
    assert 'name="next_run_at"' not in html  # not editable: the services compute it
