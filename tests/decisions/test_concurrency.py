"""Races that only a real database can referee (PostgreSQL; skipped on SQLite)."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connection

from agentsite.core.errors import ApplicationError
from decisions.approvals import approval_approve
from decisions.execution import approval_execute
from decisions.models import Approval, Cycle
from memory.models import MemoryEntry, MemoryKind
from tests.conftest import TEST_API_KEY
from tests.factories import decision_text
from tests.factories.decisions import ApprovalFactory
from tests.fakes.anthropic_api import message_reply

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_run_cycle_processes_call_the_model_once(claude):
    claude.default = lambda recorded: message_reply(decision_text(), delay=1.5)
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "ANTHROPIC_API_KEY": TEST_API_KEY,
           "ANTHROPIC_BASE_URL": claude.url, "DJANGO_SETTINGS_MODULE": "agentsite.settings.dev"}
    try:
        procs = [
            subprocess.Popen([sys.executable, "manage.py", "run_cycle", "--json"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        claude.default = lambda recorded: message_reply()
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert sorted((r["status"], r["reason"]) for r in results) == [("completed", None), ("skipped", "locked")]
    assert len(claude.message_requests) == 1
    assert Cycle.objects.filter(status="completed").count() == 1


def test_two_masters_approving_at_once_execute_it_once(settings):
    settings.MASTER_CHAT_IDS = [1001]
    approval = ApprovalFactory(action="meditate", certainty=0.5)
    start = threading.Barrier(6)
    outcomes = []

    def tap(n: int) -> None:
        try:
            start.wait()
            approval_approve(approval_id=approval.pk, by=f"master-{n}", via="telegram")
            outcomes.append("approved")
            approval_execute(approval_id=approval.pk)
        except ApplicationError as exc:
            outcomes.append(exc.kind)
        finally:
            connection.close()

    threads = [threading.Thread(target=tap, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["approved"] + ["conflict"] * 5
    assert Approval.objects.get().status == "executed"
    assert MemoryEntry.objects.filter(kind=MemoryKind.REFLECTION).count() == 1
