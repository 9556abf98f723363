"""Issue 12: the Telegram path under load. Webhook ingest through gunicorn, the worker's
processing of the Master's messages, and the PostgreSQL connections both open.

    python bench/webhook_ingest.py [--updates 2000] [--clients 8] [--broker redis|orm] [--profile]

On a throw-away PostgreSQL database (dropped after), the site in production settings
(DEBUG off), Telegram and Claude pointed at the loopback fakes of tests/fakes/ (run in
this process):
  1. ingest: gunicorn (2 sync workers) alone, no worker draining; --clients threads post
     --updates Master updates (`/status`: a command, no model call) to /telegram/webhook/
     with the secret header. Updates/s over the whole burst, p99 of each POST's latency.
  2. drain: then `manage.py qcluster` (Q_WORKERS=2) starts on the stored queue; the rate is
     updates processed per second between the first and the last `processed_at`, and
     replies delivered (sendMessage at the fake, sent_at in the outbox) within --reply-wait s.
  PostgreSQL sessions (pg_stat_database.sessions) are read before and after each phase:
  new connections per worker per minute (2 gunicorn workers; 2 cluster workers) at steady
  load: for the cluster, counted from when its first WARM_UP updates are processed (each
  of its processes opens one connection as it starts; those are shown apart).
  --profile: a child process then handles 50 more updates in-process under cProfile
  (`update_process` + `outbox_deliver`, as a worker does) and prints where the time goes.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from _common import (
    BOT_TOKEN,
    MASTER,
    ROOT,
    WEBHOOK_SECRET,
    database,
    fsync_ms,
    header,
    median,
    percentile,
    pg_sessions,
    profile_top,
    psql,
    row,
    site_env,
    start_fake_anthropic,
)

TARGET_INGEST = 200.0
TARGET_P99_MS = 100.0
TARGET_DRAIN = 100.0
TARGET_CONNECTIONS = 1.0  # new connections per worker per minute
WORKERS = 2
WARM_UP = 100  # processed updates after which the cluster's processes all have their connection
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "7"))
BIN = Path(sys.executable).parent


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the child's process group (only what this script started), then SIGKILL."""
    import signal

    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_until(what: str, predicate, timeout: float, every: float = 0.1, fail: bool = True):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    if fail:
        raise SystemExit(f"timed out waiting for {what}")
    return None


