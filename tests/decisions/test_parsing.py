import json

import pytest

from actions.schemas import ACTIONS, MEDITATION_MAX_SECONDS
from decisions.parsing import (
    CERTAINTY_THRESHOLD,
    SIGNIFICANCE_THRESHOLD,
    DecisionParse,
    ProactiveDecision,
    decision_parse,
    needs_approval,
    should_notify,
)

VALID_DETAILS = {
    "develop_skill": {"skill_name": "summarising", "approach": "practice", "duration_estimate": 30},
    "work_on_task": {"task_id": 7, "approach": "outline first"},
    "communicate": {"recipient": "master", "message": "Done with task 7.", "priority": "high"},
    "meditate": {"duration": 120, "reflection_topic": "patience"},
    "ask_master": {"question": "Shall I start task 8?", "context": "it is large", "options": ["yes", "no"]},
    "proactive_outreach": {"chat_id": 12345, "message": "Hello!", "purpose": "offer help"},
}


def decision(action="meditate", **overrides) -> dict:
    value = {
        "action": action,
        "reasoning": "Because it helps.",
        "certainty": 0.9,
        "significance": 0.3,
        "type": "internal",
        "details": dict(VALID_DETAILS[action]),
    }
    value.update(overrides)
    return value


def parse(value) -> DecisionParse:
    return decision_parse(value if isinstance(value, str) else json.dumps(value))


def error_of(value) -> str:
    result = parse(value)
    assert not result.ok and result.decision is None
    assert isinstance(result.error, str) and result.error
    return result.error


@pytest.mark.parametrize("action", ACTIONS)
def test_a_valid_decision_for_each_action(action):
    result = parse(decision(action))
    assert result.ok and result.error is None
    assert result.decision.action == action
    assert result.decision.details.items() >= {
        k: v for k, v in VALID_DETAILS[action].items()
    }.items()


def test_details_are_stored_normalised():
    got = parse(decision("communicate", details={"message": "  hi  "})).decision
    assert got.details == {"recipient": "master", "message": "hi", "priority": "medium"}


def test_unknown_top_level_keys_are_ignored():
    assert parse(decision(mood="sunny", extra={"a": 1})).ok


def test_action_and_type_are_normalised():
    got = parse(decision(action="meditate", type=" Internal ") | {"action": " MEDITATE "}).decision
    assert (got.action, got.type) == ("meditate", "internal")


def test_json_inside_prose():
    text = f"I have thought about it.\nHere is my choice: {json.dumps(decision('develop_skill'))} Thanks!"
    assert parse(text).decision.action == "develop_skill"


@pytest.mark.parametrize("fence", ["```json", "```JSON", "```"])
def test_json_in_a_fenced_block(fence):
    text = f"My decision:\n{fence}\n{json.dumps(decision('ask_master'), indent=2)}\n```\nDone."
    assert parse(text).decision.action == "ask_master"


@pytest.mark.fault("Claude reply with two decisions")
def test_an_example_in_prose_beside_a_fenced_decision_is_ambiguous():
    text = (f"An example would be {json.dumps(decision('develop_skill'))}.\n"
            f"```json\n{json.dumps(decision('meditate'))}\n```")
    assert error_of(text) == "ambiguous reply: it holds 2 different decision objects; none was taken"


def test_picks_the_decision_among_several_objects():
    text = f'Context {{"note": 1}} and {{"budget": {{"used": 3}}}} then {json.dumps(decision("work_on_task"))}'
    assert parse(text).decision.action == "work_on_task"


@pytest.mark.fault("Claude reply with two decisions")
def test_two_different_decisions_are_ambiguous_not_first_wins():
    text = json.dumps(decision("meditate")) + "\n" + json.dumps(decision("develop_skill"))
    assert error_of(text).startswith("ambiguous reply: it holds 2 different decision objects")


def test_the_same_decision_repeated_counts_once():
    body = json.dumps(decision("meditate"))
    text = f"```json\n{body}\n```\nTo repeat: {body}"
    assert parse(text).decision.action == "meditate"


