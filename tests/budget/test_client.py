import logging

import pytest

from budget.client import anthropic_client, claude_complete
from budget.errors import BudgetExceeded, ClaudeCallError, ClaudeNotConfigured
from budget.models import LedgerEntry, Reservation, ReservationStatus, Scope
from budget.selectors import budget_remaining, budget_usage
from tests.conftest import TEST_API_KEY, TEST_OAUTH_TOKEN
from tests.fakes.anthropic_api import OVERLOADED, RATE_LIMITED, SERVER_ERROR, UNAUTHORIZED, message_reply
from tests.fakes.http import Reply

pytestmark = pytest.mark.django_db

HELLO = [{"role": "user", "content": "hello"}]


def ask(scope=Scope.PROACTIVE, **kwargs):
    return claude_complete(system="You are a test.", messages=HELLO, scope=scope, meta={"cycle_id": 7}, **kwargs)


def test_a_proactive_call_is_sent_metered_and_recorded(claude, budget_limit):
    budget_limit(100_000)
    claude.enqueue(message_reply("hi there", input_tokens=120, output_tokens=30, cache_creation=400, cache_read=9))
    reply = ask()
    assert reply.text == "hi there"
    assert reply.usage.total == 559
    sent = claude.message_requests[0]
    assert TEST_API_KEY in (sent.headers.get("x-api-key"), sent.headers.get("authorization", "").removeprefix("Bearer "))
    assert sent.json["messages"] == HELLO
    assert sent.json["max_tokens"] == 2048
    entry = LedgerEntry.objects.get()
    assert entry.scope == Scope.PROACTIVE
    assert (entry.input_tokens, entry.output_tokens) == (120, 30)
    assert (entry.cache_creation_input_tokens, entry.cache_read_input_tokens) == (400, 9)
    assert entry.request_id == reply.request_id and entry.request_id.startswith("req_fake_")
    assert entry.meta == {"cycle_id": 7, "scope": "proactive"}
    assert budget_remaining() == 100_000 - 559
    assert Reservation.objects.get().status == ReservationStatus.SETTLED


def test_the_system_prompt_can_be_marked_cacheable(claude):
    ask(cache_system=True, temperature=0.2)
    body = claude.message_requests[0].json
    assert body["system"] == [{"type": "text", "text": "You are a test.", "cache_control": {"type": "ephemeral"}}]
    assert body["temperature"] == 0.2


def test_a_call_the_budget_cannot_cover_is_refused_before_sending(claude, budget_limit):
    budget_limit(1_000)  # less than max_tokens alone
    with pytest.raises(BudgetExceeded):
        ask()
    assert claude.requests == []
    assert LedgerEntry.objects.count() == 0 and Reservation.objects.count() == 0


def test_reactive_calls_are_recorded_but_not_limited(claude, budget_limit):
    budget_limit(1_000)
    claude.enqueue(message_reply("sure", input_tokens=5_000, output_tokens=10))
    ask(scope=Scope.REACTIVE)
    assert budget_usage(scope=Scope.REACTIVE) == 5_010
    assert Reservation.objects.count() == 0


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        pytest.param(OVERLOADED, "overloaded", marks=pytest.mark.fault("Claude 529")),
        pytest.param(SERVER_ERROR, "server_error", marks=pytest.mark.fault("Claude 500")),
        pytest.param(RATE_LIMITED, "rate_limited", marks=pytest.mark.fault("Claude 429")),
        pytest.param(UNAUTHORIZED, "authentication", marks=pytest.mark.fault("Claude 401")),
    ],
)
def test_api_errors_are_typed_and_release_the_reservation(claude, budget_limit, failure, kind):
    budget_limit(100_000)
    claude.fail(failure, times=3)  # the first try and both retries
    with pytest.raises(ClaudeCallError) as failed:
        ask()
    assert failed.value.kind == kind
    assert failed.value.retry_after_seconds == 0.001  # the wait the fake names: 1 ms
    assert str(failed.value) == f"Claude API call failed ({kind}, HTTP {failure[0]})"
    assert budget_remaining() == 100_000
    assert Reservation.objects.get().status == ReservationStatus.RELEASED
    assert LedgerEntry.objects.count() == 0


@pytest.mark.fault("Claude 529")
def test_transient_errors_are_retried(claude, budget_limit):
    budget_limit(100_000)
    claude.fail(OVERLOADED, times=2)
    reply = ask()
    assert reply.text == "ok"
    assert len(claude.message_requests) == 3
    assert LedgerEntry.objects.count() == 1


@pytest.mark.fault("Claude 401")
def test_authentication_errors_are_not_retried(claude):
    claude.fail(UNAUTHORIZED, times=3)
    with pytest.raises(ClaudeCallError):
        ask()
    assert len(claude.message_requests) == 1


@pytest.mark.fault("Claude hang")
def test_a_timeout_is_a_clear_error(claude, settings, budget_limit):
    budget_limit(100_000)
    settings.AGENT_LLM_TIMEOUT_SECONDS = 0.2
    settings.AGENT_LLM_MAX_RETRIES = 0
    claude.enqueue(Reply(body={}, delay=1.0))
    with pytest.raises(ClaudeCallError) as failed:
        ask()
    assert failed.value.kind == "timeout"
    assert budget_remaining() == 100_000


def test_no_credentials_is_a_configuration_error_naming_both_variables(settings, fake_anthropic):
    settings.ANTHROPIC_API_KEY = ""
    settings.CLAUDE_CODE_OAUTH_TOKEN = ""
    with pytest.raises(ClaudeNotConfigured) as error:
        ask()
    assert "ANTHROPIC_API_KEY" in str(error.value) and "CLAUDE_CODE_OAUTH_TOKEN" in str(error.value)
    assert Reservation.objects.count() == 0


def test_the_oauth_token_is_sent_as_a_bearer_token(claude, settings):
    settings.ANTHROPIC_API_KEY = ""
    settings.CLAUDE_CODE_OAUTH_TOKEN = TEST_OAUTH_TOKEN
    ask()
    headers = claude.message_requests[0].headers
    assert headers["authorization"] == f"Bearer {TEST_OAUTH_TOKEN}"
    assert "oauth" in headers["anthropic-beta"]


def test_the_client_is_built_once_and_rebuilt_when_settings_change(claude, settings):
    first = anthropic_client()
    assert anthropic_client() is first
    settings.AGENT_LLM_MAX_RETRIES = 0
    assert anthropic_client() is not first


@pytest.mark.fault("Claude 401")
def test_failures_never_put_the_key_in_logs_or_errors(claude, caplog, settings):
    caplog.set_level(logging.DEBUG)
    claude.fail(UNAUTHORIZED)
    with pytest.raises(ClaudeCallError) as failed:
        ask()
    assert TEST_API_KEY not in str(failed.value)
    assert TEST_API_KEY not in caplog.text