class Probe:
    """One connection to the bench database, opened before the first count of sessions, so
    the bench's own polling adds none."""

    def __init__(self, db_url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(db_url, autocommit=True)

    def one(self, sql: str):
        return self.conn.execute(sql).fetchone()


# --- 1. ingest -----------------------------------------------------------------------------------------------


def post_all(port: int, payloads: list[dict], clients: int) -> tuple[list[float], float, int]:
    """`clients` threads post the payloads (keep-alive when the server allows it);
    returns each POST's latency (ms), the wall time (s) and the count of non-200s."""
    work: queue.SimpleQueue = queue.SimpleQueue()
    for body in payloads:
        work.put(json.dumps(body).encode())
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET,
               "Host": "127.0.0.1"}

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad = [], 0
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                break
            start = time.perf_counter()
            try:
                conn.request("POST", "/telegram/webhook/", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                bad += response.status != 200
            except (OSError, http.client.HTTPException):
                conn.close()
                bad += 1
            mine.append((time.perf_counter() - start) * 1000)
        conn.close()
        with lock:
            latencies.extend(mine)
            failures[0] += bad

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - started, failures[0]


# --- 3. in-process profile of the worker's path -------------------------------------------------------------


def profile_child(n: int) -> None:
    """Runs in a child whose environment is the site's: store n updates, then profile what a
    worker does with each (update_process, then the outbox round)."""
    from _common import django_setup

    django_setup(dict(os.environ), migrate=False)
    from telegrambot.delivery import outbox_deliver
    from telegrambot.updates import update_process, update_store
    from tests.fakes.telegram_api import message_update

    ids = iter(range(900_000_000, 900_000_000 + 10 * n))

    def one() -> None:
        update, _ = update_store(payload=message_update("/status", chat_id=MASTER, update_id=next(ids)))
        update_process(update_id=update.update_id)
        outbox_deliver()

    for _ in range(5):
        one()
    started = time.perf_counter()
    for _ in range(n):
        one()
    per = (time.perf_counter() - started) / n * 1000
    print(f"\n--- the worker's path in-process: {per:.1f} ms per /status update (store + process + deliver) ---")
    print(profile_top(one, repeat=n, top=25))


# --- the run --------------------------------------------------------------------------------------------------


def run(args) -> dict:
    from tests.fakes.telegram_api import FakeTelegram

    telegram = FakeTelegram().start()
    anthropic = start_fake_anthropic()
    redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    if args.broker == "redis":
        import redis

        broker = redis.Redis.from_url(redis_url)
        if broker.dbsize():
            raise SystemExit(f"Redis db {REDIS_DB} is not empty: set BENCH_REDIS_DB to a free one")
    logdir = Path(os.environ.get("BENCH_LOGDIR") or "/tmp") / f"agentsite-bench-webhook-{os.getpid()}"
    logdir.mkdir(parents=True, exist_ok=True)
    try:
        with database("pg") as db_url:
            return _phases(args, db_url, telegram, anthropic, redis_url, logdir)
    finally:
        if args.broker == "redis":
            broker.flushdb()  # only the bench's own db, checked empty above
        telegram.stop()
        anthropic.stop()


def _phases(args, db_url: str, telegram, anthropic, redis_url: str, logdir: Path) -> dict:
    dbname = db_url.rsplit("/", 1)[1]
    env = site_env(db_url, anthropic_url=anthropic.url, telegram_url=telegram.url,
                   TELEGRAM_BOT_TOKEN=BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
                   Q_WORKERS=str(WORKERS), **({"REDIS_URL": redis_url} if args.broker == "redis" else {}))
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    port = free_port()
    gunicorn = start([str(BIN / "gunicorn"), "agentsite.wsgi", "--bind", f"127.0.0.1:{port}",
                      "--workers", str(WORKERS), "--timeout", "30"], env, logdir / "gunicorn.log")
    cluster, probe = [], Probe(db_url)
    try:
        figures = _ingest(args, port=port, probe=probe, dbname=dbname, telegram=telegram)
        cluster.append(start([sys.executable, "manage.py", "qcluster"], env, logdir / "qcluster.log"))
        figures.update(_drain(args, probe=probe, dbname=dbname, telegram=telegram, total=figures["total"]))
    finally:
        for process in cluster:
            stop(process)
        stop(gunicorn)
        probe.conn.close()
    if args.profile:
        subprocess.run([sys.executable, __file__, "--child", "profile"], cwd=ROOT, env=env, check=True)
    psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{dbname}'")
    figures.update({
        "synchronous_commit": json.loads(psql("SHOW synchronous_commit"))[0][0], "fsync_ms": fsync_ms("/tmp"),
        "drain_sessions": figures["sessions_end"] - figures["sessions_ingested"], "logs": str(logdir),
        "startup_sessions": figures["sessions_warm"] - figures["sessions_ingested"],
        "steady_sessions": figures["sessions_end"] - figures["sessions_warm"],
    })
    return figures


def _ingest(args, *, port: int, probe, dbname: str, telegram) -> dict:
    """Warm gunicorn up, then post the updates from `args.clients` clients at once."""
    from tests.fakes.telegram_api import message_update

    wait_until("gunicorn", lambda: _health(port), 60)
    ids = itertools.count(1_000_000)
    post_all(port, [message_update("/status", update_id=next(ids)) for _ in range(50)], args.clients)
    telegram.reset()
    sessions0 = pg_sessions(dbname)
    payloads = [message_update("/status", chat_id=MASTER, update_id=next(ids)) for _ in range(args.updates)]
    latencies, wall, failures = post_all(port, payloads, args.clients)
    time.sleep(0.6)  # pg_stat_database is updated when a backend reports (at most every 500 ms)
    sessions1 = pg_sessions(dbname)
    return {
        "ingest_rate": args.updates / wall, "p50": median(latencies), "p99": percentile(latencies, 99),
        "failures": failures, "total": args.updates + 50,
        "stored": probe.one("SELECT count(*) FROM telegrambot_telegramupdate")[0],
        "ingest_sessions": sessions1 - sessions0, "ingest_minutes": wall / 60, "sessions_ingested": sessions1,
    }


def _drain(args, *, probe, dbname: str, telegram, total: int) -> dict:
    """The cluster (just started) processes every stored update and sends the replies."""
    processed = "SELECT count(*) FROM telegrambot_telegramupdate WHERE status = 'processed'"
    drain_started = time.monotonic()
    # Steady load starts once every process of the cluster has opened its connection (its
    # first tasks done): from there on, new sessions are reconnections, what the target counts.
    wait_until("the cluster to warm up", lambda: probe.one(processed)[0] >= WARM_UP,
               timeout=max(120, args.updates), every=0.1)
    time.sleep(0.6)
    sessions_warm, warm_at = pg_sessions(dbname), time.monotonic()
    wait_until("the queue to drain", lambda: probe.one(processed)[0] >= total,
               timeout=max(120, args.updates), every=0.5)
    drain_wall = time.monotonic() - drain_started
    # Replies may trail far behind (the outbox); wait a bounded time and report what came.
    wait_until("the replies", lambda: len(telegram.sent_messages) >= total, timeout=args.reply_wait,
               every=0.5, fail=False)
    first, last = probe.one("SELECT extract(epoch FROM min(processed_at)), extract(epoch FROM"
                            " max(processed_at)) FROM telegrambot_telegramupdate")
    _, sent_last, sent = probe.one(
        "SELECT extract(epoch FROM min(sent_at)), extract(epoch FROM max(sent_at)), count(*)"
        " FROM decisions_notification WHERE status = 'sent'")
    time.sleep(0.6)
    drained_in = float(last) - float(first)
    return {
        "drain_rate": (total - 1) / drained_in if drained_in > 0 else float("inf"), "drain_wall": drain_wall,
        "delivered": len(telegram.sent_messages), "sent": sent,
        "send_rate": (sent - 1) / (float(sent_last) - float(first)) if sent > 1 else 0.0,
        "sessions_warm": sessions_warm, "sessions_end": pg_sessions(dbname),
        "drain_minutes": (time.monotonic() - drain_started) / 60, "steady_minutes": (time.monotonic() - warm_at) / 60,
    }


def _health(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/health", headers={"Host": "127.0.0.1"})
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--broker", choices=("redis", "orm"), default="redis")
    parser.add_argument("--reply-wait", type=float, default=120, help="seconds to wait for the replies after the drain")
    parser.add_argument("--profile", action="store_true", help="profile the worker's path in-process")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "profile":
        profile_child(50)
        return

    r = run(args)
    header(f"webhook ingest and processing (PostgreSQL, {args.broker} broker, {args.updates} updates,"
           f" {args.clients} clients, gunicorn {WORKERS} workers, qcluster {WORKERS} workers)")
    row("webhook ingest (updates/s)", f"{r['ingest_rate']:.0f}/s ({r['failures']} non-200; {r['stored']}"
        f" of {r['total']} stored)", "—", f">= {TARGET_INGEST:.0f}/s", r["ingest_rate"] >= TARGET_INGEST and not
        r["failures"])
    row("webhook latency p99 (p50)", f"{r['p99']:.1f} ms ({r['p50']:.1f} ms)", "—", f"< {TARGET_P99_MS:.0f} ms",
        r["p99"] < TARGET_P99_MS)
    row("worker processing of Master /status updates (processed/s)",
        f"{r['drain_rate']:.1f}/s (wall {r['drain_wall']:.1f} s incl. start-up)",
        "—", f">= {TARGET_DRAIN:.0f}/s", r["drain_rate"] >= TARGET_DRAIN)
    row("their replies delivered (sent/s from the first processed; sent of all)",
        f"{r['send_rate']:.1f}/s ({r['sent']} of {r['total']} sent within {args.reply_wait:.0f} s of the drain)",
        "—", f">= {TARGET_DRAIN:.0f}/s, all sent", r["send_rate"] >= TARGET_DRAIN and r["sent"] >= r["total"])
    for phase, label in (("ingest", "ingest (gunicorn"), ("steady", "drain (qcluster, after its start-up")):
        per = r[f"{phase}_sessions"] / WORKERS / max(r[f"{phase}_minutes"], 1e-9)
        row(f"PostgreSQL connections opened during {label}, per worker per minute)",
            f"{r[f'{phase}_sessions']} sessions in {r[f'{phase}_minutes'] * 60:.1f} s = {per:.1f}", "—",
            f"<= {TARGET_CONNECTIONS:.0f}", per <= TARGET_CONNECTIONS)
    row("context: sessions the cluster opened starting (first "
        f"{WARM_UP} updates), and over the whole drain", f"{r['startup_sessions']}; {r['drain_sessions']} in"
        f" {r['drain_minutes'] * 60:.1f} s", "—", "—", None)
    row("context: PostgreSQL synchronous_commit; one fsync on this disk", f"{r['synchronous_commit']};"
        f" {r['fsync_ms']:.1f} ms", "—", "—", None)
    print(f"(logs: {r['logs']})")


if __name__ == "__main__":
    main()
