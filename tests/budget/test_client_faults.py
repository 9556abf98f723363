"""The metered client under faults: one hard deadline per call, retry-after honoured only
when it fits, and every answered call charged even when its reply can't be read."""

import email.utils
import logging
import time
from datetime import timedelta

import pytest

from agentsite.core import clock
from budget.client import claude_complete
from budget.errors import ClaudeCallError
from budget.models import DailyCounter, LedgerEntry, Reservation, ReservationStatus, Scope
from budget.selectors import budget_remaining
from budget.usage import estimate_input_upper_bound
from tests.fakes.anthropic_api import (
    RATE_LIMITED,
    SERVER_ERROR,
    error_reply,
    html_reply,
    message_reply,
    reply_without_usage,
)
from tests.fakes.http import Reply

pytestmark = pytest.mark.django_db

SYSTEM = "You are a test."
HELLO = [{"role": "user", "content": "hello"}]
BOUND = estimate_input_upper_bound(system=SYSTEM, messages=HELLO) + 2048  # the default max_tokens
MARGIN = 0.35  # seconds a deadline may be overrun by: scheduling, not waiting


def ask(scope=Scope.PROACTIVE, **kwargs):
    return claude_complete(system=SYSTEM, messages=HELLO, scope=scope, meta={"cycle_id": 7}, **kwargs)


def counter() -> DailyCounter:
    return DailyCounter.objects.get(scope=Scope.PROACTIVE)


def rate_limited(retry_after) -> Reply:
    return error_reply(*RATE_LIMITED, retry_after=retry_after)


# --- retry-after -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "seconds",
    [
        pytest.param(90, marks=pytest.mark.fault("Claude retry-after 90 s")),
        pytest.param(270, marks=pytest.mark.fault("Claude retry-after 270 s")),
    ],
)
def test_a_retry_after_that_fits_the_deadline_is_waited_then_retried(claude, budget_limit, simulated_time, seconds):
    budget_limit(100_000)
    claude.enqueue(rate_limited(seconds), message_reply("after the wait"))
    started = clock.monotonic()
    reply = ask()
    elapsed = clock.monotonic() - started
    assert reply.text == "after the wait"
    assert simulated_time.slept == [seconds]
    assert len(claude.message_requests) == 2
    assert seconds <= elapsed <= 300
    assert Reservation.objects.get().status == ReservationStatus.SETTLED


@pytest.mark.fault("Claude retry-after 4,000,000 s")
def test_a_retry_after_past_the_deadline_fails_at_once_and_says_how_long(claude, budget_limit, simulated_time):
    budget_limit(100_000)
    claude.enqueue(rate_limited(4_000_000))
    with pytest.raises(ClaudeCallError) as failed:
        ask()
    assert (failed.value.kind, failed.value.status_code) == ("rate_limited", 429)
    assert failed.value.retry_after_seconds == 4_000_000
    assert len(claude.message_requests) == 1 and simulated_time.slept == []
    assert Reservation.objects.get().status == ReservationStatus.RELEASED
    assert budget_remaining() == 100_000


@pytest.mark.fault("Claude retry-after 90 s")
def test_with_a_60_s_deadline_a_90_s_retry_after_fails_at_once(claude, settings, simulated_time):
    settings.AGENT_LLM_DEADLINE_SECONDS = 60
    claude.enqueue(rate_limited(90))
    with pytest.raises(ClaudeCallError) as failed:
        ask()
    assert (failed.value.kind, failed.value.retry_after_seconds) == ("rate_limited", 90)
    assert len(claude.message_requests) == 1 and simulated_time.slept == []


@pytest.mark.fault("Claude retry-after 270 s")
def test_waits_and_attempts_together_never_pass_the_deadline(claude, simulated_time):
    claude.enqueue(rate_limited(200), rate_limited(200), message_reply())
    started = clock.monotonic()
    with pytest.raises(ClaudeCallError) as failed:
        ask()
    elapsed = clock.monotonic() - started
    assert simulated_time.slept == [200]  # the second 200 s would end past 300 s: not waited
    assert len(claude.message_requests) == 2
    assert (failed.value.kind, failed.value.retry_after_seconds) == ("rate_limited", 200)
    assert 200 <= elapsed <= 300


@pytest.mark.fault("Claude 429")
def test_retry_after_may_be_an_http_date_or_milliseconds(claude, simulated_time):
    when = email.utils.format_datetime(clock.utc_now() + timedelta(seconds=120), usegmt=True)
    claude.enqueue(rate_limited(when), error_reply(*RATE_LIMITED, headers={"retry-after-ms": "2500"}), message_reply())
    ask()
    assert len(simulated_time.slept) == 2
    assert 118 <= simulated_time.slept[0] <= 120
    assert simulated_time.slept[1] == 2.5


