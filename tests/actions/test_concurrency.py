"""Surfaces racing on the same task or skill (PostgreSQL row locks)."""

import threading

import pytest
from django.db import connection

from actions.errors import TaskStateError
from actions.models import Skill, TaskStatus
from actions.services import skill_practise, task_cancel, task_start
from memory.models import MemoryEntry
from tests.factories.actions import TaskFactory

WORKERS = 8

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(*jobs) -> list[str]:
    start = threading.Barrier(len(jobs))
    outcomes: list[str] = []

    def worker(job) -> None:
        try:
            start.wait()
            outcomes.append(job())
        except TaskStateError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return outcomes


def test_a_cancel_racing_a_start_leaves_one_consistent_outcome():
    task = TaskFactory()

    def cancel():
        task_cancel(task_id=task.pk)
        return "cancelled"

    def start():
        task_start(task_id=task.pk)
        return "started"

    outcomes = race(*[cancel, start] * (WORKERS // 2))
    task.refresh_from_db()
    assert len(outcomes) == WORKERS
    if task.status == TaskStatus.CANCELLED:
        assert outcomes.count("cancelled") == 1 and outcomes.count("started") == 0
    else:
        assert task.status == TaskStatus.RUNNING
        assert outcomes.count("cancelled") == 0 and outcomes.count("started") >= 1


def test_concurrent_practice_of_a_new_skill_makes_one_skill_and_counts_every_practice():
    def practise():
        skill_practise(name="Calligraphy", note="steady hand")
        return "ok"

    assert race(*[practise] * WORKERS) == ["ok"] * WORKERS
    skill = Skill.objects.get()
    assert skill.practice_count == WORKERS
    assert MemoryEntry.objects.count() == WORKERS
