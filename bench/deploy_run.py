"""The deployment shape of docker-compose.yml, run without Docker, and what it proves.

    .venv/bin/python bench/deploy_run.py        # or: make deploy-check

What compose starts, started here on this machine's PostgreSQL and Redis: `migrate`,
`setup_schedules`, gunicorn (agentsite.wsgi, 2 workers) and TWO `qcluster` processes,
with loopback fakes of the Anthropic and Telegram APIs in this process. Then it shows:

- cycles run on schedule (driven by the clusters' own Django-Q2 schedulers), never two in
  flight at once;
- an approval decided over the REST API is executed exactly once;
- every notification is delivered exactly once across both clusters;
- after one cluster is SIGKILLed mid-cycle (the fake holds its model call), the other
  keeps running cycles and the dead cycle is recorded failed/`abandoned`;
- /health reports the scheduler alive, and `manage.py worker_alive` sees the clusters.

Two shortcuts keep it within ~5 minutes, both plain DB updates, never a cycle run by
hand: when the agent is due, the tick schedule's `next_run` is pulled to now (Django-Q2
schedules tick at most once a minute); after the kill, the dead cycle's lock expiry
(its TTL is at least Django-Q2's task timeout, 300 s) is pulled to now. Both are printed.

A fresh database (unique name, dropped at the end) and Redis DB 5 (flushed at start and
end); every child runs in its own process group and is killed in `finally`. Quiet but
for the figures; on failure, the tails of the children's logs. Exit 1 when a check fails.

Environment: DEPLOY_PG_URL (admin connection, default postgres://postgres@127.0.0.1:5432/postgres),
DEPLOY_REDIS_URL (default redis://127.0.0.1:6379/5).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.factories import decision_text  # noqa: E402
from tests.fakes.anthropic_api import message_reply  # noqa: E402
from tests.fakes.http import FakeServer  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

HARD_LIMIT = 340  # seconds for the whole run, set-up and clean-up included
MASTER = 1001
CLUSTERS = ("A", "B")
PG_ADMIN = os.environ.get("DEPLOY_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("DEPLOY_REDIS_URL", "redis://127.0.0.1:6379/5")
PY = sys.executable
BIN = Path(PY).parent
T0 = time.monotonic()


def debug(what: str) -> None:
    if os.environ.get("DEPLOY_DEBUG"):
        print(f"[{time.monotonic() - T0:6.1f}s] {what}", file=sys.stderr, flush=True)


def remaining() -> float:
    return HARD_LIMIT - (time.monotonic() - T0)


class Failed(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the fake model ------------------------------------------------------------------------


class Model(FakeServer):
    """Answers every decision call with a valid decision. Each cluster has its own base URL
    path (/A, /B), so a request says which cluster made it. `approval_next`: the next call
    gets a low-certainty decision (an approval); `hold_next`: the next call is held (the
    cycle in flight when a cluster is killed)."""

    def __init__(self) -> None:
        super().__init__(default=self._answer)
        self.calls: list[tuple[float, str]] = []  # (monotonic, cluster)
        self.approval_next = True
        self.hold_next = False
        self.held: threading.Event = threading.Event()
        self.held_by: str | None = None
        self.notes: list[str] = []
        self.approved_note = f"deploy-run approved note {uuid.uuid4().hex[:8]}"
        self._n = 0
        self._mlock = threading.Lock()

    def _answer(self, recorded) -> object:
        cluster = recorded.path.strip("/").split("/")[0]
        with self._mlock:
            self._n += 1
            self.calls.append((time.monotonic(), cluster))
            if self.approval_next:
                self.approval_next = False
                text = decision_text(action="communicate", certainty=0.5, significance=0.3,
                                     recipient="master", message=self.approved_note, priority="medium")
                return message_reply(text, input_tokens=1500, output_tokens=80)
            if self.hold_next:
                self.hold_next = False
                self.held_by = cluster
                self.held.set()
                return message_reply(decision_text(), delay=60)  # the kill comes first
            note = f"deploy-run note {self._n} via {cluster}"
            self.notes.append(note)
        text = decision_text(action="communicate", certainty=0.9, significance=0.3,
                             recipient="master", message=note, priority="medium")
        return message_reply(text, input_tokens=1500, output_tokens=80)


# --- children ----------------------------------------------------------------------------


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


def http(method: str, url: str, *, token: str | None = None, body: dict | None = None,
         timeout: float = 10) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Host", "127.0.0.1")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            payload = json.loads(exc.read() or b"null")
        except ValueError:
            payload = None
        return exc.code, payload
    except (urllib.error.URLError, OSError):
        return 0, None


def wait_for(what: str, predicate, timeout: float, every: float = 0.5, tick=None):
    end = time.monotonic() + max(0.0, min(timeout, remaining() - 20))
    while True:
        if tick:
            tick()
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            raise Failed(f"timed out waiting for {what}")
        time.sleep(every)


# --- the run -----------------------------------------------------------------------------


def main() -> int:
    db_name = f"agentsite_deploy_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=10)
    rds = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    rds.flushdb()
    logdir = Path(tempfile.mkdtemp(prefix="deploy_run_"))
    children = Children(logdir)
    model, telegram = Model(), FakeTelegram()
    db = None
    failures: list[str] = []
    figures: dict[str, object] = {}
    ok = False
    try:
        admin.execute(f'CREATE DATABASE "{db_name}"')
        parts = urllib.parse.urlsplit(PG_ADMIN)
        db_url = urllib.parse.urlunsplit(parts._replace(path=f"/{db_name}"))
        model.start()
        telegram.start()
        production = (ROOT / "agentsite" / "settings" / "production.py").exists()
        settings_module = "agentsite.settings.production" if production else "agentsite.settings.dev"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TELEGRAM_", "ANTHROPIC_"))},
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DATABASE_URL": db_url,
            "REDIS_URL": REDIS_URL,
            "ANTHROPIC_API_KEY": "fake-anthropic-key-deploy-run",
            "TELEGRAM_BOT_TOKEN": "123456:fake",
            "TELEGRAM_API_BASE_URL": f"{telegram.url}/bot",
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
        figures["settings"] = settings_module

        t = time.monotonic()
        manage(env, "migrate", "--noinput")
        manage(env, "setup_schedules")
        created = manage(env, "shell", "-c", (
            "from django.contrib.auth.models import User, Permission\n"
            "from rest_framework.authtoken.models import Token\n"
            "u = User.objects.create_user('deploy-check', is_staff=True)\n"
            "u.user_permissions.add(Permission.objects.get(codename='decide_approval', content_type__app_label='decisions'))\n"
            "print('TOKEN', Token.objects.create(user=u).key)\n"
        ))
        token = next(line.split()[1] for line in created.stdout.splitlines() if line.startswith("TOKEN "))
        figures["setup_s"] = time.monotonic() - t

        db = psycopg.connect(db_url, autocommit=True, connect_timeout=10)

        def q(sql: str, *args):
            return db.execute(sql, args).fetchall()

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        children.start("gunicorn", [str(BIN / "gunicorn"), "agentsite.wsgi", "--bind", f"127.0.0.1:{port}",
                                    "--workers", "2", "--timeout", "30"], env)
        for name in CLUSTERS:
            children.start(f"qcluster-{name}", [PY, "manage.py", "qcluster"],
                           {**env, "ANTHROPIC_BASE_URL": f"{model.url}/{name}"})
        wait_for("/health", lambda: http("GET", f"{base}/health")[0] == 200, 60)

        def alive_clusters() -> int:
            result = manage(env, "worker_alive", "--any-host", "--min-clusters", "0", timeout=30, check=False)
            return int(result.stdout.split()[0]) if result.returncode == 0 and result.stdout else -1

        debug("clusters up")
        figures["clusters_alive_start"] = wait_for("two live clusters", lambda: alive_clusters() >= 2 and 2, 60, every=1)

        # --- sampling and the schedule nudge ---------------------------------------------
        max_in_flight = 0
        nudges = 0

        def tick():
            nonlocal max_in_flight, nudges
            running = q("SELECT count(*) FROM decisions_cycle WHERE status = 'running'")[0][0]
            max_in_flight = max(max_in_flight, running)
            # The agent is due and no cycle runs: bring the tick schedule's next run to now
            # (the clusters' schedulers pick it up within ~15-30 s).
            nudged = db.execute(
                "UPDATE django_q_schedule SET next_run = now() WHERE name = 'agentsite: proactive tick' "
                "AND next_run > now() + interval '2 seconds' AND EXISTS (SELECT 1 FROM decisions_agentstate "
                "WHERE NOT paused AND (lock_token IS NULL OR lock_expires_at < now()) "
                "AND (next_run_at IS NULL OR next_run_at <= now()))"
            ).rowcount
            nudges += nudged

        def cycles(status: str, reason: str | None = None) -> int:
            sql = "SELECT count(*) FROM decisions_cycle WHERE status = %s"
            return q(sql + (" AND reason = %s" if reason else ""), *([status, reason] if reason else [status]))[0][0]

        # 1. The first cycle asks for approval; approve it over the API.
        approval_id = wait_for("a pending approval", lambda: (q(
            "SELECT id FROM decisions_approval WHERE status = 'pending' ORDER BY id LIMIT 1") or [[None]])[0][0],
            120, tick=tick)
        debug("approval pending")
        status, body = http("POST", f"{base}/api/approvals/{approval_id}/approve/", token=token, body={"note": "go"})
        if status != 200:
            raise Failed(f"approving #{approval_id} over the API answered {status}: {body}")
        wait_for("the approval executed", lambda: q(
            "SELECT status FROM decisions_approval WHERE id = %s", approval_id)[0][0] in ("executed", "failed"),
            90, tick=tick)
        debug("approval decided")
        figures["approval_status"] = q("SELECT status FROM decisions_approval WHERE id = %s", approval_id)[0][0]

        # 3. The next cycle's model call is held; kill the cluster that made it.
        model.hold_next = True
        wait_for("a held model call", lambda: model.held.is_set(), 120, tick=tick)
        debug("model call held")
        victim = model.held_by
        dead_cycle, lock_expires = q("SELECT c.id, s.lock_expires_at FROM decisions_cycle c, decisions_agentstate s "
                                     "WHERE c.status = 'running' ORDER BY c.id DESC LIMIT 1")[0]
        if victim not in CLUSTERS:
            raise Failed(f"the held call came from an unknown path ({victim!r})")
        figures["clusters_alive_before_kill"] = alive_clusters()
        killed_at = time.monotonic()
        children.kill(f"qcluster-{victim}")
        victim_proc = children.procs[f"qcluster-{victim}"]
        wait_for("the killed cluster gone", lambda: victim_proc.poll() is not None
                 and not children.group_alive(victim_proc.pid), 10, every=0.1)
        ttl_left = q("SELECT extract(epoch FROM %s::timestamptz - now())", lock_expires)[0][0]
        figures["lock_ttl_skipped_s"] = float(ttl_left)
        db.execute("UPDATE decisions_agentstate SET lock_expires_at = now() - interval '1 second' "
                   "WHERE lock_token IS NOT NULL")
        completed_before = cycles("completed")
        wait_for("the dead cycle abandoned", lambda: q(
            "SELECT status, reason FROM decisions_cycle WHERE id = %s", dead_cycle)[0] == ("failed", "abandoned"),
            90, tick=tick)
        wait_for("a cycle completed by the survivor", lambda: cycles("completed") > completed_before, 90, tick=tick)
        debug("survivor completed a cycle")
        figures["recovery_s"] = time.monotonic() - killed_at
        figures["clusters_alive_after_kill"] = wait_for(
            "one live cluster", lambda: (n := alive_clusters()) == 1 and n, 20, every=1)
        survivor = next(c for c in CLUSTERS if c != victim)

        # 4. And the next one, paced (≥ 60 s after).
        wait_for("a second survivor cycle", lambda: cycles("completed") > completed_before + 1, 120, tick=tick)
        debug("second survivor cycle")

        # 5. The outbox drains: every notification sent.
        db.execute("UPDATE django_q_schedule SET next_run = now() WHERE name = 'agentsite: deliver outbox'")
        wait_for("the outbox drained", lambda: q(
            "SELECT count(*) FROM decisions_notification WHERE status <> 'sent'")[0][0] == 0, 60, tick=tick)

        debug("outbox drained")
        health_status, health = http("GET", f"{base}/health")
        figures["health"] = (health_status, (health or {}).get("scheduler"))

        # --- figures -------------------------------------------------------------------------
        rows = q("SELECT id, status, reason, started_at, finished_at FROM decisions_cycle ORDER BY started_at, id")
        real = [r for r in rows if r[1] != "skipped"]
        overlaps = sum(1 for a, b in zip(real, real[1:]) if a[4] is None or b[3] < a[4])
        starts = [r[3] for r in real]
        gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:])]
        by_cluster = {c: sum(1 for _, who in model.calls if who == c) for c in CLUSTERS}
        post_kill_calls = sum(1 for at, who in model.calls if at > killed_at)
        post_kill_from_victim = sum(1 for at, who in model.calls if at > killed_at and who == victim)

        notes = q("SELECT id, chat_id, text FROM decisions_notification ORDER BY id")
        sent = [m for m in telegram.sent_messages if m["chat_id"] == MASTER]
        counts = {}
        for m in sent:
            counts[m["text"]] = counts.get(m["text"], 0) + 1
        lost = sum(1 for _, _, text in notes if counts.get(text, 0) == 0)
        duplicates = sum(max(0, counts.get(text, 0) - 1) for text in {t for _, _, t in notes})
        unexpected = sum(n for text, n in counts.items() if text not in {t for _, _, t in notes})
        approved_deliveries = sum(1 for m in sent if m["text"] == model.approved_note)

        figures.update({
            "cycles": len(real), "completed": cycles("completed"),
            "awaiting_approval": cycles("awaiting_approval"),
            "abandoned": cycles("failed", "abandoned"), "failed_other": cycles("failed") - cycles("failed", "abandoned"),
            "skipped_locked": cycles("skipped", "locked"), "max_in_flight": max_in_flight, "overlaps": overlaps,
            "gaps": gaps, "calls_by_cluster": by_cluster, "victim": victim, "survivor": survivor,
            "dead_cycle": dead_cycle, "post_kill_calls": post_kill_calls,
            "notifications": len(notes), "delivered": len(sent), "duplicates": duplicates + unexpected,
            "lost": lost, "approval_id": approval_id, "approved_deliveries": approved_deliveries,
            "nudges": nudges,
        })

        checks = [
            (max_in_flight <= 1 and overlaps == 0, "at most one cycle in flight"),
            (figures["completed"] >= 2 and figures["cycles"] >= 4, "cycles on schedule"),
            (figures["approval_status"] == "executed" and approved_deliveries == 1, "approval executed exactly once"),
            (lost == 0 and duplicates == 0 and unexpected == 0 and len(notes) > 0, "notifications exactly once"),
            (figures["abandoned"] == 1, "the dead cycle recorded abandoned"),
            (post_kill_calls >= 1 and post_kill_from_victim == 0, "the survivor keeps cycling"),
            (health_status == 200 and not (health or {}).get("scheduler", {}).get("paused", True)
             and (health or {}).get("scheduler", {}).get("last_cycle_at"), "/health: scheduler alive"),
            (figures["clusters_alive_start"] == 2 and figures["clusters_alive_after_kill"] == 1,
             "worker_alive: 2 clusters, then 1"),
        ]
        failures = [name for passed, name in checks if not passed]
        ok = not failures
    except Failed as exc:
        failures.append(str(exc))
    except Exception as exc:  # a bug here must still clean up and say what happened
        failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        children.stop_all()
        for fake in (model, telegram):
            try:
                fake.stop()
            except Exception:
                pass
        if db is not None:
            db.close()
        try:
            admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        except Exception as exc:
            failures.append(f"could not drop {db_name}: {exc}")
        admin.close()
        try:
            rds.flushdb()
        except Exception:
            pass

    report(figures, failures)
    if not ok or failures:
        print(children.tails(), file=sys.stderr)
        return 1
    return 0


def report(f: dict, failures: list[str]) -> None:
    def g(key, fmt="{}"):
        return fmt.format(f[key]) if key in f else "-"

    gaps = f.get("gaps") or []
    health = f.get("health")
    print("deploy-shaped run: migrate, gunicorn (2 workers), 2 x qcluster, PostgreSQL + Redis, fake APIs")
    print(f"  settings                      {g('settings')}")
    print(f"  cycles (not skipped)          {g('cycles')}: completed {g('completed')}, awaiting approval "
          f"{g('awaiting_approval')}, abandoned {g('abandoned')}, other failures {g('failed_other')}")
    print(f"  ticks that met the lock       {g('skipped_locked')}")
    print(f"  max cycles in flight          {g('max_in_flight')} (overlapping cycles: {g('overlaps')})")
    if gaps:
        print(f"  between cycle starts          {min(gaps):.0f}-{max(gaps):.0f} s (mean {sum(gaps)/len(gaps):.0f} s; "
              f"tick schedule pulled forward {g('nudges')} times)")
    print(f"  model calls by cluster        {g('calls_by_cluster')}")
    print(f"  approval over the API         #{g('approval_id')} {g('approval_status')}, "
          f"its message delivered {g('approved_deliveries')} time(s)")
    print(f"  notifications                 {g('notifications')} rows, {g('delivered')} delivered, "
          f"duplicates {g('duplicates')}, lost {g('lost')}")
    print(f"  SIGKILL mid-cycle             cluster {g('victim')} (cycle #{g('dead_cycle')}); survivor "
          f"{g('survivor')} made {g('post_kill_calls')} call(s) after")
    print(f"  recovery (kill -> next completed cycle)  {g('recovery_s', '{:.1f}')} s, the lock's remaining "
          f"TTL of {g('lock_ttl_skipped_s', '{:.0f}')} s fast-forwarded")
    print(f"  worker_alive (clusters)       {g('clusters_alive_start')} at start, {g('clusters_alive_after_kill')} after the kill")
    if health:
        print(f"  /health                       {health[0]} scheduler={json.dumps(health[1])}")
    print(f"  wall time                     {time.monotonic() - T0:.0f} s (set-up {g('setup_s', '{:.0f}')} s)")
    print("  result                        " + ("PASS" if not failures else "FAIL: " + "; ".join(failures)))


if __name__ == "__main__":
    def _interrupted(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupted)
    sys.exit(main())
