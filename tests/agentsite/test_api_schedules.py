"""The Master's schedules over the API: list, create (cron or words), change, delete;
writes need decisions.control_agent; bad input is a clear 400 and nothing is stored."""

from datetime import UTC, datetime

import pytest
import time_machine

from decisions.models import MasterSchedule, ScheduleKind, Surface
from decisions.master_schedules import master_schedule_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_no_default_digest")]

MONDAY_0700 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


@pytest.fixture
def _no_default_digest():
    MasterSchedule.objects.all().delete()


@time_machine.travel(MONDAY_0700, tick=False)
def test_creating_a_schedule_from_words_stores_the_cron_and_its_next_run(api):
    response = api.post("/api/schedules/", {"cron": "weekday 08:00", "text": "Summarize yesterday"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["cron"], body["kind"], body["enabled"], body["created_by"], body["created_via"]) == (
        "0 8 * * 1-5", "task", True, "master", "api")
    assert body["next_run_at"] == "2026-11-30T08:00:00Z"
    assert MasterSchedule.objects.get(pk=body["id"]).text == "Summarize yesterday"


def test_a_digest_needs_no_text(api):
    body = api.post("/api/schedules/", {"cron": "0 18 * * 5", "kind": "digest"}, format="json").json()
    assert (body["kind"], body["text"]) == ("digest", "")


@pytest.mark.parametrize(("payload", "field", "says"), [
    ({"cron": "every now and then", "text": "x"}, None, "Not a schedule time"),
    ({"cron": "0 0 31 2 *", "text": "x"}, None, "never runs"),
    ({"cron": "0 8 * * *"}, None, "needs a text"),
    ({"cron": "0 8 * * *", "text": "x", "kind": "poem"}, None, "kind is one of task, digest"),
    ({"cron": "0 8 * * *", "text": "x", "enabled": "yes"}, "enabled", "true or false"),
    ({"cron": 8, "text": "x"}, "cron", "Not a valid string"),
    ({"cron": "0 8 * * *", "text": "x", "when": "now"}, "when", "Unknown field"),
    ({"cron": "0 8 * * *", "text": "x" * 2001}, "text", "no more than 2000"),
])
def test_bad_input_is_a_400_and_nothing_is_stored(api, payload, field, says):
    response = api.post("/api/schedules/", payload, format="json")
    assert response.status_code == 400
    assert says in str(response.json())
    assert not MasterSchedule.objects.exists()


def test_list_filter_patch_and_delete(api):
    task = master_schedule_create(cron="hour", text="Inbox", by="m", via=Surface.TELEGRAM)
    digest = master_schedule_create(cron="day 08:00", text="", kind=ScheduleKind.DIGEST, by="m", via=Surface.API)
    assert [s["id"] for s in api.get("/api/schedules/").json()["results"]] == [task.pk, digest.pk]
    assert [s["id"] for s in api.get("/api/schedules/?kind=digest").json()["results"]] == [digest.pk]
    assert api.get("/api/schedules/?colour=red").status_code == 400

    body = api.patch(f"/api/schedules/{task.pk}/", {"enabled": False}, format="json").json()
    assert (body["enabled"], body["next_run_at"]) == (False, None)
    assert [s["id"] for s in api.get("/api/schedules/?enabled=false").json()["results"]] == [task.pk]
    assert api.patch(f"/api/schedules/{task.pk}/", {"cron": "sometimes"}, format="json").status_code == 400
    body = api.patch(f"/api/schedules/{task.pk}/", {"enabled": True, "cron": "monday 09:30"}, format="json").json()
    assert body["enabled"] and body["cron"] == "30 9 * * 1" and body["next_run_at"]

    assert api.delete(f"/api/schedules/{task.pk}/").status_code == 204
    response = api.delete(f"/api/schedules/{task.pk}/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert list(MasterSchedule.objects.values_list("pk", flat=True)) == [digest.pk]


def test_staff_without_control_may_read_but_not_change(staff_only):
    schedule = master_schedule_create(cron="hour", text="Inbox", by="m", via=Surface.API)
    assert staff_only.get("/api/schedules/").status_code == 200
    assert staff_only.post("/api/schedules/", {"cron": "hour", "text": "x"}, format="json").status_code == 403
    assert staff_only.patch(f"/api/schedules/{schedule.pk}/", {"enabled": False}, format="json").status_code == 403
    assert staff_only.delete(f"/api/schedules/{schedule.pk}/").status_code == 403
    schedule.refresh_from_db()
    assert schedule.enabled and MasterSchedule.objects.count() == 1