@pytest.mark.fault("Claude 500")
def test_without_retry_after_the_client_backs_off_exponentially(claude, simulated_time):
    claude.enqueue(*[error_reply(*SERVER_ERROR, headers={}) for _ in range(2)], message_reply())
    ask()
    first, second = simulated_time.slept
    assert 0.375 <= first <= 0.5 and 0.75 <= second <= 1.0  # 0.5 s x 2^n, less up to a quarter


@pytest.mark.fault("Claude 429")
def test_retries_are_bounded_and_the_last_wait_is_carried(claude, simulated_time):
    claude.enqueue(*[rate_limited(1) for _ in range(5)])
    with pytest.raises(ClaudeCallError) as failed:
        ask()
    assert len(claude.message_requests) == 3  # AGENT_LLM_MAX_RETRIES = 2
    assert failed.value.retry_after_seconds == 1


def test_every_call_error_has_a_retry_after_attribute():
    assert ClaudeCallError(kind="timeout").retry_after_seconds is None


# --- the deadline on the wire (real time, small numbers) ---------------------------------


@pytest.mark.fault("Claude hang")
def test_a_hang_ends_at_the_deadline_not_at_the_timeout(claude, settings, budget_limit):
    budget_limit(100_000)
    settings.AGENT_LLM_DEADLINE_SECONDS = 1.0
    claude.enqueue(message_reply(delay=3.0))
    started = time.monotonic()
    with pytest.raises(ClaudeCallError) as failed:
        ask()
    elapsed = time.monotonic() - started
    assert failed.value.kind == "timeout"
    assert 0.95 <= elapsed <= 1.0 + MARGIN
    assert budget_remaining() == 100_000  # never answered: released
    assert Reservation.objects.get().status == ReservationStatus.RELEASED


@pytest.mark.fault("Claude hang")
def test_retried_timeouts_and_their_backoff_stay_within_the_deadline(claude, settings):
    settings.AGENT_LLM_DEADLINE_SECONDS = 1.2
    settings.AGENT_LLM_TIMEOUT_SECONDS = 0.3
    settings.AGENT_LLM_MAX_RETRIES = 10
    claude.default = lambda recorded: message_reply(delay=2.0)
    try:
        started = time.monotonic()
        with pytest.raises(ClaudeCallError) as failed:
            ask()
        elapsed = time.monotonic() - started
    finally:
        claude.default = lambda recorded: message_reply()
    assert failed.value.kind == "timeout"
    assert len(claude.message_requests) >= 2  # retried while time was left
    assert elapsed <= 1.2 + MARGIN


@pytest.mark.fault("Claude body dripped past the deadline")
def test_a_body_dripped_past_the_deadline_fails_as_a_timeout_at_the_deadline(claude, settings, budget_limit):
    budget_limit(100_000)
    settings.AGENT_LLM_DEADLINE_SECONDS = 1.5
    settings.AGENT_LLM_TIMEOUT_SECONDS = 5  # each chunk arrives well within it
    reply = message_reply("slow")
    reply.drip, reply.drip_chunks = 0.4, 8  # 3.2 s in all
    claude.enqueue(reply)
    started = time.monotonic()
    with pytest.raises(ClaudeCallError) as failed:
        ask()
    elapsed = time.monotonic() - started
    assert (failed.value.kind, failed.value.status_code) == ("timeout", 200)
    assert 1.4 <= elapsed <= 1.5 + MARGIN
    assert len(claude.message_requests) == 1  # answered: never sent twice
    # The API answered, so the call is paid for: its whole reservation, as an estimate.
    entry = LedgerEntry.objects.get()
    assert entry.estimated and entry.total_tokens == BOUND
    assert entry.meta == {"cycle_id": 7, "scope": "proactive", "estimate": "unreadable_reply"}
    assert Reservation.objects.get().status == ReservationStatus.ESTIMATED
    assert (counter().used, counter().reserved) == (BOUND, 0)


def test_a_body_dripped_within_the_deadline_is_read(claude, settings):
    settings.AGENT_LLM_DEADLINE_SECONDS = 1.5
    reply = message_reply("slow but in time")
    reply.drip, reply.drip_chunks = 0.05, 8
    claude.enqueue(reply)
    assert ask().text == "slow but in time"
    assert not LedgerEntry.objects.get().estimated


# --- dropped connections ------------------------------------------------------------------


