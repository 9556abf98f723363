"""The one status text: the Master's /status reply and the chat's state summary for Claude
say the same facts, each in its own words, with the times the selector gives."""

from datetime import datetime, timezone

import pytest
import time_machine

from decisions.models import AgentState, Cycle
from telegrambot.status import status_text

pytestmark = pytest.mark.django_db

NEXT = datetime(2031, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
LAST = datetime(2031, 1, 2, 2, 59, 0, tzinfo=timezone.utc)


@pytest.fixture
def state():
    AgentState.objects.update_or_create(
        pk=AgentState.SINGLETON_ID, defaults={"next_run_at": NEXT, "last_cycle_at": LAST, "consecutive_failures": 2})
    return Cycle.objects.create(status="completed", action="meditate", result={"status": "ok"})


def test_the_masters_status_names_the_times_in_utc(state):
    lines = status_text().splitlines()

    assert lines[0] == "Running; next cycle 2031-01-02 03:04 UTC"
    assert lines[1] == f"Last cycle #{state.pk} (2031-01-02 02:59 UTC): completed, meditate, result ok"
    assert lines[-1] == "Consecutive failed cycles: 2"


def test_the_models_summary_says_the_same_as_a_list_with_the_time(state):
    with time_machine.travel(datetime(2031, 1, 2, 3, 0, tzinfo=timezone.utc), tick=False):
        lines = status_text(for_model=True).splitlines()

    assert lines[:3] == [
        "- Time: 2031-01-02 03:00 UTC",
        "- Proactive cycles: running; next at 2031-01-02T03:04 UTC",
        f"- Last cycle: #{state.pk} completed, meditate, result ok",
    ]
    assert lines[-1] == "- Consecutive failed cycles: 2"
    assert all(line.startswith("- ") for line in lines)


def test_with_no_next_cycle_both_say_so_without_a_time():
    assert status_text().splitlines()[0] == "Running; next cycle at the next tick"
    assert status_text(for_model=True).splitlines()[1] == "- Proactive cycles: running"
