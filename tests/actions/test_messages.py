"""communicate, ask_master and proactive_outreach only return effects; the engine applies them."""

import json

import pytest

from actions.handlers.communicate import HIGH_PRIORITY_MARKER
from actions.registry import Effects, MasterMessage, Outreach, Question

pytestmark = pytest.mark.django_db


def test_communicate_to_the_master_returns_one_message_effect(run):
    result = run("communicate", {"recipient": "master", "message": "Finished the report.", "priority": "low"})
    assert result.status == "ok"
    assert result.effects == Effects(messages=(MasterMessage(text="Finished the report.", priority="low"),))
    assert result.data["summary"] == "message for the Master: Finished the report."
    json.dumps(result.as_dict())


def test_communicate_defaults_to_the_master(run):
    result = run("communicate", {"message": "Hello"})
    assert result.effects.messages == (MasterMessage(text="Hello", priority="medium"),)


def test_a_high_priority_message_is_visibly_marked(run):
    result = run("communicate", {"recipient": "Master", "message": "Budget nearly gone", "priority": "high"})
    [message] = result.effects.messages
    assert message.text == HIGH_PRIORITY_MARKER + "Budget nearly gone"
    assert message.priority == "high"


def test_communicate_without_a_message_is_invalid(run):
    result = run("communicate", {"recipient": "master", "message": ""})
    assert result.status == "invalid_details" and "message" in result.data["error"]
    assert result.effects == Effects()


def test_communicate_to_someone_else_without_approval_needs_approval_and_has_no_effects(run):
    result = run("communicate", {"recipient": "12345", "message": "Hi there"}, approval_id=None)
    assert result.status == "needs_approval"
    assert result.effects == Effects()


def test_communicate_to_someone_else_with_approval_becomes_outreach(run):
    result = run("communicate", {"recipient": "-100123", "message": "Hi there"}, approval_id=3)
    assert result.status == "ok"
    assert result.effects == Effects(outreach=(Outreach(chat_id=-100123, message="Hi there", purpose=""),))
    assert result.effects.messages == ()


@pytest.mark.parametrize("recipient", ["@someone", "12a", "0", "1_000"])
@pytest.mark.parametrize("approval_id", [None, 3])
def test_communicate_to_a_recipient_that_is_not_a_chat_id_is_invalid(run, recipient, approval_id):
    result = run("communicate", {"recipient": recipient, "message": "Hi"}, approval_id=approval_id)
    assert result.status == "invalid_details"
    assert result.effects == Effects()


def test_ask_master_returns_the_question_as_an_effect(run):
    details = {"question": "Which cause first?", "context": "two asked for help", "options": ["A", " B ", ""]}
    result = run("ask_master", details)
    assert result.status == "ok"
    assert result.effects == Effects(
        questions=(Question(question="Which cause first?", context="two asked for help", options=("A", "B")),)
    )
    assert result.data["summary"] == "question for the Master: Which cause first?"
    json.dumps(result.as_dict())


def test_ask_master_without_a_question_is_invalid(run):
    assert run("ask_master", {"options": ["yes"]}).status == "invalid_details"


def test_proactive_outreach_without_approval_produces_no_effects(run):
    result = run("proactive_outreach", {"chat_id": 555, "message": "Hello", "purpose": "intro"}, approval_id=None)
    assert result.status == "needs_approval"
    assert result.effects == Effects()


def test_proactive_outreach_with_approval_returns_the_outreach(run):
    result = run("proactive_outreach", {"chat_id": 555, "message": "Hello", "purpose": "intro"}, approval_id=8)
    assert result.status == "ok"
    assert result.effects == Effects(outreach=(Outreach(chat_id=555, message="Hello", purpose="intro"),))
    json.dumps(result.as_dict())


@pytest.mark.parametrize("details", [{"message": "Hello"}, {"chat_id": "x", "message": "Hi"}, {"chat_id": 0, "message": "Hi"}])
def test_proactive_outreach_with_bad_details_is_invalid_even_when_approved(run, details):
    result = run("proactive_outreach", details, approval_id=8)
    assert result.status == "invalid_details"
    assert result.effects == Effects()


def test_an_unknown_action_is_invalid(run):
    assert run("sing", {}).status == "invalid_details"
