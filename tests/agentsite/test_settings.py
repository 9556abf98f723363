"""Configuration comes from the environment, once, with safe defaults."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("DJANGO_", "ANTHROPIC", "TELEGRAM", "MASTER", "PROACTIVE", "AGENT_", "DATABASE_URL", "REDIS_URL", "CLAUDE",
        "LOG_LEVEL", "Q_WORKERS", "API_THROTTLE", "AXES_", "NOTIFICATION_", "APPROVAL_", "MESSAGE_HISTORY")


def clean_environment(**env: str) -> dict:
    """The test runner's environment without any of ours, plus `env`."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith(OURS)}, **env}


def django_setting(expr: str, **env: str) -> subprocess.CompletedProcess:
    """Evaluate settings in a fresh interpreter with only the given environment."""
    code = f"import django; django.setup(); from django.conf import settings; print({expr})"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT, capture_output=True, text=True,
        env=clean_environment(**{"DJANGO_SETTINGS_MODULE": "agentsite.settings.dev", **env}),
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
    assert "Invalid configuration: DJANGO_SECRET_KEY is not set: expected a long random value (required when DJANGO_DEBUG is off)" in result.stderr


@pytest.mark.parametrize("bad", ["46808774,abc", "x"])
def test_bad_master_chat_ids_are_a_clear_error(bad):
    result = django_setting("settings.MASTER_CHAT_IDS", MASTER_CHAT_IDS=bad)
    assert result.returncode != 0
    assert f"Invalid configuration: MASTER_CHAT_IDS={bad!r}: expected comma-separated whole numbers" in result.stderr


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
    assert result.returncode != 0
    assert f"Invalid configuration: DJANGO_NUM_PROXIES='{count}': expected a whole number, at least 1" in result.stderr


# --- Every value validated, one line per mistake ------------------------------------------

