"""The decision parser under hostile and random input: it never raises, never answers
from its last-resort net, and refuses what a naive parser would crawl over."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions.schemas import ACTIONS
from decisions.parsing import (
    DecisionParse,
    ProactiveDecision,
    decision_parse,
)

BOUNDED = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(result: DecisionParse) -> None:
    assert isinstance(result, DecisionParse)
    if result.ok:
        assert result.error is None and isinstance(result.decision, ProactiveDecision)
    else:
        assert result.decision is None and isinstance(result.error, str) and result.error
        # The parser's last-resort net must never be what answered: that would be a crash.
        assert not result.error.startswith("unparseable reply")


@pytest.mark.fault("Claude reply that is not a valid decision")
@BOUNDED
@given(st.text())
def test_arbitrary_text_never_raises(text):
    check(decision_parse(text))


@pytest.mark.fault("Claude reply that is not a valid decision")
@BOUNDED
@given(st.text(alphabet='{}[]":,.0123456789eE-+ntrufalsNIiy\\ `\nactionjso', max_size=300))
def test_json_like_noise_never_raises(text):
    check(decision_parse(text))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
decisionish = st.fixed_dictionaries(
    {},
    optional={
        "action": st.sampled_from(ACTIONS) | st.text(max_size=15) | json_values,
        "reasoning": st.text(max_size=50) | json_values,
        "certainty": st.floats() | json_values,
        "significance": st.floats() | json_values,
        "type": st.sampled_from(["internal", "external"]) | json_values,
        "details": st.dictionaries(st.sampled_from(["skill_name", "task_id", "message", "question", "chat_id",
                                                    "duration", "options", "recipient", "priority"]),
                                   json_values, max_size=5) | json_values,
    },
)


@pytest.mark.fault("Claude reply that is not a valid decision")
@BOUNDED
@given(prefix=st.text(max_size=40), value=decisionish | st.dictionaries(st.text(max_size=10), json_values),
       suffix=st.text(max_size=40), fenced=st.booleans())
def test_arbitrary_objects_in_prose_never_raise(prefix, value, suffix, fenced):
    body = json.dumps(value)
    check(decision_parse(f"{prefix}\n```json\n{body}\n```\n{suffix}" if fenced else f"{prefix} {body} {suffix}"))


prose = st.text(st.characters(blacklist_characters="{}`"), max_size=60)
words = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40).filter(str.strip)
details_for = {
    "develop_skill": st.fixed_dictionaries({"skill_name": words.map(lambda s: s.strip()[:200]),
                                            "duration_estimate": st.integers(0, 1440)}),
    "work_on_task": st.fixed_dictionaries({"task_id": st.integers(1, 10**9)}),
    "communicate": st.fixed_dictionaries({"message": words.map(str.strip),
                                          "priority": st.sampled_from(["low", "medium", "high"])}),
    "meditate": st.fixed_dictionaries({"duration": st.integers(1, 600)}),
    "ask_master": st.fixed_dictionaries({"question": words.map(str.strip)}),
    "proactive_outreach": st.fixed_dictionaries({"chat_id": st.integers(-10**12, 10**12),
                                                 "message": words.map(str.strip)}),
}
valid_decisions = st.sampled_from(ACTIONS).flatmap(lambda action: st.fixed_dictionaries({
    "action": st.just(action),
    "reasoning": words.map(str.strip),
    "certainty": st.floats(0, 1),
    "significance": st.floats(0, 1),
    "type": st.sampled_from(["internal", "external"]),
    "details": details_for[action],
}))


@BOUNDED
@given(value=valid_decisions, before=prose, after=prose, fenced=st.booleans())
def test_valid_decisions_round_trip(value, before, after, fenced):
    body = json.dumps(value, ensure_ascii=False)
    text = f"{before}\n```json\n{body}\n```\n{after}" if fenced else f"{before} {body} {after}"
    result = decision_parse(text)
    assert result.ok, result.error
    assert result.decision == ProactiveDecision.model_validate(value)
    assert result.decision.model_dump(exclude={"details"}) == {k: v for k, v in value.items() if k != "details"}


# Replies built to make a naive parser crawl or crash. How fast each is refused is printed
# by bench/parse_adversarial.py (a figure, not a timed assertion).
ADVERSARIAL = [
    "{" * 200_000,
    '{"a":' * 60_000,
    '{"a": "' + "x" * 200_000,
    ('{"action": "x", "reasoning": ' * 5_000),
    "```json\n" * 20_000,
    ("```\n{\n```\n" * 10_000),
    "[" * 100_000 + "{",
]


@pytest.mark.fault("Claude reply that is not a valid decision")
@pytest.mark.parametrize("text", ADVERSARIAL)
def test_adversarial_input_is_refused_with_a_reason(text):
    result = decision_parse(text)
    check(result)
    assert not result.ok
