"""`main()`: a fresh database and Redis DB, the fakes, the children, the checks; everything
cleaned up in `finally`, then the figures (and on failure the children's log tails)."""

import os
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

import psycopg
import redis

from tests.fakes.telegram_api import FakeTelegram

from .checks import run_checks
from .common import PG_ADMIN, REDIS_URL, Failed
from .model import Model
from .processes import Children, child_env, set_up, start_services
from .report import report


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
        env = child_env(db_url, telegram.url)
        figures["settings"] = env["DJANGO_SETTINGS_MODULE"]

        t = time.monotonic()
        token = set_up(env)
        figures["setup_s"] = time.monotonic() - t

        db = psycopg.connect(db_url, autocommit=True, connect_timeout=10)
        figures["schedules_from_migrate"] = db.execute(
            "SELECT count(*) FROM django_q_schedule WHERE name LIKE 'agentsite:%%'").fetchone()[0]
        # The first message's first send fails: the outbox must retry it, once.
        telegram.fail(502, times=1, method="sendMessage")
        base = start_services(children, env, model.url)
        failures = run_checks(env, db, base, token, model, telegram, children, figures)
        ok = not failures
    except Failed as exc:
        failures.append(str(exc))
    except Exception as exc:  # a bug here must still clean up and say what happened
        failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        failures += _clean_up(children, (model, telegram), db, admin, db_name, rds)

    report(figures, failures)
    if not ok or failures:
        print(children.tails(), file=sys.stderr)
        return 1
    return 0


def _clean_up(children, fakes, db, admin, db_name: str, rds) -> list[str]:
    """Stop everything the run started and drop its database; what could not be undone."""
    problems = []
    children.stop_all()
    for fake in fakes:
        try:
            fake.stop()
        except Exception:
            pass
    if db is not None:
        db.close()
    try:
        admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    except Exception as exc:
        problems.append(f"could not drop {db_name}: {exc}")
    admin.close()
    try:
        rds.flushdb()
    except Exception:
        pass
    return problems
