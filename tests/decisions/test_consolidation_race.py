"""Two workers consolidating at once (PostgreSQL): one call, one digest, each entry
archived once."""

import json
import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection

from agentsite.core.clock import utc_now
from decisions.agent import agent_state_get
from decisions.consolidation import consolidation_run
from decisions.models import Cycle
from memory.models import MemoryEntry, MemoryKind, MemoryRevision
from memory.services import memory_record
from tests.fakes.anthropic_api import message_reply

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_workers_consolidate_once(claude):
    agent_state_get()
    with time_machine.travel(utc_now() - timedelta(days=9), tick=False):
        for i in range(6):
            memory_record(kind=MemoryKind.REFLECTION, content=f"old {i}")
    claude.default = lambda recorded: message_reply(json.dumps({"digest": "folded"}), delay=1.0)
    start, results = threading.Barrier(2), []

    def worker() -> None:
        try:
            start.wait()
            results.append(consolidation_run())
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        results.append(consolidation_run())  # a later run the same day: done already
    finally:
        claude.default = lambda recorded: message_reply()
    assert sorted(r is not None for r in results) == [False, False, True]
    assert len(claude.message_requests) == 1 and Cycle.objects.count() == 1
    assert MemoryEntry.objects.filter(kind=MemoryKind.DIGEST).count() == 1
    assert MemoryRevision.objects.filter(field="archived").count() == 6
