"""Admin login limiting (django-axes 8, as configured in settings): after
AXES_FAILURE_LIMIT failures the attempt that reaches the limit and every later one,
right password or not, is answered 429; the lockout counts per IP address and,
separately, per username (AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"])."""

import pytest
from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "the-right-password-42"
LOCKED = 429


@pytest.fixture(autouse=True)
def clean_axes():
    reset()
    yield
    reset()


@pytest.fixture
def master(django_user_model):
    return django_user_model.objects.create_superuser("master", "master@example.com", PASSWORD)


def login(client, username: str, password: str, ip: str = "10.0.0.1", **headers):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip, **headers)


def fail(client, times: int, *, username: str = "master", ip: str = "10.0.0.1", **headers) -> list[int]:
    return [login(client, username, "wrong", ip, **headers).status_code for _ in range(times)]


def test_the_configuration_under_test():
    assert settings.AXES_FAILURE_LIMIT >= 2  # 5 unless AXES_FAILURE_LIMIT says otherwise
    assert settings.AXES_LOCKOUT_PARAMETERS == [["ip_address", "username"]]


def test_after_the_failure_limit_even_the_right_password_is_refused(client, master):
    limit = settings.AXES_FAILURE_LIMIT
    # Failures below the limit show the login form again; the one reaching it is locked out.
    assert fail(client, limit) == [200] * (limit - 1) + [LOCKED]
    response = login(client, "master", PASSWORD)
    assert response.status_code == LOCKED
    assert b"too many login attempts" in response.content
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # still not logged in


def test_fewer_failures_then_the_right_password_logs_in_and_resets_the_count(client, master):
    fail(client, settings.AXES_FAILURE_LIMIT - 1)
    response = login(client, "master", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert not AccessAttempt.objects.filter(username="master").exists()  # AXES_RESET_ON_SUCCESS


def test_the_lockout_is_per_username_and_address_pair(client, django_user_model, master):
    django_user_model.objects.create_superuser("deputy", "deputy@example.com", PASSWORD)
    fail(client, settings.AXES_FAILURE_LIMIT, username="master", ip="10.0.0.1")
    # The attacking pair is locked, even with the right password ...
    assert login(client, "master", PASSWORD, ip="10.0.0.1").status_code == LOCKED
    # ... but a stranger's failures can't lock the Master out from their own address ...
    response = login(client, "master", PASSWORD, ip="10.0.0.2")
    assert response.status_code == 302 and response["Location"] == "/admin/"
    # ... nor another user from the same address.
    response = login(client, "deputy", PASSWORD, ip="10.0.0.1")
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_resetting_axes_lifts_the_lockout(client, master):
    fail(client, settings.AXES_FAILURE_LIMIT)
    assert login(client, "master", PASSWORD).status_code == LOCKED
    reset(username="master")
    reset(ip="10.0.0.1")
    assert login(client, "master", PASSWORD).status_code == 302


PROXY = "10.0.0.2"  # every request behind the proxy comes from its address


@pytest.mark.fault("Spoofed X-Forwarded-For")
def test_behind_the_proxy_the_lockout_counts_the_last_hop_whatever_the_client_writes(client, settings, master):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}  # DJANGO_BEHIND_TLS_PROXY=true
    limit = settings.AXES_FAILURE_LIMIT
    spoofed = [login(client, "master", "wrong", PROXY, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}, 203.0.113.7").status_code
               for i in range(limit)]
    assert spoofed == [200] * (limit - 1) + [LOCKED]
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}
    # Another client behind the same proxy is not locked out with the attacker.
    response = login(client, "master", PASSWORD, PROXY, HTTP_X_FORWARDED_FOR="203.0.113.8")
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_without_a_proxy_x_forwarded_for_is_ignored_by_the_lockout(client, settings, master):
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0
    statuses = [login(client, "master", "wrong", "10.0.0.1", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code
                for i in range(settings.AXES_FAILURE_LIMIT)]
    assert statuses[-1] == LOCKED
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"10.0.0.1"}
