"""The proactive tick starts a due cycle on time (issue 12): Django-Q2 ticks come about a
minute apart (up to 30 s late), so a cycle due before the next tick is waited for by the
tick that sees it. Simulated time throughout (time-machine; `clock.sleep` moves it)."""

from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from agentsite.core import clock
from agentsite.core.clock import utc_now
from decisions.agent import agent_pause, agent_schedule, agent_state_get, cycle_lock_acquire
from decisions.models import AgentState, Cycle, CycleStatus
from decisions.services import proactive_tick
from tests.factories import decision_text

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
ON_TIME = timedelta(seconds=5)


class SimulatedClock:
    """Sleeps move the frozen clock; events (other ticks, a pause) run at their time, also
    from inside a sleep, as they would on another worker."""

    def __init__(self, traveller):
        self.traveller, self.events, self.slept = traveller, [], []

    def at(self, when: datetime, fn) -> None:
        self.events.append((when, fn))
        self.events.sort(key=lambda event: event[0])

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.run_until(utc_now() + timedelta(seconds=seconds))

    def run_until(self, target: datetime) -> None:
        while self.events and self.events[0][0] <= target:
            when, fn = self.events.pop(0)
            self.traveller.move_to(max(when, utc_now()))
            fn()
        if utc_now() < target:
            self.traveller.move_to(target)


@pytest.fixture
def sim(monkeypatch):
    with time_machine.travel(START, tick=False) as traveller:
        simulated = SimulatedClock(traveller)
        monkeypatch.setattr(clock, "sleep", simulated.sleep)
        yield simulated


@pytest.fixture
def replies(claude):
    """Every cycle decides a one-minute meditation (no extra pause beyond the minimum)."""
    for _ in range(40):
        claude.reply_text(decision_text(action="meditate", duration=60, reflection_topic="time"))
    return claude


def due_in(seconds: float) -> datetime:
    agent_state_get()
    due = utc_now() + timedelta(seconds=seconds)
    agent_schedule(next_run_at=due)
    return due


def test_a_cycle_due_before_the_next_tick_starts_on_time(sim, replies):
    due = due_in(61)  # what the seed's pacing returned: one second past the next tick
    assert proactive_tick().endswith("completed")
    cycle = Cycle.objects.get()
    assert sim.slept == [61]
    assert due <= cycle.started_at <= due + ON_TIME
    assert agent_state_get().next_run_at == cycle.next_run_at > cycle.started_at  # paced from this cycle


def test_a_tick_that_finds_nothing_due_reads_one_row_and_waits_for_nothing(sim, replies, settings,
                                                                          django_assert_num_queries):
    due_in(settings.PROACTIVE_TICK_LOOKAHEAD_SECONDS + 1)
    with django_assert_num_queries(1):
        assert proactive_tick() == "not_due"
    assert sim.slept == [] and replies.requests == []


def test_without_the_lookahead_the_tick_misses_it(sim, replies, settings):
    settings.PROACTIVE_TICK_LOOKAHEAD_SECONDS = 0
    due_in(61)
    assert proactive_tick() == "not_due"
    assert sim.slept == []


def test_two_ticks_waiting_for_one_due_time_run_one_cycle(sim, replies):
    due = due_in(80)
    second = []
    sim.at(START + timedelta(seconds=60), lambda: second.append(proactive_tick()))  # the next tick, mid-wait
    first = proactive_tick()
    assert first.endswith("completed") and second == ["waited_on"]
    assert Cycle.objects.count() == 1
    assert not Cycle.objects.filter(status=CycleStatus.SKIPPED).exists()  # no "locked" noise
    assert due <= Cycle.objects.get().started_at <= due + ON_TIME


def test_a_pause_during_the_wait_is_honoured(sim, replies):
    due_in(50)
    sim.at(START + timedelta(seconds=20), agent_pause)
    assert proactive_tick() == "moved"
    assert replies.requests == [] and not Cycle.objects.exists()
    assert AgentState.objects.get().paused


def test_a_running_cycle_is_not_waited_on(sim, replies):
    due_in(30)
    cycle_lock_acquire()  # a manual cycle holds the lock; it will pace the next run itself
    assert proactive_tick() == "not_due"
    assert sim.slept == []


