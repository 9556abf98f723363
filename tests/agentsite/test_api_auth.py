"""Who may use the API: staff only (token or session); anonymous 401, others 403; throttling."""

import json

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

pytestmark = pytest.mark.django_db

# Every data endpoint, with an id that need not exist: access is checked before lookup.
ENDPOINTS = [
    ("get", "/api/budget/"),
    ("get", "/api/ledger/"),
    ("get", "/api/cycles/"),
    ("get", "/api/cycles/1/"),
    ("get", "/api/approvals/"),
    ("get", "/api/approvals/1/"),
    ("post", "/api/approvals/1/approve/"),
    ("post", "/api/approvals/1/reject/"),
    ("post", "/api/approvals/1/answer/"),
    ("get", "/api/tasks/"),
    ("post", "/api/tasks/"),
    ("get", "/api/tasks/1/"),
    ("patch", "/api/tasks/1/"),
    ("delete", "/api/tasks/1/"),
    ("get", "/api/skills/"),
    ("get", "/api/skills/1/"),
    ("get", "/api/memory/"),
    ("post", "/api/memory/"),
    ("get", "/api/schedules/"),
    ("post", "/api/schedules/"),
    ("get", "/api/schedules/1/"),
    ("patch", "/api/schedules/1/"),
    ("delete", "/api/schedules/1/"),
    ("get", "/api/memory/1/"),
    ("patch", "/api/memory/1/"),
    ("get", "/api/agent/"),
    ("post", "/api/agent/pause/"),
    ("post", "/api/agent/resume/"),
    ("post", "/api/agent/run-cycle/"),
]
IDS = [f"{method.upper()} {path}" for method, path in ENDPOINTS]
BODY = {"title": "x", "content": "x", "answer": "x", "note": "x"}


def call(client, method, path):
    return getattr(client, method)(path, BODY if method in ("post", "patch") else None, format="json")


@pytest.mark.fault("Unauthenticated API call")
@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=IDS)
def test_anonymous_is_401_with_a_token_challenge(anon, method, path):
    response = call(anon, method, path)
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided.", "code": "not_authenticated"
    }
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=IDS)
def test_a_logged_in_non_staff_user_is_403_and_sees_no_data(non_staff, method, path):
    response = call(non_staff, method, path)
    assert response.status_code == 403
    assert response.json() == {
        "detail": "You do not have permission to perform this action.", "code": "permission_denied"
    }


@pytest.mark.fault("Unauthenticated API call")
@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=IDS)
def test_nothing_changes_for_those_refused(anon, non_staff, method, path):
    from actions.models import Task
    from decisions.models import AgentState
    from memory.models import MemoryEntry

    call(anon, method, path)
    call(non_staff, method, path)
    assert not Task.objects.exists() and not MemoryEntry.objects.exists()
    assert not AgentState.objects.filter(paused=True).exists()


@pytest.mark.fault("Unauthenticated API call")
def test_a_wrong_token_is_401(anon):
    anon.credentials(HTTP_AUTHORIZATION="Token not-a-real-token-0000")
    response = anon.get("/api/budget/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token.", "code": "authentication_failed"}


