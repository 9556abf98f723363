"""manage.py worker_alive: the compose worker's healthcheck (a recent Django-Q2 heartbeat)."""

import socket
from datetime import timedelta
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.status import Stat

HERE = socket.gethostname()


def stat(*, host=HERE, status="Idle", age=1.0, pid=4242):
    return SimpleNamespace(host=host, status=status, pid=pid, timestamp=timezone.now() - timedelta(seconds=age))


@pytest.fixture
def redis_broker(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "redis": "redis://127.0.0.1:6379/5"}


@pytest.fixture
def stats(monkeypatch, redis_broker):
    found = []
    monkeypatch.setattr("django_q.brokers.get_broker", lambda *a, **k: object())
    monkeypatch.setattr(Stat, "get_all", staticmethod(lambda broker=None: list(found)))
    return found


def run(*args):
    out = StringIO()
    try:
        call_command("worker_alive", *args, stdout=out, stderr=out)
        return 0, out.getvalue()
    except SystemExit as exc:
        return exc.code, out.getvalue()


def test_alive_when_this_hosts_cluster_beat_recently(stats):
    stats.append(stat(status="Working"))
    code, out = run()
    assert code == 0
    assert "1 cluster(s) alive" in out


@pytest.mark.parametrize("other", [
    {"host": "another-container"},  # a sibling worker's heartbeat says nothing about this one
    {"status": "Stopping"},
    {"age": 60},
])
def test_not_alive(stats, other):
    stats.append(stat(**other))
    assert run()[0] == 1


def test_no_cluster_at_all(stats):
    assert run() == (1, f"0 cluster(s) alive on {HERE}: none\n")


def test_any_host_and_minimum(stats):
    stats.extend([stat(host="a"), stat(host="b")])
    assert run("--any-host", "--min-clusters", "2")[0] == 0
    assert run("--any-host", "--min-clusters", "3")[0] == 1


def test_orm_broker_cannot_tell(settings):
    settings.Q_CLUSTER = {k: v for k, v in settings.Q_CLUSTER.items() if k != "redis"}
    code, out = run()
    assert code == 2
    assert "Redis" in out


def test_broker_down(monkeypatch, redis_broker):
    def down(broker=None):
        raise ConnectionError("refused")

    monkeypatch.setattr("django_q.brokers.get_broker", lambda *a, **k: object())
    monkeypatch.setattr(Stat, "get_all", staticmethod(down))
    code, out = run()
    assert code == 2
    assert "unreachable" in out
