"""`make run` stops on Ctrl-C every time (issue #9, item 12).

scripts/run-dev.sh starts each child (web, worker, bot) in its own process group and, on
SIGINT/SIGTERM/SIGHUP, forwards the signal to every group, waits STOP_GRACE_SECONDS (8)
and SIGKILLs what is left. The first test runs the real script, as `make run` does, and
presses Ctrl-C; the others source the script and drive its stop function with stub
children, one of which ignores SIGINT and SIGTERM as a qcluster stuck at "stopping" does.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "run-dev.sh"
CLEAN_PREFIXES = ("DJANGO_", "ANTHROPIC", "CLAUDE", "TELEGRAM", "MASTER", "REDIS_URL", "DATABASE_URL", "PROACTIVE")

pytestmark = [
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)"),
    pytest.mark.skipif(not (shutil.which("bash") and shutil.which("ps")), reason="needs bash and ps"),
]


def session_processes(sid: int) -> list[tuple[int, str]]:
    """(pid, command) of every live (non-zombie) process in session `sid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # it exited meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state ppid pgrp session ...
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append((int(entry.name), cmdline))
    return found


def wait_until_gone(sid: int, timeout: float) -> float | None:
    """Seconds until no live process is left in the session, or None after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not session_processes(sid):
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def kill_session(sid: int) -> None:
    """The test's own clean-up: whatever it started and is still there."""
    for pid, _ in session_processes(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEAN_PREFIXES)}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


@pytest.mark.fault("Ctrl-C on make run")
def test_ctrl_c_stops_the_web_server_the_worker_and_the_bot_within_10_seconds(tmp_path, fake_telegram):
    from tests.conftest import TEST_BOT_TOKEN

    fake_telegram.slow(1.0, times=None, method="getUpdates")  # a long poll, not a busy loop
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env = clean_env(
        DATABASE_URL=database, PORT=str(free_port()), PY=sys.executable, Q_WORKERS="1",
        TELEGRAM_BOT_TOKEN=TEST_BOT_TOKEN, TELEGRAM_API_BASE_URL=f"{fake_telegram.url}/bot",  # the bot polls
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        # A session of its own, like a terminal's: its group is the foreground group that
        # Ctrl-C signals (make and the script); the children lead groups of their own.
        script = subprocess.Popen(["bash", str(SCRIPT)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while (get(f"http://127.0.0.1:{env['PORT']}/health") != 200 or b"running." not in log.read_bytes()
               or not fake_telegram.calls("getUpdates")):
            assert script.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "web, worker and bot did not start:\n" + log.read_text()
            time.sleep(0.2)
        running = session_processes(script.pid)
        commands = " | ".join(command for _, command in running)
        assert all(name in commands for name in ("runserver", "qcluster", "run_bot")), commands
        assert len(running) >= 5  # the script, runserver (+ its reloader child), the bot, qcluster and its own

        os.killpg(script.pid, signal.SIGINT)  # what Ctrl-C in the terminal does

        took = wait_until_gone(script.pid, timeout=10)
        assert took is not None, f"still running 10 s after Ctrl-C: {session_processes(script.pid)}"
        print(f"everything stopped {took:.1f} s after Ctrl-C")
        assert script.wait(timeout=1) == 128 + signal.SIGINT
    finally:
        kill_session(script.pid)
        script.wait(timeout=5)


def drive_stop(stubs: list[str], *, grace: int, signal_name: str = "INT") -> tuple[subprocess.CompletedProcess, int]:
    """Source the script, start the stub children with its `start`, then `stop` them.

    Runs in a session of its own; returns the bash run and that session's id."""
    starts = "\n".join(f"start {stub}" for stub in stubs)
    program = f"""
source {SCRIPT}
STOP_GRACE_SECONDS={grace}
{starts}
sleep 1  # let the stubs install their handlers
began=$SECONDS
stop {signal_name}
echo "stopped"
"""
    bash = subprocess.Popen(["bash", "-c", program], cwd=ROOT, env=clean_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = bash.communicate(timeout=grace + 15)
    finally:
        kill_session(bash.pid)
    return subprocess.CompletedProcess(bash.args, bash.returncode, output), bash.pid


# A child that forks (a worker and its process), both obeying SIGINT and SIGTERM ...
OBEDIENT = f"{sys.executable} -c 'import os, time; os.fork(); time.sleep(300)'"
# ... and one whose processes ignore both, like a qcluster stuck at "stopping".
STUBBORN = (
    f"{sys.executable} -c 'import os, signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "signal.signal(signal.SIGTERM, signal.SIG_IGN); os.fork(); time.sleep(300)'"
)


@pytest.mark.fault("Ctrl-C on make run")
def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period():
    started = time.monotonic()
    result, sid = drive_stop([OBEDIENT, STUBBORN], grace=2, signal_name="TERM")
    took = time.monotonic() - started

    assert result.returncode == 0 and result.stdout.strip().endswith("stopped"), result.stdout
    assert "still running after 2s; killing them" in result.stdout
    assert 3 <= took < 8  # 1 s of set-up, the 2 s grace, then the kill
    assert session_processes(sid) == []


@pytest.mark.fault("Ctrl-C on make run")
def test_ctrl_c_reaches_every_process_of_each_child_group_and_no_grace_is_wasted():
    started = time.monotonic()
    result, sid = drive_stop([OBEDIENT, OBEDIENT], grace=8, signal_name="INT")
    took = time.monotonic() - started

    assert result.stdout.strip().endswith("stopped"), result.stdout
    assert "killing them" not in result.stdout  # the forked processes got SIGINT too
    assert took < 4  # 1 s of set-up; nobody waited for the 8 s grace
    assert session_processes(sid) == []