def test_a_candidate_then_the_final_decision_is_ambiguous():
    candidate = decision("communicate", details={"recipient": "master", "message": "CANDIDATE-NOT-FINAL"})
    text = f"Draft: {json.dumps(candidate)}\nFinal: {json.dumps(decision('meditate'))}"
    assert error_of(text).startswith("ambiguous reply")


def test_a_second_decision_past_the_scan_limit_makes_it_ambiguous():
    text = json.dumps(decision()) + " " * 100_000 + json.dumps(decision("develop_skill"))
    assert error_of(text).startswith("ambiguous reply: too long or too tangled")


def test_a_decision_with_anything_past_the_scan_limit_is_not_trusted():
    # A reply cut to 200,000 characters by the client ends in a marker, not the rest.
    text = json.dumps(decision()) + " " * 100_000 + "\n…[truncated: 9,000,000 more characters not stored]"
    assert error_of(text).startswith("ambiguous reply: too long or too tangled")


def test_a_decision_followed_by_mere_whitespace_past_the_scan_limit_is_fine():
    assert parse(json.dumps(decision()) + " " * 100_000).decision.action == "meditate"


def test_a_decision_behind_too_many_candidates_is_not_trusted():
    text = json.dumps(decision()) + " {x" * 300 + json.dumps(decision("develop_skill"))
    assert error_of(text).startswith("ambiguous reply: too long or too tangled")


def test_skips_broken_objects_before_the_decision():
    text = '{"action": oops} {not json} ' + json.dumps(decision("communicate"))
    assert parse(text).decision.action == "communicate"


@pytest.mark.parametrize("text", ["", "   ", "I will meditate now.", "[1, 2, 3]", '"just a string"', "{", "}{"])
def test_no_json_object(text):
    assert error_of(text) == "no JSON object found"


def test_broken_json():
    assert error_of('{"action": "meditate", "reasoning": ') == "no JSON object found"


@pytest.mark.parametrize("junk", [None, 42, b'{"action": "meditate"}', ["x"], {"action": "meditate"}])
def test_non_text_never_raises(junk):
    result = decision_parse(junk)
    assert not result.ok and result.error


def test_an_object_without_action_gets_a_precise_error():
    value = decision()
    del value["action"]
    assert error_of(value).startswith("invalid decision: action: Field required")


def test_unknown_action():
    assert error_of(decision() | {"action": "dance"}) == "unknown action 'dance'"


def test_unknown_action_is_shortened():
    assert len(error_of(decision() | {"action": "dance" * 1000})) < 80


def test_non_string_action():
    assert error_of(decision() | {"action": 5}).startswith("invalid decision: action:")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "certainty: Input should be less than or equal to 1"),
        (-0.1, "certainty: Input should be greater than or equal to 0"),
        ("high", "certainty: Input should be a valid number"),
        ("0.9", "certainty: Input should be a valid number"),
        (True, "certainty: Input should be a valid number"),
        (None, "certainty: Input should be a valid number"),
    ],
)
def test_invalid_certainty(value, message):
    assert error_of(decision(certainty=value)) == f"invalid decision: {message}"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_scores_are_rejected(literal):
    text = json.dumps(decision(significance=0.5)).replace('"significance": 0.5', f'"significance": {literal}')
    assert error_of(text) == "invalid decision: significance: Input should be a finite number"


def test_integer_scores_are_fine():
    got = parse(decision(certainty=1, significance=0)).decision
    assert (got.certainty, got.significance) == (1.0, 0.0)


@pytest.mark.parametrize("reasoning", [None, "", "   ", 42])
def test_reasoning_is_required_text(reasoning):
    assert "reasoning" in error_of(decision(reasoning=reasoning))


def test_missing_reasoning():
    value = decision()
    del value["reasoning"]
    assert error_of(value) == "invalid decision: reasoning: Field required"


