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
