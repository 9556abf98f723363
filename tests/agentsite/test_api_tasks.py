"""Tasks over the API: create (source api), list and filter, edit while pending, cancel."""

import pytest

from actions.models import Task, TaskStatus
from actions.services import task_cancel, task_complete, task_create, task_start

pytestmark = pytest.mark.django_db


def make(title="Write a haiku", priority=3, **kwargs) -> Task:
    return task_create(title=title, priority=priority, source="cli", **kwargs)


def test_creating_a_task_goes_through_the_service_with_source_api(api):
    response = api.post(
        "/api/tasks/", {"title": "  Learn   Rust ", "description": "the book", "priority": 1}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["title"], body["description"], body["priority"], body["status"], body["source"]) == (
        "Learn Rust", "the book", 1, "pending", "api",
    )
    assert Task.objects.get(pk=body["id"]).source == "api"


def test_a_task_needs_only_a_title(api):
    body = api.post("/api/tasks/", {"title": "Rest"}, format="json").json()
    assert (body["priority"], body["description"]) == (3, "")


def test_tasks_are_listed_most_urgent_first_and_filtered(api):
    low, urgent, done = make("low", 5), make("urgent", 1), make("done", 2)
    task_start(task_id=done.pk)
    task_complete(task_id=done.pk, result="ok")
    assert [t["id"] for t in api.get("/api/tasks/").json()["results"]] == [urgent.pk, done.pk, low.pk]
    assert [t["id"] for t in api.get("/api/tasks/?status=pending").json()["results"]] == [urgent.pk, low.pk]
    assert [t["id"] for t in api.get("/api/tasks/?priority=5").json()["results"]] == [low.pk]
    assert api.get("/api/tasks/?status=done&priority=1").json()["count"] == 0


@pytest.mark.parametrize("query", ["status=later", "priority=0", "priority=6", "priority=high", "priority=99999999999999999999"])
def test_bad_task_filters_are_400(api, query):
    response = api.get(f"/api/tasks/?{query}")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_a_task_detail_shows_its_result(api):
    task = make()
    task_start(task_id=task.pk)
    task_complete(task_id=task.pk, result="Autumn moonlight")
    body = api.get(f"/api/tasks/{task.pk}/").json()
    assert (body["status"], body["result"]) == ("done", "Autumn moonlight")
    assert body["started_at"] and body["finished_at"]


def test_patch_edits_a_pending_task(api):
    task = make()
    response = api.patch(
        f"/api/tasks/{task.pk}/", {"title": "Write two haiku", "priority": 2, "description": " more "}, format="json"
    )
    assert response.status_code == 200
    task.refresh_from_db()
    assert (task.title, task.priority, task.description, task.status) == ("Write two haiku", 2, "more", "pending")


def test_patch_with_nothing_changes_nothing(api):
    task = make()
    response = api.patch(f"/api/tasks/{task.pk}/", {}, format="json")
    assert response.status_code == 200 and response.json()["title"] == "Write a haiku"


def test_patch_status_cancelled_cancels_via_the_service(api):
    task = make()
    response = api.patch(f"/api/tasks/{task.pk}/", {"status": "cancelled"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED and task.finished_at is not None


@pytest.mark.parametrize("body", [{"status": "done"}, {"status": "pending"}, {"status": "cancelled", "title": "x"}])
def test_patch_may_only_cancel(api, body):
    task = make()
    assert api.patch(f"/api/tasks/{task.pk}/", body, format="json").status_code == 400
    task.refresh_from_db()
    assert task.status == TaskStatus.PENDING and task.title == "Write a haiku"


@pytest.mark.parametrize("body", [{"title": "New"}, {"status": "cancelled"}])
def test_a_started_task_cannot_be_edited_or_cancelled(api, body):
    task = make()
    task_start(task_id=task.pk)
    response = api.patch(f"/api/tasks/{task.pk}/", body, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict" and response.json()["status"] == "running"
    task.refresh_from_db()
    assert (task.status, task.title) == ("running", "Write a haiku")


def test_delete_cancels_a_pending_task_and_keeps_it(api):
    task = make()
    response = api.delete(f"/api/tasks/{task.pk}/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert Task.objects.filter(pk=task.pk, status=TaskStatus.CANCELLED).exists()
    again = api.delete(f"/api/tasks/{task.pk}/")  # idempotent
    assert again.status_code == 200 and again.json()["status"] == "cancelled"


def test_delete_of_a_running_or_finished_task_is_409(api):
    task = make()
    task_start(task_id=task.pk)
    assert api.delete(f"/api/tasks/{task.pk}/").status_code == 409
    task_complete(task_id=task.pk, result="done")
    response = api.delete(f"/api/tasks/{task.pk}/")
    assert response.status_code == 409 and response.json()["status"] == "done"
    assert Task.objects.filter(pk=task.pk, status=TaskStatus.DONE).exists()


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_an_unknown_task_is_404(api, method):
    response = getattr(api, method)("/api/tasks/9999/", {}, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "Task #9999 does not exist", "code": "not_found", "task_id": 9999}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "ok", "description": "x" * 10_001}, "description"),
        ({"title": "ok", "priority": 0}, "priority"),
        ({"title": "ok", "priority": 6}, "priority"),
        ({"title": "ok", "priority": "urgent"}, "priority"),
        ({"title": "ok", "priority": 2.5}, "priority"),
        ({"title": "ok", "priority": True}, "priority"),
        ({"title": "ok", "priority": "2"}, "priority"),
        ({"title": 42}, "title"),
        ({"title": "ok", "description": None}, "description"),
        ({"title": "ok", "priority": 10**30}, "priority"),
        ({"title": ["a"]}, "title"),
        ({"title": {"a": 1}}, "title"),
        ({"title": "nul\x00byte"}, "title"),
        ({"title": "ok", "status": "done"}, "status"),
        ({"title": "ok", "source": "agent"}, "source"),
    ],
)
def test_bad_task_bodies_are_400_and_create_nothing(api, body, field):
    response = api.post("/api/tasks/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and field in response.json()["errors"]
    assert not Task.objects.exists()


def test_a_huge_body_is_400_not_500(api):
    response = api.post("/api/tasks/", {"title": "ok", "description": "x" * 2_000_000}, format="json")
    assert response.status_code == 400
    assert not Task.objects.exists()


def test_cancelled_tasks_are_kept_and_listed(api):
    task = make()
    task_cancel(task_id=task.pk)
    assert api.get("/api/tasks/?status=cancelled").json()["count"] == 1


def test_a_body_over_the_upload_cap_is_a_json_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = api.post("/api/tasks/", {"title": "ok", "description": "x" * 20_000}, format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert not Task.objects.exists()
