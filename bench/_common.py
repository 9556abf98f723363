"""What the issue-12 bench scripts share: databases to run on (a SQLite file on disk or on
tmpfs, a throw-away PostgreSQL database), Django set-up against the loopback fakes of
tests/fakes, timing, SQL statement counting and the `figure | agentsite | reference |
target | met?` rows.

Each script measures one database per process (Django binds its database at set-up): the
parent runs `<script> --child <where>` once per database and prints the rows it returns.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
MASTER = 1001
SECRET_KEY = "bench-" + "k3y-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOP"
WEBHOOK_SECRET = "bench-webhook-secret"
BOT_TOKEN = "123456:bench-token"
# The reply the fake model gives every cycle: a sure, insignificant meditation (executed,
# remembered, nothing reported), the cheapest complete path through a cycle.
DECISION = {
    "action": "meditate", "reasoning": "a quiet moment", "certainty": 0.9, "significance": 0.2,
    "type": "internal", "details": {"duration": 120, "reflection_topic": "patience"},
}
DECISION_TEXT = f"Here is my decision.\n```json\n{json.dumps(DECISION)}\n```"


# --- where the database lives ------------------------------------------------------------


def sqlite_dir(where: str) -> str:
    """A fresh folder for a SQLite file: on disk (/tmp here is the root ext4) or tmpfs."""
    base = "/dev/shm" if where == "tmpfs" else None
    return tempfile.mkdtemp(prefix="agentsite-bench-", dir=base)


@contextmanager
def database(where: str):
    """Yields a DATABASE_URL for `where` (disk | tmpfs | pg); removes the database after."""
    if where == "pg":
        name = f"agentsite_bench_{uuid.uuid4().hex[:8]}"
        psql(f'CREATE DATABASE "{name}"')
        try:
            yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
        finally:
            psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    folder = sqlite_dir(where)
    try:
        yield f"sqlite:///{folder}/bench.sqlite3"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def psql(sql: str, *, url: str = PG_ADMIN) -> str:
    """One statement through psycopg in autocommit (CREATE/DROP DATABASE need it)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql)
        return json.dumps(cur.fetchall(), default=str) if cur.description else ""


def pg_sessions(dbname: str) -> int:
    """Sessions ever opened on `dbname` (pg_stat_database.sessions, PostgreSQL 14+)."""
    return json.loads(psql(f"SELECT sessions FROM pg_stat_database WHERE datname = '{dbname}'"))[0][0]


def site_env(db_url: str, *, anthropic_url: str = "http://127.0.0.1:9", telegram_url: str = "http://127.0.0.1:9",
             **extra: str) -> dict:
    """The environment of a deployed site (production settings, DEBUG off) on `db_url`,
    its Claude and Telegram pointed at the fakes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TELEGRAM_", "ANTHROPIC_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "agentsite.settings.production",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_COOKIES": "false",
        "DATABASE_URL": db_url,
        "ANTHROPIC_API_KEY": "bench-anthropic-key",
        "ANTHROPIC_BASE_URL": anthropic_url,
        "TELEGRAM_API_BASE_URL": f"{telegram_url}/bot",
        "MASTER_CHAT_IDS": str(MASTER),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **extra,
    })
    return env


def django_setup(env: dict, *, migrate: bool = True) -> None:
    """This process becomes the site described by `env`, migrated."""
    os.environ.update(env)
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def start_fake_anthropic():
    """The tests' loopback Messages API, answering every request with DECISION_TEXT."""
    from tests.fakes.anthropic_api import FakeAnthropic, message_reply

    fake = FakeAnthropic()
    fake.default = lambda recorded: message_reply(DECISION_TEXT, input_tokens=3000, output_tokens=120)
    return fake.start()


def keep_no_requests(fake) -> None:
    """The fakes record every request; a long run must not grow memory for it."""
    original = fake._next

    def _next(recorded):
        reply = original(recorded)
        with fake._lock:
            del fake.requests[:-1]
        return reply

    fake._next = _next


# --- timing and rows -----------------------------------------------------------------------


def fsync_ms(folder: str, repeat: int = 20) -> float:
    """Median cost of writing 4 KiB and fsync-ing it in `folder`: what one durable
    commit costs at least on that storage (context for the on-disk rows)."""
    path = Path(folder) / "fsync-probe"
    samples = []
    with open(path, "wb") as f:
        for _ in range(repeat):
            start = time.perf_counter()
            f.write(b"x" * 4096)
            f.flush()
            os.fsync(f.fileno())
            samples.append((time.perf_counter() - start) * 1000)
    path.unlink()
    return median(samples)


