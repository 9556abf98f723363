"""One "not found": every 404 of the API, whichever layer noticed, has the same body
(`{"detail", "code": "not_found"}` plus the selector's extras), and each error class
declares its own HTTP status (no list of kinds in the handler)."""

import pytest
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from rest_framework import exceptions

from actions.errors import SkillNotFound, TaskNotRunnable
from actions.models import Task
from agentsite.api.exceptions import api_exception_handler
from agentsite.core.errors import ApplicationError, Conflict, NotFound
from decisions.errors import CycleNotFound, NotificationNotFound, NotificationNotRetryable, QueueUnavailable

pytestmark = pytest.mark.django_db

NOT_FOUND = {"detail": "Not found.", "code": "not_found"}


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("get", "/api/cycles/999/", None, {"detail": "Cycle #999 does not exist", "code": "not_found"}),
        ("get", "/api/skills/77/", None, {"detail": "Skill #77 does not exist", "code": "not_found"}),
        ("get", "/api/approvals/424242/", None, {"detail": "approval #424242 does not exist", "code": "not_found"}),
        ("post", "/api/approvals/424242/approve/", {}, {"detail": "approval #424242 does not exist", "code": "not_found"}),
        ("post", "/api/approvals/424242/reject/", {}, {"detail": "approval #424242 does not exist", "code": "not_found"}),
        ("post", "/api/approvals/424242/answer/", {"answer": "yes"},
         {"detail": "approval #424242 does not exist", "code": "not_found"}),
        ("get", "/api/tasks/9999/", None, {"detail": "Task #9999 does not exist", "code": "not_found", "task_id": 9999}),
        ("patch", "/api/tasks/9999/", {"title": "x"},
         {"detail": "Task #9999 does not exist", "code": "not_found", "task_id": 9999}),
        ("delete", "/api/tasks/9999/", None, {"detail": "Task #9999 does not exist", "code": "not_found", "task_id": 9999}),
        ("get", "/api/ledger/?page=3", None, {"detail": "Invalid page.", "code": "not_found"}),
        ("get", "/api/skills/?page=2", None, {"detail": "Invalid page.", "code": "not_found"}),
        ("get", "/api/tasks/9223372036854775808/", None, NOT_FOUND),  # beyond any primary key
        ("get", "/api/cycles/abc/", None, NOT_FOUND),  # no route
        ("post", "/api/nothing/", {}, NOT_FOUND),
    ],
)
def test_every_404_has_the_same_body(api, method, path, body, expected):
    response = getattr(api, method)(path, body, format="json")
    assert response.status_code == 404, path
    assert response["Content-Type"] == "application/json"
    assert response.json() == expected


@pytest.mark.parametrize(
    "exc", [Http404("Django's own words"), Task.DoesNotExist("no row"), ObjectDoesNotExist(), exceptions.NotFound()]
)
def test_django_and_drf_not_founds_take_the_same_path(exc):
    response = api_exception_handler(exc, {})
    assert response.status_code == 404 and response.data == NOT_FOUND


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (CycleNotFound(cycle_id=3), 404, "not_found"),
        (SkillNotFound(skill_id=3), 404, "not_found"),
        (NotificationNotFound(notification_id=3), 404, "not_found"),
        (NotificationNotRetryable("sent", notification_id=3, status="sent"), 409, "conflict"),
        (TaskNotRunnable("no", task_id=1, status="done"), 409, "not_runnable"),
        (QueueUnavailable("broker away"), 503, "unavailable"),
    ],
)
def test_each_error_class_declares_its_status(error, status, code):
    assert error.http_status == status
    response = api_exception_handler(error, {})
    assert (response.status_code, response.data["code"]) == (status, code)


def test_the_handler_answers_with_the_status_the_class_declares():
    class Teapot(ApplicationError):
        kind = "teapot"
        http_status = 418

    class Gone(NotFound):
        kind = "gone"  # another code, still a 404 by its base

    assert api_exception_handler(Teapot("short and stout"), {}).status_code == 418
    assert api_exception_handler(Gone("moved on"), {}).status_code == 404
    assert api_exception_handler(Conflict("busy"), {}).status_code == 409
