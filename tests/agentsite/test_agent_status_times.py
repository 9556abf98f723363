"""`decisions.selectors.agent_status` gives datetimes; every caller still shows them as it
always did: ISO 8601 with microseconds and "+00:00" (the API, /health, /stats, `manage.py
agent status`), and a "YYYY-MM-DD HH:MM UTC" time in the Master's /status reply."""

import io
import json
from datetime import datetime, timezone

import pytest
from django.core.management import call_command

from decisions.models import AgentState
from decisions.selectors import agent_status

pytestmark = pytest.mark.django_db

NEXT = datetime(2031, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
LAST = datetime(2031, 1, 2, 2, 59, 0, 120000, tzinfo=timezone.utc)
NEXT_ISO, LAST_ISO = "2031-01-02T03:04:05.678901+00:00", "2031-01-02T02:59:00.120000+00:00"


@pytest.fixture(autouse=True)
def state():
    AgentState.objects.update_or_create(pk=AgentState.SINGLETON_ID, defaults={"next_run_at": NEXT,
                                                                               "last_cycle_at": LAST})


def test_the_selector_gives_datetimes():
    status = agent_status()
    assert (status["next_cycle_at"], status["last_cycle_at"]) == (NEXT, LAST)


def test_the_api_gives_iso_strings(api):
    body = api.get("/api/agent/").json()
    assert (body["next_cycle_at"], body["last_cycle_at"]) == (NEXT_ISO, LAST_ISO)


def test_health_and_stats_give_iso_strings(client):
    assert client.get("/health").json()["scheduler"] == {
        "paused": False, "next_cycle_at": NEXT_ISO, "last_cycle_at": LAST_ISO}
    assert client.get("/stats").json()["next_cycle_at"] == NEXT_ISO


def test_the_agent_command_gives_iso_strings():
    out = io.StringIO()
    call_command("agent", "status", "--json", stdout=out)
    body = json.loads(out.getvalue())
    assert (body["next_cycle_at"], body["last_cycle_at"]) == (NEXT_ISO, LAST_ISO)

    out = io.StringIO()
    call_command("agent", "status", stdout=out)
    assert f"  next cycle: {NEXT_ISO}\n  last cycle: {LAST_ISO}\n" in out.getvalue()
