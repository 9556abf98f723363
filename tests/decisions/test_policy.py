"""The Master's per-action policy: the service and selector, its version and the process's
cached copy, the routing rule with its hard floors, and the system prompt built from it."""

import pytest

from actions.schemas import ACTIONS
from decisions.agent import agent_state_get
from decisions.models import ActionPolicy, AgentState
from decisions.parsing import ProactiveDecision, is_disabled, needs_approval
from decisions.policy import (
    PolicyInvalid, UnknownAction, action_policy_get, action_policy_read, action_policy_set, policy_current,
    policy_for_version,
)
from decisions.prompts import SYSTEM_PROMPT, PromptContext, prompt_build
from decisions.rules import DEFAULT_POLICY, ActionRule, PolicyMode
from tests.factories import decision

pytestmark = pytest.mark.django_db


def make(action: str, certainty: float = 0.9, **details) -> ProactiveDecision:
    return ProactiveDecision.model_validate(decision(action, certainty=certainty, **details))


# --- the service and the selector -----------------------------------------------------------


def test_every_action_has_an_effective_policy_the_default_without_a_row():
    policies = action_policy_read()
    assert [p.action for p in policies] == list(ACTIONS)
    assert all((p.mode, p.min_certainty, p.approval_timeout_seconds, p.is_default) == ("act_at", 0.8, None, True)
               for p in policies)
    assert ActionPolicy.objects.count() == 0  # reading writes nothing


def test_set_stores_the_policy_who_and_a_new_version():
    assert agent_state_get().policy_version is None
    policy = action_policy_set(action="work_on_task", mode="act_at", min_certainty=0.6,
                               approval_timeout_seconds=900, by="master", via="api")
    assert (policy.mode, policy.min_certainty, policy.approval_timeout_seconds) == ("act_at", 0.6, 900)
    assert policy.updated_by == "master (api)" and not policy.is_default
    first = AgentState.objects.get().policy_version
    assert first is not None
    action_policy_set(action="work_on_task", mode="ask_always", by="master", via="admin")
    again = action_policy_get(action="work_on_task")
    assert (again.mode, again.min_certainty, again.approval_timeout_seconds) == ("ask_always", 0.8, None)
    assert AgentState.objects.get().policy_version not in (None, first)
    assert ActionPolicy.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"mode": "sometimes"}, "unknown mode 'sometimes'"),
        ({"mode": "act_at", "min_certainty": 1.5}, "min_certainty must be a number from 0 to 1"),
        ({"mode": "act_at", "min_certainty": -0.1}, "min_certainty must be a number from 0 to 1"),
        ({"mode": "act_at", "min_certainty": float("nan")}, "min_certainty must be a number from 0 to 1"),
        ({"mode": "act_at", "min_certainty": True}, "min_certainty must be a number from 0 to 1"),
        ({"mode": "act_at", "approval_timeout_seconds": 0}, "approval_timeout_seconds must be a whole number"),
        ({"mode": "act_at", "approval_timeout_seconds": 10**9}, "approval_timeout_seconds must be a whole number"),
        ({"mode": "act_at", "approval_timeout_seconds": 60.5}, "approval_timeout_seconds must be a whole number"),
    ],
)
def test_bad_values_are_refused_clearly_and_change_nothing(fields, message):
    with pytest.raises(PolicyInvalid, match=message):
        action_policy_set(action="meditate", by="m", **fields)
    assert ActionPolicy.objects.count() == 0
    assert not AgentState.objects.exists() or AgentState.objects.get().policy_version is None


def test_an_unknown_action_is_not_found_and_names_the_actions():
    with pytest.raises(UnknownAction, match="unknown action 'dance'.*develop_skill"):
        action_policy_set(action="dance", mode="act_at", by="m")
    with pytest.raises(UnknownAction):
        action_policy_get(action="dance")