def test_the_waiting_tick_marks_the_due_time_and_the_cycle_clears_the_mark(sim, replies):
    due = due_in(40)
    marks = []
    sim.at(START + timedelta(seconds=10), lambda: marks.append(AgentState.objects.get().tick_waiting_for))
    sim.at(START + timedelta(seconds=20), lambda: marks.append(proactive_tick()))  # another tick, mid-wait
    assert proactive_tick().endswith("completed")
    assert marks == [due, "waited_on"]
    state = AgentState.objects.get()
    assert (state.lock_token, state.lock_expires_at, state.tick_waiting_for) == (None, None, None)


def test_a_mark_left_by_a_dead_tick_holds_the_others_off_only_briefly(sim, replies):
    due = due_in(0)
    AgentState.objects.update(tick_waiting_for=due)  # a tick marked it, then its worker died
    assert proactive_tick() == "waited_on"
    sim.run_until(due + timedelta(seconds=31))
    assert proactive_tick().endswith("completed")


def test_the_tick_that_ran_a_cycle_due_again_soon_hands_it_over(sim, replies, settings,
                                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        assert proactive_tick().endswith("completed")  # due at once; the next one in 60 s
    assert len(callbacks) == 1
    settings.PROACTIVE_MIN_INTERVAL_SECONDS = settings.PROACTIVE_TICK_LOOKAHEAD_SECONDS + 1
    due_in(0)
    with django_capture_on_commit_callbacks() as callbacks:
        assert proactive_tick().endswith("completed")
    assert callbacks == []  # due beyond the lookahead: the every-minute ticks will see it coming


def start_lags(sim, capture, *, ticks: int) -> list[float]:
    """Ticks as Django-Q2 fires them (every 60 s, 0-30 s late); each cycle's start minus the
    due time the cycle before it set."""
    jitter = [0, 22, 5, 29, 13, 2, 27, 9, 18, 30, 1, 24, 7, 16, 28, 4, 11, 25, 3, 20]

    def tick(run=proactive_tick):
        # A follow-up tick queued on commit is picked up at once, as by a free worker.
        with capture() as callbacks:
            run()
        for callback in callbacks:
            sim.at(utc_now(), lambda callback=callback: tick(callback))

    for i in range(ticks):
        sim.at(START + timedelta(seconds=60 * i + jitter[i % len(jitter)]), tick)
    sim.run_until(START + timedelta(seconds=60 * ticks + 120))
    cycles = list(Cycle.objects.exclude(status=CycleStatus.SKIPPED).order_by("started_at"))
    assert all(c.status == CycleStatus.COMPLETED for c in cycles)
    return [(b.started_at - a.next_run_at).total_seconds() for a, b in zip(cycles, cycles[1:])]


@pytest.mark.parametrize("call_seconds", [0, 8])
def test_cycles_at_the_minimum_interval_start_within_seconds_of_their_due_time(
        sim, replies, django_capture_on_commit_callbacks, monkeypatch, call_seconds):
    import decisions.services as services

    real = services.claude_complete

    def slow_call(**kwargs):  # the model call takes simulated time, so cycles drift against the ticks
        sim.traveller.shift(call_seconds)
        return real(**kwargs)

    monkeypatch.setattr(services, "claude_complete", slow_call)
    lags = start_lags(sim, django_capture_on_commit_callbacks, ticks=20)
    print(f"start lags with {call_seconds} s calls: {lags}")
    assert len(lags) >= 15  # one cycle a minute, not one every two
    assert max(lags) <= ON_TIME.total_seconds() and min(lags) >= 0


def test_the_every_minute_tick_alone_starts_them_late(sim, replies, settings, django_capture_on_commit_callbacks):
    settings.PROACTIVE_TICK_LOOKAHEAD_SECONDS = 0  # the seed's tick: the simulation can fail
    lags = start_lags(sim, django_capture_on_commit_callbacks, ticks=20)
    print(f"start lags, every-minute tick alone: {lags}")
    assert max(lags) > ON_TIME.total_seconds()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ticks_racing_for_one_due_time_start_one_cycle(claude, settings, monkeypatch):
    from tests.concurrency import run_at_once

    settings.PROACTIVE_MIN_INTERVAL_SECONDS = 600  # the next one is beyond the lookahead
    claude.reply_text(decision_text(action="meditate", duration=60, reflection_topic="time"))
    monkeypatch.setattr(clock, "sleep", lambda seconds: None)
    due_in(2)
    results = run_at_once(proactive_tick, count=4)
    assert len([r for r in results if r.startswith("cycle")]) == 1, results
    assert set(results) - {r for r in results if r.startswith("cycle")} <= {"waited_on", "not_due"}
    assert len(claude.message_requests) == 1
    assert Cycle.objects.get().status == CycleStatus.COMPLETED  # no "skipped: locked" rows
