"""The children (gunicorn with 2 workers, two qcluster), their ports and environment, and
the one-shot set-up commands (migrate, which creates the schedules itself, and an API token)."""

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from .common import BIN, CLUSTERS, MASTER, PY, REDIS_URL, ROOT, Failed, http, remaining, wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Children:
    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str], env: dict) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "wb")
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.procs[name] = proc
        return proc

    def kill(self, name: str, sig=signal.SIGKILL) -> None:
        proc = self.procs[name]
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass

    @staticmethod
    def group_alive(pgid: int) -> bool:
        """Whether any process of group `pgid` is still running (zombies don't count: the
        orphaned ones may wait for a PID 1 that never reaps them)."""
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2:].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
        return False

    def stop_all(self, grace: float = 8.0) -> None:
        for name in self.procs:
            self.kill(name, signal.SIGTERM)
        end = time.monotonic() + grace
        while time.monotonic() < end and any(self.group_alive(p.pid) for p in self.procs.values()):
            for p in self.procs.values():
                p.poll()
            time.sleep(0.2)
        for name in self.procs:
            self.kill(name, signal.SIGKILL)
        for p in self.procs.values():
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def tails(self, lines: int = 25) -> str:
        out = []
        for path in sorted(self.logdir.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name} (last {len(text)} lines)\n" + "\n".join(text))
        return "\n".join(out)


def manage(env: dict, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    timeout = max(1.0, min(timeout, remaining()))
    result = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=timeout, stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise Failed(f"manage.py {' '.join(args)} exited {result.returncode}:\n{result.stderr[-2000:]}")
    return result


def child_env(db_url: str, telegram_url: str) -> dict:
    """The children's environment: this one without DJANGO_/TELEGRAM_/ANTHROPIC_ variables,
    plus the deployment's settings pointed at the fresh database, Redis and the fakes."""
    production = (ROOT / "agentsite" / "settings" / "production.py").exists()
    settings_module = "agentsite.settings.production" if production else "agentsite.settings.dev"
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TELEGRAM_", "ANTHROPIC_"))},
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": db_url,
        "REDIS_URL": REDIS_URL,
        "ANTHROPIC_API_KEY": "fake-anthropic-key-deploy-run",
        "TELEGRAM_BOT_TOKEN": "123456:fake",
        "TELEGRAM_API_BASE_URL": f"{telegram_url}/bot",
        "MASTER_CHAT_IDS": str(MASTER),
        "DJANGO_SECRET_KEY": uuid.uuid4().hex * 2,
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_COOKIES": "false",
        "PROACTIVE_MIN_INTERVAL_SECONDS": "60",
        "AGENT_LLM_DEADLINE_SECONDS": "20",
        "AGENT_LLM_TIMEOUT_SECONDS": "20",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


def set_up(env: dict) -> str:
    """migrate (no setup_schedules: migrate alone must create the schedules) and a staff
    user allowed to decide approvals; its API token."""
    manage(env, "migrate", "--noinput")
    created = manage(env, "shell", "-c", (
        "from django.contrib.auth.models import User, Permission\n"
        "from rest_framework.authtoken.models import Token\n"
        "u = User.objects.create_user('deploy-check', is_staff=True)\n"
        "u.user_permissions.add(Permission.objects.get(codename='decide_approval', content_type__app_label='decisions'))\n"
        "print('TOKEN', Token.objects.create(user=u).key)\n"
    ))
    return next(line.split()[1] for line in created.stdout.splitlines() if line.startswith("TOKEN "))


def start_services(children: Children, env: dict, model_url: str) -> str:
    """gunicorn (2 workers) on a free port and the two clusters, each with its own model
    path; waits for /health and returns the site's base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    children.start("gunicorn", [str(BIN / "gunicorn"), "agentsite.wsgi", "--bind", f"127.0.0.1:{port}",
                                "--workers", "2", "--timeout", "30"], env)
    for name in CLUSTERS:
        children.start(f"qcluster-{name}", [PY, "manage.py", "qcluster"],
                       {**env, "ANTHROPIC_BASE_URL": f"{model_url}/{name}"})
    wait_for("/health", lambda: http("GET", f"{base}/health")[0] == 200, 60)
    return base


def alive_clusters(env: dict) -> int:
    result = manage(env, "worker_alive", "--any-host", "--min-clusters", "0", timeout=30, check=False)
    return int(result.stdout.split()[0]) if result.returncode == 0 and result.stdout else -1