@pytest.mark.fault("Claude dropped connection")
def test_a_connection_dropped_before_any_answer_is_retried(claude, budget_limit, simulated_time):
    budget_limit(100_000)
    claude.enqueue(Reply(drop=True), message_reply("second try"))
    assert ask().text == "second try"
    assert len(claude.message_requests) == 2
    assert LedgerEntry.objects.get().total_tokens == 120


@pytest.mark.fault("Claude dropped connection")
def test_a_connection_dropped_every_time_releases_the_reservation(claude, budget_limit, simulated_time):
    budget_limit(100_000)
    claude.enqueue(*[Reply(drop=True) for _ in range(3)])
    with pytest.raises(ClaudeCallError) as failed:
        ask()
    assert failed.value.kind == "connection"
    assert len(claude.message_requests) == 3 and len(simulated_time.slept) == 2  # backed off, retried
    assert budget_remaining() == 100_000 and LedgerEntry.objects.count() == 0


@pytest.mark.fault("Claude dropped connection")
def test_a_body_cut_off_after_the_answer_is_charged_as_an_estimate(claude, budget_limit):
    budget_limit(100_000)
    reply = message_reply()
    reply.cut_after = 40
    claude.enqueue(reply)
    with pytest.raises(ClaudeCallError) as failed:
        ask()
    assert failed.value.kind == "connection"
    assert len(claude.message_requests) == 1
    assert LedgerEntry.objects.get().estimated
    assert budget_remaining() == 100_000 - BOUND


# --- answered, but unreadable ------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(html_reply, marks=pytest.mark.fault("Claude reply with HTML body")),
        pytest.param(reply_without_usage, marks=pytest.mark.fault("Claude reply without usage")),
    ],
)
def test_an_answer_without_readable_usage_costs_its_whole_reservation(claude, budget_limit, caplog, reply):
    budget_limit(100_000)
    claude.enqueue(reply())
    with pytest.raises(ClaudeCallError) as failed:
        ask()
    assert (failed.value.kind, failed.value.status_code) == ("invalid_response", 200)
    assert len(claude.message_requests) == 1  # a billed answer is not asked again
    entry = LedgerEntry.objects.get()
    assert entry.estimated and (entry.input_tokens, entry.total_tokens) == (BOUND, BOUND)
    assert Reservation.objects.get().status == ReservationStatus.ESTIMATED
    assert (counter().used, counter().reserved) == (BOUND, 0)  # not held for an hour
    assert "could not be read" in caplog.text


@pytest.mark.fault("Claude reply without usage")
@pytest.mark.parametrize("usage", [{}, {"input_tokens": 5}, {"input_tokens": "5", "output_tokens": 1},
                                   {"input_tokens": -1, "output_tokens": 1}, None])
def test_usage_that_cannot_be_trusted_is_not_read_as_zero(claude, usage):
    reply = message_reply()
    reply.body["usage"] = usage
    claude.enqueue(reply)
    with pytest.raises(ClaudeCallError):
        ask()
    assert LedgerEntry.objects.get().total_tokens == BOUND


@pytest.mark.fault("Claude reply without usage")
def test_a_reactive_answer_without_usage_is_recorded_as_an_estimate(claude):
    claude.enqueue(reply_without_usage())
    with pytest.raises(ClaudeCallError):
        ask(scope=Scope.REACTIVE)
    entry = LedgerEntry.objects.get()
    assert (entry.scope, entry.estimated, entry.total_tokens) == (Scope.REACTIVE, True, BOUND)


def test_readable_usage_with_unreadable_content_is_charged_as_reported(claude):
    reply = message_reply(input_tokens=300, output_tokens=7)
    reply.body["content"] = "not a list"
    claude.enqueue(reply)
    with pytest.raises(ClaudeCallError) as failed:
        ask()
    assert failed.value.kind == "invalid_response"
    entry = LedgerEntry.objects.get()
    assert (entry.estimated, entry.total_tokens) == (False, 307)


@pytest.mark.fault("Claude usage above the reservation")
def test_usage_above_the_reservation_is_recorded_as_is_and_flagged(claude, budget_limit, caplog):
    caplog.set_level(logging.WARNING)
    budget_limit(100_000)
    claude.enqueue(message_reply(input_tokens=BOUND, output_tokens=500), message_reply())
    over = ask()
    normal = ask()
    assert over.over_reservation and not normal.over_reservation
    entry = LedgerEntry.objects.get(pk=over.ledger_entry_id)
    assert entry.over_reservation and entry.total_tokens == BOUND + 500
    assert not LedgerEntry.objects.get(pk=normal.ledger_entry_id).over_reservation
    assert counter().used == BOUND + 500 + 120
    assert "above the" in caplog.text