def test_a_staff_token_works(api):
    response = api.get("/api/budget/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_a_staff_session_works_and_writes_need_the_csrf_token(admin_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.get("/api/agent/").status_code == 200
    response = client.post("/api/agent/pause/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "CSRF" in response.json()["detail"]


def test_a_token_made_by_the_management_command_works(staff_user):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("drf_create_token", staff_user.username, stdout=out)
    key = out.getvalue().split()[2]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/agent/").status_code == 200


def test_schema_and_docs_are_public_and_list_no_data(anon):
    assert anon.get("/api/schema/").status_code == 200
    assert anon.get("/api/docs/").status_code == 200


@pytest.fixture
def low_rates(monkeypatch):
    """DRF reads THROTTLE_RATES when the throttle classes are defined, so patch the class."""
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/minute", "user": "5/minute"})


def test_anonymous_requests_are_throttled(anon, low_rates):
    # Anonymous callers only pass the permission check on the public schema; DRF checks
    # permissions before throttles, so elsewhere they get their 401 first.
    for _ in range(3):
        assert anon.get("/api/schema/?format=json").status_code == 200
    response = anon.get("/api/schema/?format=json")
    assert response.status_code == 429
    body = json.loads(response.content)
    assert body["code"] == "throttled" and body["detail"].startswith("Request was throttled.")
    assert int(response["Retry-After"]) > 0


def test_staff_requests_are_throttled_at_the_user_rate(api, low_rates):
    for _ in range(5):
        assert api.get("/api/agent/").status_code == 200
    response = api.get("/api/agent/")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"


def test_the_throttle_counters_start_clean_in_each_test(anon, low_rates):
    # The autouse fixture cleared the cache: the previous tests' requests don't count.
    assert anon.get("/api/schema/").status_code == 200


# --- the client's address: X-Forwarded-For only counts behind the proxy ----------------------

PUBLIC = "/api/docs/"  # an anonymous endpoint (AllowAny), so throttling is what answers


def statuses_with_a_new_forwarded_for_each_time(anon, count: int, *, last_hop: str = "") -> dict[int, int]:
    counted: dict[int, int] = {}
    for i in range(count):
        forwarded = f"198.51.100.{i}" + (f", {last_hop}" if last_hop else "")
        status = anon.get(PUBLIC, HTTP_X_FORWARDED_FOR=forwarded).status_code
        counted[status] = counted.get(status, 0) + 1
    return counted


@pytest.fixture
def behind_the_proxy(settings):
    """As with DJANGO_BEHIND_TLS_PROXY=true: one proxy appends the client to X-Forwarded-For."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}


@pytest.mark.fault("Spoofed X-Forwarded-For")
def test_a_new_x_forwarded_for_each_time_does_not_reset_the_anonymous_throttle(anon):
    from rest_framework.settings import api_settings

    assert SimpleRateThrottle.THROTTLE_RATES["anon"] == "30/minute" and api_settings.NUM_PROXIES == 0
    assert statuses_with_a_new_forwarded_for_each_time(anon, 40) == {200: 30, 429: 10}


@pytest.mark.fault("Spoofed X-Forwarded-For")
def test_behind_the_proxy_the_last_hop_is_the_client(anon, behind_the_proxy):
    # Whatever the client writes goes left of what the proxy appends (its peer address).
    assert statuses_with_a_new_forwarded_for_each_time(anon, 40, last_hop="203.0.113.7") == {200: 30, 429: 10}
    # Another client behind the same proxy (same REMOTE_ADDR) has its own allowance.
    assert anon.get(PUBLIC, HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.8").status_code == 200
    assert anon.get(PUBLIC, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429


@pytest.mark.parametrize(
    ("num_proxies", "remote", "forwarded", "client"),
    [
        (0, "203.0.113.9", "198.51.100.1", "203.0.113.9"),  # no proxy: the header is ignored
        (0, "203.0.113.9", None, "203.0.113.9"),
        (1, "10.0.0.2", "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # the proxy appended .7
        (1, "10.0.0.2", "203.0.113.7", "203.0.113.7"),
        (1, "10.0.0.2", None, "10.0.0.2"),
        (2, "10.0.0.2", "198.51.100.1, 203.0.113.7, 10.0.0.3", "203.0.113.7"),  # CDN, then nginx
    ],
)
def test_axes_and_the_throttles_see_the_same_client(settings, rf, num_proxies, remote, forwarded, client):
    from axes.helpers import get_client_ip_address
    from rest_framework.throttling import AnonRateThrottle

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": num_proxies}
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    request = rf.post("/admin/login/", REMOTE_ADDR=remote, **headers)

    assert AnonRateThrottle().get_ident(request) == client
    assert get_client_ip_address(request) == client
