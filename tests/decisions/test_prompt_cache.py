"""The proactive prompt as the cache sees it: a stable prefix above the configured model's
minimum (counted with the SDK's count_tokens), written once, then read by every cycle."""

import pytest

from budget.client import anthropic_client, claude_complete
from budget.models import LedgerEntry, Scope
from budget.usage import cache_min_tokens
from decisions.models import Cycle
from decisions.prompts import SYSTEM_PROMPT
from decisions.services import cycle_run
from tests.factories import decision_text
from tests.fakes.anthropic_api import COUNT_TOKENS_PATH

pytestmark = pytest.mark.django_db

TINY = [{"role": "user", "content": "."}]


def system_tokens(*, model: str, system: str) -> int:
    """The system prompt's tokens by count_tokens: with it, less without it (a lower bound
    on the cached prefix, which also holds the request's framing)."""
    messages = anthropic_client().messages
    with_system = messages.count_tokens(model=model, system=[{"type": "text", "text": system}], messages=TINY)
    without = messages.count_tokens(model=model, messages=TINY)
    return with_system.input_tokens - without.input_tokens


def test_the_stable_prefix_reaches_the_configured_models_minimum(claude, settings):
    tokens = system_tokens(model=settings.AGENT_MODEL, system=SYSTEM_PROMPT)
    assert tokens >= cache_min_tokens(model=settings.AGENT_MODEL)
    # Counted by the fake's rule (a token per 4 characters): the text is what was measured.
    assert tokens == -(-len(SYSTEM_PROMPT) // 4) + 8


def test_counting_tokens_takes_no_scripted_reply(claude, settings):
    claude.reply_text("scripted")
    assert system_tokens(model=settings.AGENT_MODEL, system="four") == 1 + 8
    assert [r.path for r in claude.requests] == [COUNT_TOKENS_PATH] * 2
    assert claude.message_requests == []
    reply = claude_complete(system="s", messages=TINY, scope=Scope.REACTIVE)
    assert reply.text == "scripted"  # still queued for the next real call


def cycle_share(cycle: Cycle) -> float:
    tokens = cycle.tokens
    return tokens["cache_read"] / (tokens["input"] + tokens["cache_creation"] + tokens["cache_read"])


def test_the_first_cycle_writes_the_cache_and_the_next_ones_read_it(claude):
    for _ in range(3):
        claude.enqueue(claude.metered_reply(decision_text(action="meditate", certainty=0.9)))
        cycle_run()
    first, *later = Cycle.objects.order_by("pk")
    bodies = [r.json for r in claude.message_requests]
    # The same bytes, marked for caching, in every request; the working memory after them.
    assert len({str(body["system"]) for body in bodies}) == 1
    assert bodies[0]["system"] == [{"type": "text", "text": SYSTEM_PROMPT, "cache_control": {"type": "ephemeral"}}]
    assert len({body["messages"][0]["content"] for body in bodies}) == 3  # memory moved on each cycle

    prefix = first.cache_creation_input_tokens
    assert prefix > 0 and first.cache_read_input_tokens == 0
    for cycle in later:
        assert (cycle.cache_creation_input_tokens, cycle.cache_read_input_tokens) == (0, prefix)
        assert cycle_share(cycle) >= 0.6
    # The ledger charges what the API reported, cache tokens included.
    entries = LedgerEntry.objects.order_by("pk")
    assert [e.cache_read_input_tokens for e in entries] == [0, prefix, prefix]


def test_the_api_shows_a_cycles_cache_tokens(claude, admin_client):
    for _ in range(2):
        claude.enqueue(claude.metered_reply(decision_text(action="meditate", certainty=0.9)))
        cycle_run()
    cycle = Cycle.objects.order_by("pk").last()
    tokens = admin_client.get(f"/api/cycles/{cycle.pk}/").json()["tokens"]
    assert tokens["cache_read"] == cycle.cache_read_input_tokens > 0
    assert tokens["cache_creation"] == 0
    page = admin_client.get(f"/admin/decisions/cycle/{cycle.pk}/change/").content.decode()
    assert "cache_read" in page and f"{cycle.cache_read_input_tokens}" in page


def test_a_prefix_below_the_minimum_is_sent_uncached(claude):
    for _ in range(2):
        claude.enqueue(claude.metered_reply())
        reply = claude_complete(system="A short system prompt.", messages=TINY, scope=Scope.REACTIVE,
                                cache_system=True)
        assert (reply.usage.cache_creation, reply.usage.cache_read) == (0, 0)
        assert reply.usage.input > 0


def test_a_changed_prefix_is_written_again(claude):
    usages = []
    for system in [SYSTEM_PROMPT, SYSTEM_PROMPT, SYSTEM_PROMPT + " "]:
        claude.enqueue(claude.metered_reply())
        usages.append(claude_complete(system=system, messages=TINY, scope=Scope.REACTIVE, cache_system=True).usage)
    assert usages[0].cache_creation > 0 and usages[0].cache_read == 0
    assert usages[1].cache_read == usages[0].cache_creation and usages[1].cache_creation == 0
    assert usages[2].cache_creation > 0 and usages[2].cache_read == 0