def test_the_cached_policy_is_read_again_only_when_the_version_changes(django_assert_num_queries):
    action_policy_set(action="meditate", mode="ask_always", by="m")
    version = AgentState.objects.get().policy_version
    with django_assert_num_queries(1):
        policy = policy_for_version(version)
    with django_assert_num_queries(0):
        assert policy_for_version(version) is policy
        assert policy_for_version(None) == DEFAULT_POLICY  # never set: the defaults, no read
    assert policy.rule("meditate").mode == PolicyMode.ASK_ALWAYS
    action_policy_set(action="meditate", mode="disabled", by="m")
    assert policy_current().rule("meditate").mode == PolicyMode.DISABLED


def test_a_policy_set_back_to_the_default_is_the_default_policy():
    action_policy_set(action="meditate", mode="ask_always", by="m")
    action_policy_set(action="meditate", mode="act_at", by="m")
    assert policy_current() == DEFAULT_POLICY


# --- routing: the policy, and the floors no policy lowers ------------------------------------


@pytest.mark.parametrize(
    ("action", "certainty", "rule", "asks"),
    [
        ("develop_skill", 0.95, ActionRule(mode="ask_always"), True),
        ("develop_skill", 0.6, ActionRule(min_certainty=0.5), False),
        ("develop_skill", 0.4, ActionRule(min_certainty=0.5), True),
        ("develop_skill", 0.5, ActionRule(min_certainty=0.5), False),  # "at or above"
        ("develop_skill", 0.85, ActionRule(min_certainty=0.9), True),
        ("proactive_outreach", 1.0, ActionRule(min_certainty=0.0), True),  # floor
        ("ask_master", 0.1, ActionRule(mode="ask_always"), False),  # the asking never waits
        ("communicate", 1.0, ActionRule(min_certainty=0.0), False),  # to the Master
        ("communicate", 0.3, ActionRule(min_certainty=0.5), True),
    ],
)
def test_needs_approval_follows_the_rule(action, certainty, rule, asks):
    assert needs_approval(make(action, certainty=certainty), rule) is asks


def test_communicate_to_anyone_but_the_master_always_asks():
    stranger = make("communicate", certainty=1.0, recipient="4242", message="hi", priority="low")
    assert needs_approval(stranger, ActionRule(min_certainty=0.0)) is True


def test_disabled_is_disabled_for_every_action_ask_master_too():
    assert is_disabled(make("ask_master"), ActionRule(mode="disabled"))
    assert not is_disabled(make("ask_master"), ActionRule())


# --- the system prompt -------------------------------------------------------------------------


def test_the_prompt_tells_the_policy_and_stays_byte_identical_while_it_holds():
    from datetime import UTC, datetime

    now = datetime(2024, 12, 17, 10, 5, tzinfo=UTC)
    assert prompt_build(context=PromptContext(now=now)).system == SYSTEM_PROMPT  # the default: the constant
    action_policy_set(action="develop_skill", mode="ask_always", by="m")
    action_policy_set(action="work_on_task", mode="act_at", min_certainty=0.55, approval_timeout_seconds=1800, by="m")
    action_policy_set(action="meditate", mode="disabled", by="m")
    first = prompt_build(context=PromptContext(now=now, policy=policy_current())).system
    later = prompt_build(context=PromptContext(now=now.replace(hour=17), focus="x", policy=policy_current())).system
    assert first.encode() == later.encode() and first != SYSTEM_PROMPT
    assert "- develop_skill: always asks the Master first." in first
    assert "- work_on_task: act alone at certainty >= 0.55, else ask. Its approvals wait 1,800 s." in first
    assert "- meditate: disabled. Never choose it." in first
    assert "Messages to anyone other than the Master" in first  # the floors are still said


def test_the_floors_are_shown_after_the_masters_rules():
    action_policy_set(action="proactive_outreach", mode="act_at", min_certainty=0.0, by="m")
    system = prompt_build(context=PromptContext(now=None, policy=policy_current())).system
    rules = system.index("- proactive_outreach: act alone at certainty >= 0")
    assert system.index("And always:") > rules
    assert system.index("proactive_outreach, or communicate to another recipient) always wait") > rules
