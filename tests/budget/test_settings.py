"""The call deadline setting: read from the environment, validated, and what derives from it."""

import importlib.util

import pytest
from django.core.exceptions import ImproperlyConfigured

import agentsite.settings.base as base_settings


def load_settings(monkeypatch, **env):
    """A fresh copy of the base settings module, read with `env` set."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("agentsite.settings._probe", base_settings.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_deadline_defaults_to_300_s_and_sizes_the_worker_timeout(monkeypatch):
    monkeypatch.delenv("AGENT_LLM_DEADLINE_SECONDS", raising=False)
    loaded = load_settings(monkeypatch)
    assert loaded.AGENT_LLM_DEADLINE_SECONDS == 300
    assert loaded.Q_CLUSTER["timeout"] == 750  # two calls, a minute, and the tick's 90 s wait for a due cycle
    assert loaded.Q_CLUSTER["retry"] > loaded.Q_CLUSTER["timeout"]


def test_the_deadline_comes_from_the_environment(monkeypatch):
    loaded = load_settings(monkeypatch, AGENT_LLM_DEADLINE_SECONDS="900")
    assert loaded.AGENT_LLM_DEADLINE_SECONDS == 900
    assert loaded.Q_CLUSTER["timeout"] == 1950


@pytest.mark.parametrize(
    ("name", "value"),
    [("AGENT_LLM_DEADLINE_SECONDS", "0"), ("AGENT_LLM_DEADLINE_SECONDS", "-5"),
     ("AGENT_LLM_DEADLINE_SECONDS", "86401"),
     ("AGENT_LLM_TIMEOUT_SECONDS", "0"), ("AGENT_LLM_MAX_RETRIES", "-1"),
     ("NOTIFICATION_MAX_AGE_SECONDS", "0"), ("NOTIFICATION_MAX_AGE_SECONDS", "999999999999")],
)
def test_a_deadline_timeout_or_retry_count_out_of_range_is_a_start_up_error(monkeypatch, name, value):
    with pytest.raises(ImproperlyConfigured, match=name):
        load_settings(monkeypatch, **{name: value})