def load(monkeypatch, module: str = "base", **env: str):
    """A fresh copy of a settings module, read with only `env` of our variables set."""
    import importlib.util

    import agentsite.settings

    for name in os.environ:
        if name.startswith(OURS):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = Path(agentsite.settings.__file__).with_name(f"{module}.py")
    spec = importlib.util.spec_from_file_location(f"agentsite.settings._probe_{module}", path)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def config_error(monkeypatch, **env: str) -> str:
    from agentsite.settings.env import ConfigError

    with pytest.raises(ConfigError) as caught:
        load(monkeypatch, **env)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("Invalid configuration: ")
    return message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PROACTIVE_DAILY_TOKEN_LIMIT", "abc", "a whole number, at least 1"),
        ("PROACTIVE_DAILY_TOKEN_LIMIT", "-5", "a whole number, at least 1"),
        ("PROACTIVE_DAILY_TOKEN_LIMIT", "0", "a whole number, at least 1"),
        ("PROACTIVE_DAILY_TOKEN_LIMIT", "1e6", "a whole number, at least 1"),
        ("AGENT_LLM_TIMEOUT_SECONDS", "soon", "a number of seconds above 0 and at most 86400"),
        ("AGENT_LLM_TIMEOUT_SECONDS", "1e300", "a number of seconds above 0 and at most 86400"),
        ("AGENT_LLM_TIMEOUT_SECONDS", "nan", "a number of seconds above 0 and at most 86400"),
        ("AGENT_LLM_TIMEOUT_SECONDS", "inf", "a number of seconds above 0 and at most 86400"),
        ("TELEGRAM_REQUEST_TIMEOUT_SECONDS", "61", "a number of seconds above 0 and at most 60"),
        ("DJANGO_DEBUG", "maybe", "one of true/false, 1/0, yes/no, on/off"),
        ("AGENT_MAX_TOKENS", "0", "a whole number, at least 1"),
        ("MESSAGE_HISTORY_LIMIT", "-1", "a whole number, at least 1"),
        ("APPROVAL_TIMEOUT_SECONDS", "99999999999", "a whole number of seconds from 1 to 31622400"),
        ("Q_WORKERS", "0", "a whole number, at least 1"),
        ("AXES_FAILURE_LIMIT", "none", "a whole number, at least 1"),
        ("DJANGO_HSTS_SECONDS", "-1", "a whole number, at least 0"),
        ("LOG_LEVEL", "loud", "one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("API_THROTTLE_ANON", "30", "requests per period, e.g. 30/minute (periods: second, minute, hour, day)"),
        ("API_THROTTLE_USER", "600/fortnight", "requests per period, e.g. 30/minute (periods: second, minute, hour, day)"),
        ("ANTHROPIC_BASE_URL", "api.anthropic.com", "a URL starting with http:// or https://"),
        ("TELEGRAM_API_BASE_URL", "ftp://x/bot", "a URL starting with http:// or https://"),
        ("TELEGRAM_WEBHOOK_URL", "http://agent.example.org/telegram/webhook/", "a URL starting with https://"),
        ("REDIS_URL", "localhost:6379", "a URL starting with redis:// or rediss:// or unix://"),
        ("DJANGO_CSRF_TRUSTED_ORIGINS", "agent.example.org", "comma-separated origins with their scheme, e.g. https://agent.example.org"),
        ("AGENT_MODEL", "claude sonnet", "a model id without spaces"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable_the_value_and_what_is_expected(monkeypatch, name, value, expected):
    assert config_error(monkeypatch, **{name: value}) == f"Invalid configuration: {name}={value!r}: expected {expected}"


@pytest.mark.parametrize("url", ["notaurl", "postgres//localhost/db", "mssql://localhost/db", "postgres://host:port/db",
                                 "postgres://localhost:5432"])
def test_a_database_url_django_cannot_use_is_one_line(monkeypatch, url):
    message = config_error(monkeypatch, DATABASE_URL=url)
    assert message.startswith(f"Invalid configuration: DATABASE_URL={url!r}: expected a database URL such as postgres://")
    assert "(schemes: " in message and "postgres" in message and "sqlite" in message


@pytest.mark.parametrize(
    ("env", "shown"),
    [
        ({"DATABASE_URL": "postgres://agent:hunter2hunter2@db:port/agentsite"}, "DATABASE_URL='postgres://agent:<hidden>@db:port/agentsite'"),
        ({"DATABASE_URL": "mssql://agent:hunter2hunter2@db/agentsite"}, "DATABASE_URL='mssql://agent:<hidden>@db/agentsite'"),
        ({"DATABASE_URL": "agent:hunter2hunter2@db/agentsite"}, "DATABASE_URL='agent:<hidden>@db/agentsite'"),
        ({"REDIS_URL": "http://:hunter2hunter2@redis:6379/0"}, "REDIS_URL='http://:<hidden>@redis:6379/0'"),
        ({"TELEGRAM_WEBHOOK_SECRET": "hunter2hunter2 with spaces"}, "TELEGRAM_WEBHOOK_SECRET=<hidden>"),
    ],
)
def test_a_secret_or_a_password_is_never_shown(monkeypatch, env, shown):
    message = config_error(monkeypatch, **env)
    assert shown in message and "hunter2" not in message


@pytest.mark.parametrize("word", ["true", "TRUE", "1", "yes", "Yes", "on", " ON "])
def test_true_booleans(monkeypatch, word):
    assert load(monkeypatch, DJANGO_BEHIND_TLS_PROXY=word).BEHIND_TLS_PROXY is True


@pytest.mark.parametrize("word", ["false", "False", "0", "no", "NO", "off", ""])
def test_false_booleans_and_empty_is_the_default(monkeypatch, word):
    assert load(monkeypatch, DJANGO_BEHIND_TLS_PROXY=word).BEHIND_TLS_PROXY is False


@pytest.mark.parametrize("word", ["maybe", "y", "t", "2", "enabled", "-1", "nope"])
def test_any_other_boolean_word_is_an_error(monkeypatch, word):
    message = config_error(monkeypatch, DJANGO_SECURE_COOKIES=word)
    assert message == f"Invalid configuration: DJANGO_SECURE_COOKIES={word!r}: expected one of true/false, 1/0, yes/no, on/off"


def test_numbers_are_parsed_strictly_but_spaces_and_signs_are_fine(monkeypatch):
    loaded = load(monkeypatch, PROACTIVE_DAILY_TOKEN_LIMIT=" 5000 ", AGENT_LLM_TIMEOUT_SECONDS="2.5e1",
                  AGENT_LLM_DEADLINE_SECONDS="+90", MASTER_CHAT_IDS="-100123, 42,")
    assert (loaded.PROACTIVE_DAILY_TOKEN_LIMIT, loaded.AGENT_LLM_TIMEOUT_SECONDS, loaded.AGENT_LLM_DEADLINE_SECONDS) == (5000, 25.0, 90.0)
    assert loaded.MASTER_CHAT_IDS == [-100123, 42]
    assert loaded.PROACTIVE_MIN_CYCLE_TOKENS == 5000  # unset: follows a limit below 10000
    assert config_error(monkeypatch, PROACTIVE_DAILY_TOKEN_LIMIT="7_000_000").endswith("'7_000_000': expected a whole number, at least 1")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PROACTIVE_MIN_INTERVAL_SECONDS": "600", "PROACTIVE_MAX_INTERVAL_SECONDS": "60"},
         "Invalid configuration: PROACTIVE_MIN_INTERVAL_SECONDS='600': expected at most PROACTIVE_MAX_INTERVAL_SECONDS=60"),
        ({"PROACTIVE_DAILY_TOKEN_LIMIT": "50000", "PROACTIVE_MIN_CYCLE_TOKENS": "60000"},
         "Invalid configuration: PROACTIVE_MIN_CYCLE_TOKENS='60000': expected at most PROACTIVE_DAILY_TOKEN_LIMIT=50000 (else no cycle ever runs)"),
        ({"PROACTIVE_DAILY_TOKEN_LIMIT": "1000", "AGENT_MAX_TOKENS": "2048"},
         "Invalid configuration: AGENT_MAX_TOKENS='2048': expected at most PROACTIVE_DAILY_TOKEN_LIMIT=1000 (else no cycle ever fits the budget)"),
    ],
)
def test_cross_field_rules(monkeypatch, env, message):
    assert config_error(monkeypatch, **env) == message


