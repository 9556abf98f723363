"""Every error is JSON `{"detail", "code"}` with the right status; nothing is a 500."""

import pytest

from actions.errors import TaskInvalid, TaskNotCancellable, TaskNotFound, TaskNotRunnable
from agentsite.api.exceptions import api_exception_handler
from agentsite.core.errors import ApplicationError
from budget.errors import BudgetExceeded, ClaudeNotConfigured
from decisions.errors import ApprovalNotFound, ApprovalNotPending, ApprovalWrongKind

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ApprovalNotFound("approval #1 does not exist"), 404, "not_found"),
        (TaskNotFound(task_id=1), 404, "not_found"),
        (ApprovalNotPending("approval #1 has expired", extra={"status": "expired"}), 409, "conflict"),
        (TaskNotCancellable("no", task_id=1, status="done"), 409, "conflict"),
        (TaskNotRunnable("no", task_id=1, status="done"), 409, "not_runnable"),
        (ApprovalWrongKind("a question"), 400, "invalid"),
        (TaskInvalid("needs a title"), 400, "invalid"),
        (BudgetExceeded("over"), 400, "budget_exceeded"),
        (ClaudeNotConfigured(), 400, "not_configured"),
        (ApplicationError("something"), 400, "error"),
    ],
)
def test_application_errors_map_to_http(error, status, code):
    response = api_exception_handler(error, {})
    assert response.status_code == status
    assert response.data["detail"] == error.message and response.data["code"] == code


def test_the_services_extras_ride_along_but_never_replace_detail_or_code():
    error = ApplicationError("boom", extra={"status": "expired", "detail": "x", "code": "y"})
    assert api_exception_handler(error, {}).data == {"detail": "boom", "code": "error", "status": "expired"}


def test_unexpected_errors_are_left_to_django():
    assert api_exception_handler(RuntimeError("bug"), {}) is None


@pytest.mark.parametrize(
    "path",
    [
        "/api/tasks/abc/",
        "/api/tasks/-1/",
        "/api/tasks/1.5/",
        "/api/tasks/99999999999999999999999999/",
        "/api/tasks/9223372036854775808/",
        "/api/approvals/99999999999999999999999999/approve/",
        "/api/cycles/%00/",
        "/api/nothing/",
    ],
)
def test_bad_ids_and_unknown_paths_are_json_404s(api, path):
    for method in ("get", "post"):
        response = getattr(api, method)(path, {}, format="json")
        assert response.status_code == 404, (method, path)
        assert response.json()["code"] == "not_found"


def test_the_biggest_id_is_still_looked_up(api):
    response = api.get("/api/tasks/9223372036854775807/")
    assert response.json() == {
        "detail": "Task #9223372036854775807 does not exist", "code": "not_found", "task_id": 9223372036854775807,
    }


def test_a_missing_slash_redirects(api):
    response = api.get("/api/tasks")
    assert response.status_code == 301 and response["Location"] == "/api/tasks/"


def test_a_404_page_for_bad_ids_does_not_need_a_csrf_token(admin_user):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post("/api/tasks/abc/").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [("put", "/api/tasks/1/"), ("delete", "/api/tasks/"), ("post", "/api/budget/"), ("patch", "/api/ledger/")],
)
def test_unsupported_methods_are_405(api, method, path):
    response = getattr(api, method)(path, {}, format="json")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "path", ["/api/tasks/", "/api/tasks/1/", "/api/memory/", "/api/approvals/1/approve/", "/api/agent/", "/api/ledger/"]
)
def test_options_describes_the_endpoint(api, path):
    response = api.options(path)
    assert response.status_code == 200
    assert "name" in response.json()


def test_options_lists_the_fields_a_post_takes(api):
    body = api.options("/api/tasks/").json()
    assert set(body["actions"]["POST"]) == {"title", "description", "priority"}


def test_ids_with_newlines_are_json_404s_too(api):
    response = api.delete("/api/tasks/a%0Ab/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "path",
    ["/api/budget/", "/api/ledger/", "/api/cycles/", "/api/approvals/", "/api/tasks/", "/api/skills/",
     "/api/memory/", "/api/agent/", "/api/ledger/?format=json"],
)
def test_a_browser_gets_json_too(admin_client, path):
    response = admin_client.get(path, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"


def test_asking_for_html_only_is_406(api):
    response = api.get("/api/tasks/", HTTP_ACCEPT="text/html")
    assert response.status_code == 406 and response.json()["code"] == "not_acceptable"
