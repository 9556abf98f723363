"""Configuration comes from the environment, once, with safe defaults."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def django_setting(expr: str, **env: str) -> subprocess.CompletedProcess:
    """Evaluate settings in a fresh interpreter with only the given environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ANTHROPIC", "TELEGRAM", "MASTER", "PROACTIVE", "AGENT_", "DATABASE_URL", "REDIS_URL", "CLAUDE"))}
    code = f"import django; django.setup(); from django.conf import settings; print({expr})"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT, capture_output=True, text=True,
        env={**base, "DJANGO_SETTINGS_MODULE": "agentsite.settings.dev", **env},
    )


def test_defaults_need_no_environment():
    result = django_setting(
        "settings.MASTER_CHAT_IDS, settings.PROACTIVE_DAILY_TOKEN_LIMIT, settings.DATABASES['default']['ENGINE'],"
        " 'orm' in settings.Q_CLUSTER, settings.AGENT_MAX_TOKENS, settings.MESSAGE_HISTORY_LIMIT"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] 7000000 django.db.backends.sqlite3 True 2048 30"


def test_the_default_model_is_a_current_one_from_the_sdk():
    import typing

    from anthropic._data.deprecated_models import DEPRECATED_MODELS
    from anthropic.types.model_param import ModelParam

    result = django_setting("settings.AGENT_MODEL")
    model = result.stdout.strip()
    known = typing.get_args(typing.get_args(ModelParam)[0])
    assert "sonnet" in model and model in known and model not in DEPRECATED_MODELS


def test_environment_variables_are_honoured():
    result = django_setting(
        "settings.MASTER_CHAT_IDS, settings.PROACTIVE_DAILY_TOKEN_LIMIT, settings.Q_CLUSTER.get('redis')",
        MASTER_CHAT_IDS="11, 22", PROACTIVE_DAILY_TOKEN_LIMIT="5000", REDIS_URL="redis://127.0.0.1:6379/3",
    )
    assert result.stdout.strip() == "[11, 22] 5000 redis://127.0.0.1:6379/3", result.stderr


def test_django_q_is_configured_safely():
    result = django_setting("settings.Q_CLUSTER['retry'] > settings.Q_CLUSTER['timeout'], settings.Q_CLUSTER['max_attempts'], settings.Q_CLUSTER['catch_up']")
    assert result.stdout.strip() == "True 3 False"


def test_production_without_a_secret_key_is_a_clear_startup_error():
    result = django_setting("settings.DEBUG", DJANGO_DEBUG="false")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off" in result.stderr


@pytest.mark.parametrize("bad", ["46808774,abc", "x"])
def test_bad_master_chat_ids_are_a_clear_error(bad):
    result = django_setting("settings.MASTER_CHAT_IDS", MASTER_CHAT_IDS=bad)
    assert result.returncode != 0
    assert "MASTER_CHAT_IDS must be comma-separated integers" in result.stderr


def test_a_dotenv_file_is_read_but_the_os_environment_wins(tmp_path):
    dotenv = ROOT / ".env"
    if dotenv.exists():
        pytest.skip("a developer .env exists; not overwriting it")
    dotenv.write_text("PROACTIVE_DAILY_TOKEN_LIMIT=1234\nAGENT_MAX_TOKENS=99\n")
    try:
        result = django_setting("settings.PROACTIVE_DAILY_TOKEN_LIMIT, settings.AGENT_MAX_TOKENS", AGENT_MAX_TOKENS="77")
    finally:
        dotenv.unlink()
    assert result.stdout.strip() == "1234 77", result.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "0 0 False"),
        ({"DJANGO_NUM_PROXIES": "2"}, "0 0 False"),  # only counts behind the proxy
        ({"DJANGO_BEHIND_TLS_PROXY": "true"}, "1 1 True"),
        ({"DJANGO_BEHIND_TLS_PROXY": "true", "DJANGO_NUM_PROXIES": "2"}, "2 2 True"),
    ],
)
def test_the_proxy_count_follows_django_behind_tls_proxy(env, expected):
    result = django_setting(
        "settings.NUM_PROXIES, settings.REST_FRAMEWORK['NUM_PROXIES'], settings.SECURE_PROXY_SSL_HEADER is not None",
        **env,
    )
    assert result.stdout.strip() == expected, result.stderr


def test_axes_asks_the_api_throttles_for_the_client_address():
    result = django_setting("settings.AXES_CLIENT_IP_CALLABLE")
    assert result.stdout.strip() == "agentsite.api.throttling.client_ip", result.stderr


@pytest.mark.parametrize("count", ["0", "-1"])
def test_a_proxy_count_below_one_behind_the_proxy_is_a_start_up_error(count):
    result = django_setting("settings.NUM_PROXIES", DJANGO_BEHIND_TLS_PROXY="true", DJANGO_NUM_PROXIES=count)
    assert result.returncode != 0 and "DJANGO_NUM_PROXIES must be 1 or more" in result.stderr