def test_equal_interval_bounds_are_fine(monkeypatch):
    loaded = load(monkeypatch, PROACTIVE_MIN_INTERVAL_SECONDS="300", PROACTIVE_MAX_INTERVAL_SECONDS="300")
    assert (loaded.PROACTIVE_MIN_INTERVAL_SECONDS, loaded.PROACTIVE_MAX_INTERVAL_SECONDS) == (300, 300)


def test_good_urls_are_accepted(monkeypatch):
    loaded = load(monkeypatch, DATABASE_URL="postgresql://agent:pw@db:5432/agentsite", REDIS_URL="rediss://:pw@redis:6380/1",
                  TELEGRAM_WEBHOOK_URL="https://agent.example.org/telegram/webhook/", ANTHROPIC_BASE_URL="http://127.0.0.1:9",
                  DJANGO_CSRF_TRUSTED_ORIGINS="https://agent.example.org, http://localhost:8000")
    assert loaded.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert loaded.DATABASES["default"]["NAME"] == "agentsite"
    assert loaded.Q_CLUSTER["redis"] == "rediss://:pw@redis:6380/1"
    assert loaded.CSRF_TRUSTED_ORIGINS == ["https://agent.example.org", "http://localhost:8000"]


def test_the_secret_setting_names_are_the_secret_variables_settings():
    from django.conf import settings

    assert set(settings.SECRET_SETTING_NAMES) == {
        "ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "SECRET_KEY"}


# --- Start-up prints the line, not a traceback -----------------------------------------------

@pytest.mark.parametrize(
    ("name", "value"),
    [("PROACTIVE_DAILY_TOKEN_LIMIT", "abc"), ("AGENT_LLM_TIMEOUT_SECONDS", "soon"), ("DATABASE_URL", "notaurl"),
     ("DJANGO_DEBUG", "maybe"), ("PROACTIVE_MIN_INTERVAL_SECONDS", "99999")],
)
def test_manage_py_with_a_bad_value_exits_with_exactly_one_line(name, value):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
        env=clean_environment(DJANGO_SETTINGS_MODULE="agentsite.settings.dev", **{name: value}),
    )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Invalid configuration: {name}={value!r}: expected "), result.stderr


def test_manage_py_never_shows_a_secret_it_rejects():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
        env=clean_environment(DJANGO_SETTINGS_MODULE="agentsite.settings.production", DJANGO_SECRET_KEY="hunter2-too-short"),
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Invalid configuration: DJANGO_SECRET_KEY=<hidden>: expected at least 50 random characters,"
        " e.g. from: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    ]


@pytest.mark.parametrize("entry", ["agentsite.wsgi", "agentsite.asgi"])
def test_wsgi_and_asgi_load_production_and_stop_with_one_line(entry):
    code = f"import {entry}; from django.conf import settings; print(settings.SETTINGS_MODULE, settings.DEBUG)"
    good = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env=clean_environment(DJANGO_SECRET_KEY=STRONG_KEY, DJANGO_ALLOWED_HOSTS="agent.example.org"))
    assert good.stdout.strip() == "agentsite.settings.production False", good.stderr
    bad = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env=clean_environment(DJANGO_SECRET_KEY=STRONG_KEY))
    assert bad.returncode == 4  # gunicorn's "App failed to load": the master stops instead of respawning
    assert bad.stderr.splitlines() == [
        "Invalid configuration: DJANGO_ALLOWED_HOSTS is not set: expected the comma-separated host names this site"
        " answers to, e.g. agent.example.org"
    ]