def timed_ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def median(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def header(title: str) -> None:
    print(f"\n## {title}")
    print("figure | agentsite | reference | target | met?")
    print("---|---|---|---|---")


def row(figure: str, agentsite: str, reference: str, target: str, met: bool | None) -> None:
    mark = "n/a" if met is None else ("yes" if met else "NO")
    print(f"{figure} | {agentsite} | {reference} | {target} | {mark}", flush=True)


# --- children: one database per process -------------------------------------------------------

RESULT_PREFIX = "BENCH-RESULT "


def child_report(result: dict) -> None:
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def run_child(script: str, where: str, *args: str, timeout: float = 3600) -> dict:
    """Run `script --child where args...` and return the dict it reported; its other
    output (e.g. -v statement lists, profiles) is passed through."""
    argv = [sys.executable, str(ROOT / "bench" / script), "--child", where, *args]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX):])
        else:
            print(line)
    if proc.returncode != 0 or result is None:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"{script} --child {where} failed (exit {proc.returncode})")
    return result


# --- SQL statements and durable commits ----------------------------------------------------------

_KIND = re.compile(r"\s*(\w+)")
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class SqlCount:
    """Counts the statements a block sends (by first keyword) and its durable commits:
    each outermost transaction's COMMIT plus each write sent in autocommit mode (its own
    implicit transaction). `with SqlCount() as count: ...; count.kinds, count.commits`."""

    def __init__(self) -> None:
        from django.db import connection

        self.connection = connection
        self.statements: list[str] = []
        self.kinds: dict[str, int] = {}
        self.commits = 0

    def _wrapper(self, execute, sql, params, many, context):
        kind = (_KIND.match(sql) or [None, "?"])[1].upper()
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        self.statements.append(sql if params is None else f"{sql}  -- {list(params)[:6]!r}")
        if kind in WRITES and not self.connection.in_atomic_block:
            self.commits += 1
        return execute(sql, params, many, context)

    def __enter__(self) -> "SqlCount":
        conn = self.connection
        conn.ensure_connection()
        self._commit, counter = conn._commit, self

        def _commit():  # Django's atomic() ends an outermost transaction here (not a cursor call)
            counter.kinds["COMMIT"] = counter.kinds.get("COMMIT", 0) + 1
            counter.statements.append("COMMIT")
            counter.commits += 1
            return counter._commit()

        conn._commit = _commit
        self._wrap = conn.execute_wrapper(self._wrapper)
        self._wrap.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._wrap.__exit__(*exc)
        self.connection._commit = self._commit

    @property
    def total(self) -> int:
        return sum(self.kinds.values())

    def kinds_text(self) -> str:
        return ", ".join(f"{n} {k}" for k, n in sorted(self.kinds.items(), key=lambda kv: -kv[1]))


def profile_top(fn, *, repeat: int, top: int = 12, own: int = 12, only: str = str(ROOT)) -> str:
    """cProfile `fn` run `repeat` times; the `top` functions of the project by own+callee
    time (cumulative), then the `own` functions anywhere by own time, in ms per run."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    for _ in range(repeat):
        fn()
    prof.disable()
    stats = pstats.Stats(prof)
    rows = []
    for (filename, line, name), (_cc, _nc, tt, ct, _callers) in stats.stats.items():
        rows.append((ct, tt, filename, line, name))
    rows.sort(reverse=True)
    out = []
    for ct, tt, filename, line, name in rows:
        if len(out) >= top:
            break
        if not filename.startswith(only) or "/bench/" in filename or "/tests/" in filename:
            continue
        rel = os.path.relpath(filename, ROOT)
        out.append(f"  {ct / repeat * 1000:8.2f} ms cum  {tt / repeat * 1000:7.2f} ms own  {rel}:{line} {name}")
    out.append("  -- and the functions with the most own time anywhere (libraries included):")
    rows.sort(key=lambda r: -r[1])
    for ct, tt, filename, line, name in rows[:own]:
        where = os.path.relpath(filename, ROOT) if filename.startswith(str(ROOT)) else _short(filename)
        out.append(f"  {tt / repeat * 1000:8.2f} ms own  {ct / repeat * 1000:7.2f} ms cum  {where}:{line} {name}")
    return "\n".join(out)


def _short(filename: str) -> str:
    """site-packages/<package>/... or the builtin's name."""
    marker = "site-packages/"
    return filename.split(marker, 1)[1] if marker in filename else filename
