"""A cycle under faults from the model's side: cut-off, ambiguous or enormous replies,
a long retry-after, and a process killed in the middle of its call."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.db import connection

from agentsite.core.clock import utc_now
from budget.models import DailyCounter, LedgerEntry, Reservation, ReservationStatus, Scope
from budget.text import STORED_TEXT_MAX_CHARS
from decisions.models import AgentState, Cycle, CycleStatus, Notification
from decisions.services import cycle_run
from tests.conftest import TEST_API_KEY
from tests.factories import decision, decision_text
from tests.fakes.anthropic_api import error_reply, message_reply

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def master(settings):
    settings.MASTER_CHAT_IDS = [1001]


def cut_off(text: str, stop_reason: str = "max_tokens"):
    reply = message_reply(text)
    reply.body["stop_reason"] = stop_reason
    return reply


CANDIDATE = decision(action="communicate", certainty=0.95, significance=0.9,
                     details={"recipient": "master", "message": "CANDIDATE-NOT-FINAL"})


@pytest.mark.fault("Claude reply cut off (max_tokens)")
def test_a_truncated_reply_holding_a_complete_candidate_is_not_executed(claude, master):
    claude.enqueue(cut_off(f"Draft: {json.dumps(CANDIDATE)}\nFinal answer: {{\"action\": \"commu"))
    run = cycle_run()
    cycle = run.cycle
    assert (cycle.status, cycle.reason, cycle.executed) == (CycleStatus.FAILED, "invalid_decision", False)
    assert "stop_reason max_tokens" in cycle.error
    assert not Notification.objects.filter(text__contains="CANDIDATE-NOT-FINAL").exists()
    assert LedgerEntry.objects.get().meta["cycle_id"] == cycle.pk  # the call is still paid for


@pytest.mark.fault("Claude reply cut off (max_tokens)")
@pytest.mark.parametrize("stop_reason", ["refusal", "pause_turn", None])
def test_only_a_reply_the_model_finished_is_a_decision(claude, master, stop_reason):
    claude.enqueue(cut_off(decision_text(action="meditate", certainty=0.9), stop_reason))
    cycle = cycle_run().cycle
    assert (cycle.status, cycle.reason) == (CycleStatus.FAILED, "invalid_decision")
    assert f"stop_reason {stop_reason or 'missing'}" in cycle.error


@pytest.mark.fault("Claude reply with two decisions")
def test_a_reply_with_a_candidate_and_a_final_decision_executes_neither(claude, master):
    claude.reply_text(f"{json.dumps(CANDIDATE)}\n{json.dumps(decision(action='meditate', certainty=0.9))}")
    cycle = cycle_run().cycle
    assert (cycle.status, cycle.reason) == (CycleStatus.FAILED, "invalid_decision")
    assert cycle.error.startswith("ambiguous reply")
    assert not Notification.objects.filter(text__contains="CANDIDATE-NOT-FINAL").exists()


@pytest.mark.fault("Claude 60 MB reply")
def test_a_60_mb_reply_is_stored_capped_and_its_pages_stay_small(claude, admin_client):
    claude.reply_text("x" * 60_000_000)
    cycle = cycle_run().cycle
    cycle.refresh_from_db()
    assert cycle.reason == "invalid_decision"
    assert len(cycle.raw_response) <= STORED_TEXT_MAX_CHARS
    assert "[truncated: 59,800,000 more characters not stored]" in cycle.raw_response
    page = admin_client.get(f"/admin/decisions/cycle/{cycle.pk}/change/")
    assert page.status_code == 200 and len(page.content) < 2 * STORED_TEXT_MAX_CHARS
    api = admin_client.get(f"/api/cycles/{cycle.pk}/")
    assert api.status_code == 200 and len(api.content) < 2 * STORED_TEXT_MAX_CHARS


@pytest.mark.fault("Claude retry-after 4,000,000 s")
def test_the_next_cycle_waits_out_a_retry_after_longer_than_the_deadline(claude):
    reply = error_reply(429, "rate_limit_error")
    reply.headers = {"retry-after": "4000000"}
    claude.enqueue(reply)
    before = utc_now()
    run = cycle_run()
    assert (run.cycle.status, run.cycle.reason) == (CycleStatus.FAILED, "rate_limited")
    assert len(claude.message_requests) == 1  # failed at once, not after a 46-day sleep
    assert run.cycle.next_run_at >= before + timedelta(seconds=4_000_000)
    assert AgentState.objects.get().next_run_at == run.cycle.next_run_at


def _counter() -> DailyCounter:
    return DailyCounter.objects.get(scope=Scope.PROACTIVE, day=utc_now().date())


@pytest.mark.fault("SIGKILL mid-call")
def test_a_killed_cycles_reservation_is_charged_at_once_as_an_estimate(claude):
    """What a SIGKILL mid-call leaves (moved timestamps): a running cycle, its lock and
    its reservation. The next cycle, once the lock has run out, charges the
    reservation as an estimate instead of holding it."""
    from budget.services import budget_reserve
    from decisions.agent import cycle_lock_acquire, cycle_lock_ttl

    dead = Cycle.objects.create(status=CycleStatus.RUNNING)
    reservation = budget_reserve(amount=5_900, meta={"cycle_id": dead.pk, "purpose": "decision"})
    cycle_lock_acquire()
    with time_machine.travel(utc_now() + cycle_lock_ttl() + timedelta(seconds=1), tick=False):
        claude.reply_text(decision_text())
        run = cycle_run()
    dead.refresh_from_db()
    reservation.refresh_from_db()
    assert (dead.status, dead.reason) == (CycleStatus.FAILED, "abandoned")
    assert reservation.status != ReservationStatus.ACTIVE
    charge = LedgerEntry.objects.get(meta__cycle_id=dead.pk)
    assert charge.estimated and charge.total_tokens == 5_900
    assert run.cycle.status == CycleStatus.COMPLETED
    assert _counter().reserved == 0


@pytest.mark.postgres
@pytest.mark.fault("SIGKILL mid-call")
@pytest.mark.django_db(transaction=True)
def test_sigkill_of_a_run_cycle_process_mid_call(claude):
    """A real `manage.py run_cycle` process, killed while its model call is in flight."""
    claude.enqueue(message_reply(decision_text(), delay=30))
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "agentsite.settings.dev",
           "ANTHROPIC_API_KEY": TEST_API_KEY, "ANTHROPIC_BASE_URL": claude.url, "TELEGRAM_BOT_TOKEN": "",
           "MASTER_CHAT_IDS": ""}
    process = subprocess.Popen([sys.executable, "manage.py", "run_cycle"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not claude.message_requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert claude.message_requests, "the cycle never called the model"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    reservation = Reservation.objects.get(status=ReservationStatus.ACTIVE)
    dead = Cycle.objects.get(status=CycleStatus.RUNNING)
    assert reservation.meta["cycle_id"] == dead.pk

    from decisions.agent import cycle_lock_ttl

    with time_machine.travel(utc_now() + cycle_lock_ttl() + timedelta(seconds=1), tick=False):
        claude.reset()
        claude.reply_text(decision_text())
        cycle_run()
    dead.refresh_from_db()
    assert dead.reason == "abandoned"
    assert LedgerEntry.objects.get(meta__cycle_id=dead.pk).estimated
    assert _counter().reserved == 0


@pytest.mark.fault("Claude usage above the reservation")
def test_usage_above_the_reservation_is_recorded_and_told_once_a_day(claude, master):
    for _ in range(2):
        claude.reply_text(decision_text(), input_tokens=1_000_000)
        cycle_run()
    entries = LedgerEntry.objects.all()
    assert [e.input_tokens for e in entries] == [1_000_000, 1_000_000]
    assert all(e.over_reservation for e in entries)
    notices = Notification.objects.filter(text__startswith="Budget notice: a model call used 1,000,020 tokens")
    assert notices.count() == 1 and notices.get().chat_id == 1001


def _work_on_a_task() -> str:
    from tests.actions.factories import make_task

    task = make_task()
    return decision_text(action="work_on_task", certainty=0.9, task_id=task.pk, approach="short")


@pytest.mark.fault("Claude usage above the reservation")
def test_usage_above_the_reservation_of_the_actions_own_call_is_told_too(claude, master):
    """The cycle's second call (work_on_task's) reports more than it reserved: the Master
    hears of it as of the decision's own call."""
    claude.reply_text(_work_on_a_task())
    claude.reply_text("The deliverable.", input_tokens=1_000_000)
    run = cycle_run()
    assert run.cycle.status == CycleStatus.COMPLETED and run.cycle.result["status"] == "ok"
    over = LedgerEntry.objects.get(over_reservation=True)
    assert over.meta["action"] == "work_on_task"
    notices = Notification.objects.filter(text__startswith="Budget notice: a model call used 1,000,020 tokens")
    assert notices.count() == 1 and notices.get().chat_id == 1001


@pytest.mark.fault("Claude retry-after 4,000,000 s")
def test_the_next_cycle_waits_out_a_retry_after_met_by_the_actions_own_call(claude):
    claude.reply_text(_work_on_a_task())
    reply = error_reply(429, "rate_limit_error")
    reply.headers = {"retry-after": "4000000"}
    claude.enqueue(reply)
    before = utc_now()
    run = cycle_run()
    assert run.cycle.status == CycleStatus.COMPLETED and run.cycle.result["status"] == "failed"
    assert len(claude.message_requests) == 2  # the action's call failed at once
    assert run.cycle.next_run_at >= before + timedelta(seconds=4_000_000)
    assert AgentState.objects.get().next_run_at == run.cycle.next_run_at
