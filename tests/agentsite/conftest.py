"""Fixtures for the REST API tests: staff/non-staff clients, tokens, a clean throttle cache."""

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters live in the (locmem) cache: never let them leak between tests."""
    cache.clear()
    yield
    cache.clear()


# What the Master's own staff account holds besides is_staff: deciding and steering.
MASTER_PERMISSIONS = ("decide_approval", "control_agent")


@pytest.fixture
def staff_user(django_user_model):
    """The Master's staff account: staff, with the deciding and controlling permissions."""
    user = django_user_model.objects.create_user(
        username="master", password="pw-not-used-0001", is_staff=True
    )
    user.user_permissions.add(*Permission.objects.filter(codename__in=MASTER_PERMISSIONS))
    return user


@pytest.fixture
def staff_token(staff_user) -> str:
    return Token.objects.create(user=staff_user).key


@pytest.fixture
def api(staff_token) -> APIClient:
    """A staff client authenticated the way scripts do: `Authorization: Token <key>`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {staff_token}")
    return client


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def non_staff(django_user_model) -> APIClient:
    """A logged-in user (a valid token) who is not staff."""
    user = django_user_model.objects.create_user(username="visitor", password="pw-not-used-0002")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def staff_only(django_user_model) -> APIClient:
    """A staff user with no permissions at all: may read, may not decide or steer."""
    user = django_user_model.objects.create_user(username="helper", password="pw-not-used-0003", is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client
