"""What every part of the deployment-shaped run shares: settings, the time budget, errors,
polling and a small HTTP client."""

import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
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
