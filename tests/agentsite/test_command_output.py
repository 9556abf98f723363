"""Management commands print only their answer: no start-up noise (axes' banner, the
W001/W002 configuration warnings) before it, as a real `manage.py` run shows."""

import json
import subprocess
import sys

import pytest

from tests.agentsite.test_settings import ROOT, clean_environment


@pytest.fixture(scope="module")
def run_manage(tmp_path_factory):
    """`manage.py <args>` in a fresh process on a migrated SQLite file, unconfigured (no
    Claude credentials, no Master: exactly when the warnings would show)."""
    database = tmp_path_factory.mktemp("cli") / "db.sqlite3"
    env = clean_environment(DJANGO_SETTINGS_MODULE="agentsite.settings.dev", DATABASE_URL=f"sqlite:///{database}")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True,
                              env=env, timeout=120)

    migrated = run("migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    return run


def test_a_command_prints_only_its_answer(run_manage):
    result = run_manage("approvals", "list")
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("No approvals.\n", "")


def test_json_output_parses_whole(run_manage):
    result = run_manage("agent", "status", "--json")
    assert result.returncode == 0 and result.stderr == ""
    assert json.loads(result.stdout)["paused"] is False


def test_check_still_shows_the_configuration_warnings(run_manage):
    result = run_manage("check")
    assert "agentsite.W001" in result.stderr and "agentsite.W002" in result.stderr


@pytest.mark.parametrize("args, answer, exit_code", [
    (("tasks", "list"), "No tasks.\n", 0),
    (("agent", "status"), "Agent is running\n", 0),
    (("setup_schedules",), "up to date: agentsite: proactive tick\n", 0),
    (("run_cycle",), "Cycle 1: skipped (no_credentials)\n", 2),
])
def test_every_operator_command_prints_only_its_answer(run_manage, args, answer, exit_code):
    result = run_manage(*args)
    assert result.returncode == exit_code, result.stderr
    assert result.stdout.startswith(answer)
    assert "INFO" not in result.stderr and "W00" not in result.stderr and "AXES" not in result.stderr
    if exit_code == 2:  # a configuration error: one line saying what to set
        assert result.stderr.strip() == "Claude credentials are not configured: set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN"


@pytest.mark.parametrize("args, error", [
    (("telegram_webhook", "info"), "CommandError: TELEGRAM_BOT_TOKEN is not set\n"),
    (("worker_alive",), "worker_alive: needs the Redis broker (REDIS_URL); cluster stats are not shared otherwise\n"),
])
def test_a_refusal_is_its_one_line(run_manage, args, error):
    result = run_manage(*args)
    assert result.returncode != 0 and (result.stdout, result.stderr) == ("", error)


def test_verbose_shows_the_warnings_and_the_log_lines(run_manage):
    result = run_manage("run_cycle", "-v", "2")
    assert "agentsite.W001" in result.stderr  # the configuration warnings, asked for
    assert "INFO decisions.services: Cycle skipped (no_credentials)" in result.stderr
    assert "skipped (no_credentials)" in result.stdout