# --- Production settings -----------------------------------------------------------------

STRONG_KEY = "k3y-" + "0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOP"
PRODUCTION_SECURITY = ("settings.DEBUG, settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.SECURE_HSTS_SECONDS,"
                       " settings.SECURE_SSL_REDIRECT, 'whitenoise.middleware.WhiteNoiseMiddleware' in settings.MIDDLEWARE")


def production(expr: str, **env: str) -> subprocess.CompletedProcess:
    return django_setting(expr, DJANGO_SETTINGS_MODULE="agentsite.settings.production", **env)


def test_production_defaults_are_secure():
    result = production(PRODUCTION_SECURITY, DJANGO_SECRET_KEY=STRONG_KEY, DJANGO_ALLOWED_HOSTS="agent.example.org")
    # No HTTPS redirect without a TLS proxy in front: nothing would answer on https.
    assert result.stdout.strip() == "False True True 31536000 False True", result.stderr
    behind = production(PRODUCTION_SECURITY + ", settings.SECURE_REDIRECT_EXEMPT", DJANGO_SECRET_KEY=STRONG_KEY,
                        DJANGO_ALLOWED_HOSTS="agent.example.org", DJANGO_BEHIND_TLS_PROXY="true")
    assert behind.stdout.strip() == "False True True 31536000 True True ['^health$']", behind.stderr


def test_production_debug_can_still_be_turned_on_explicitly():
    result = production("settings.DEBUG, settings.SECURE_HSTS_SECONDS", DJANGO_DEBUG="true")
    assert result.stdout.strip() == "True 0", result.stderr


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"DJANGO_ALLOWED_HOSTS": "agent.example.org"},
         "Invalid configuration: DJANGO_SECRET_KEY is not set: expected a long random value (required when DJANGO_DEBUG is off)"),
        ({"DJANGO_SECRET_KEY": "x" * 60, "DJANGO_ALLOWED_HOSTS": "agent.example.org"},
         "Invalid configuration: DJANGO_SECRET_KEY=<hidden>: expected at least 50 random characters"),
        ({"DJANGO_SECRET_KEY": "django-insecure-" + STRONG_KEY, "DJANGO_ALLOWED_HOSTS": "agent.example.org"},
         "Invalid configuration: DJANGO_SECRET_KEY=<hidden>: expected at least 50 random characters"),
        ({"DJANGO_SECRET_KEY": STRONG_KEY, "DJANGO_ALLOWED_HOSTS": " , "},
         "Invalid configuration: DJANGO_ALLOWED_HOSTS is not set: expected the comma-separated host names"),
    ],
)
def test_production_requires_a_strong_secret_key_and_allowed_hosts(env, line):
    result = production("settings.DEBUG", **env)
    assert result.returncode != 0 and line in result.stderr
    assert "xxxxxxxxxx" not in result.stderr and STRONG_KEY not in result.stderr


# The production variables the README documents, with placeholder values.
README_PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "agentsite.settings.production",
    "DJANGO_SECRET_KEY": STRONG_KEY,
    "DJANGO_ALLOWED_HOSTS": "agent.example.org",
    "DJANGO_BEHIND_TLS_PROXY": "true",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://agent.example.org",
    "DATABASE_URL": "postgres://agentsite:secret@db:5432/agentsite",
    "REDIS_URL": "redis://redis:6379/0",
    "ANTHROPIC_API_KEY": "test-key",
    "MASTER_CHAT_IDS": "46808774",
    "TELEGRAM_BOT_TOKEN": "123:test",
}


def deploy_check(**env: str) -> set[str]:
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, capture_output=True,
                            text=True, env=clean_environment(**env))
    assert result.returncode == 0, result.stderr
    import re

    return set(re.findall(r"\(([a-z_]+\.[A-Z]\d{3})\)", result.stdout + result.stderr))


def test_check_deploy_with_the_documented_production_variables_warns_only_what_the_readme_explains():
    # W005/W021: HSTS left off subdomains and the preload list until the operator opts in.
    assert deploy_check(**README_PRODUCTION) == {"security.W005", "security.W021"}
    assert deploy_check(**README_PRODUCTION, DJANGO_HSTS_INCLUDE_SUBDOMAINS="on", DJANGO_HSTS_PRELOAD="on") == set()
    # Without a TLS proxy in front there is no HTTPS to redirect to (W008).
    assert deploy_check(**{**README_PRODUCTION, "DJANGO_BEHIND_TLS_PROXY": "false"}) == {
        "security.W005", "security.W021", "security.W008"}