def test_long_reasoning_is_clipped():
    assert len(parse(decision(reasoning="r" * 10_000)).decision.reasoning) == 4_000


@pytest.mark.parametrize("kind", ["both", "", None, 1])
def test_wrong_type(kind):
    assert error_of(decision(type=kind)).startswith("invalid decision: type:")


def test_details_must_be_an_object():
    assert error_of(decision(details=["x"])).startswith("invalid decision: details:")


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ("develop_skill", "skill_name"),
        ("work_on_task", "task_id"),
        ("communicate", "message"),
        ("ask_master", "question"),
        ("proactive_outreach", "chat_id"),
        ("proactive_outreach", "message"),
    ],
)
def test_missing_required_details(action, field):
    details = dict(VALID_DETAILS[action])
    del details[field]
    assert error_of(decision(action, details=details)) == f"invalid decision: details.{field}: Field required"


def test_details_errors_are_listed_together():
    error = error_of(decision("proactive_outreach", details={}))
    assert error == "invalid decision: details.chat_id: Field required; details.message: Field required"


def test_bad_details_value():
    assert error_of(decision("work_on_task", details={"task_id": 0})).startswith(
        "invalid decision: details.task_id: Input should be greater than or equal to 1")


def test_many_errors_are_summarised():
    error = error_of({"action": "meditate", "certainty": 9, "significance": 9, "type": "x"})
    assert error.count(";") == 2 and error.endswith("(+1 more)")


def test_meditate_defaults_and_cap():
    assert parse(decision("meditate", details={})).decision.details["duration"] == 60
    value = decision("meditate")
    del value["details"]
    assert parse(value).decision.details["duration"] == 60
    assert parse(decision("meditate", details=None)).decision.details["duration"] == 60
    assert parse(decision("meditate", details={"duration": 9_999})).decision.details["duration"] == MEDITATION_MAX_SECONDS


def test_typed_details():
    got = parse(decision("communicate")).decision
    assert got.details_model.to_master


# --- approval and notification rules -----------------------------------------------

def make(action="meditate", certainty=0.9, significance=0.3, details=None) -> ProactiveDecision:
    return ProactiveDecision.model_validate(
        decision(action, certainty=certainty, significance=significance,
                 details=VALID_DETAILS[action] if details is None else details))


def test_thresholds():
    assert CERTAINTY_THRESHOLD == 0.8 and SIGNIFICANCE_THRESHOLD == 0.8


@pytest.mark.parametrize(
    ("action", "certainty", "details", "expected"),
    [
        ("meditate", 0.8, None, False),
        ("meditate", 0.79, None, True),
        ("meditate", 0.0, None, True),
        ("develop_skill", 1.0, None, False),
        ("develop_skill", 0.5, None, True),
        ("work_on_task", 0.8, None, False),
        ("work_on_task", 0.79, None, True),
        ("communicate", 0.8, {"recipient": "master", "message": "hi"}, False),
        ("communicate", 0.9, {"recipient": "Master", "message": "hi"}, False),
        ("communicate", 0.9, {"message": "hi"}, False),
        ("communicate", 0.79, {"recipient": "master", "message": "hi"}, True),
        ("communicate", 1.0, {"recipient": "12345", "message": "hi"}, True),
        ("proactive_outreach", 1.0, None, True),
        ("proactive_outreach", 0.5, None, True),
        ("ask_master", 0.1, None, False),
        ("ask_master", 1.0, None, False),
    ],
)
def test_needs_approval(action, certainty, details, expected):
    assert needs_approval(make(action, certainty=certainty, details=details)) is expected


@pytest.mark.parametrize(("significance", "expected"), [(0.0, False), (0.79, False), (0.8, True), (1.0, True)])
def test_should_notify(significance, expected):
    assert should_notify(make(significance=significance)) is expected


def test_a_decision_after_the_scan_limit_is_not_found():
    text = " " * 100_000 + json.dumps(decision())
    assert error_of(text) == "no JSON object found"
