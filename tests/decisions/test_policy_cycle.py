"""The per-action policy in a real cycle, through the anthropic SDK against the loopback fake:
it routes the decision, the prompt tells it, a disabled action fails the cycle with a
reason the next prompt holds, and an unchanged policy costs the cycle no query."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from decisions.agent import agent_state_get
from decisions.models import Approval, CycleStatus, Notification
from decisions.policy import action_policy_set
from decisions.prompts import SYSTEM_PROMPT
from decisions.services import cycle_run
from memory.models import MemoryEntry, MemoryKind
from tests.factories import decision, decision_text

pytestmark = pytest.mark.django_db


def system_sent(claude, n: int = -1) -> str:
    return claude.message_requests[n].json["system"][0]["text"]


def user_sent(claude, n: int = -1) -> str:
    return claude.message_requests[n].json["messages"][0]["content"]


def test_ask_always_makes_a_sure_decision_wait(claude, master):
    action_policy_set(action="develop_skill", mode="ask_always", by="master")
    claude.reply_text(decision_text(action="develop_skill", certainty=0.95))
    run = cycle_run()
    assert run.cycle.status == CycleStatus.AWAITING_APPROVAL
    assert Approval.objects.get().action == "develop_skill"
    assert len(claude.message_requests) == 1  # nothing was practised
    assert "- develop_skill: always asks the Master first." in system_sent(claude)


def test_act_at_a_lower_certainty_lets_the_decision_act(claude, master):
    action_policy_set(action="meditate", mode="act_at", min_certainty=0.5, by="master")
    claude.reply_text(decision_text(action="meditate", certainty=0.6))
    run = cycle_run()
    assert (run.cycle.status, run.cycle.executed) == (CycleStatus.COMPLETED, True)
    assert not Approval.objects.exists()


def test_act_at_a_higher_certainty_asks_where_the_default_would_act(claude, master):
    action_policy_set(action="meditate", mode="act_at", min_certainty=0.95, by="master")
    claude.reply_text(decision_text(action="meditate", certainty=0.9))
    assert cycle_run().cycle.status == CycleStatus.AWAITING_APPROVAL


def test_outreach_still_asks_at_act_at_zero(claude, master):
    action_policy_set(action="proactive_outreach", mode="act_at", min_certainty=0.0, by="master")
    claude.reply_json(decision(action="proactive_outreach", certainty=1.0))
    run = cycle_run()
    assert run.cycle.status == CycleStatus.AWAITING_APPROVAL
    assert not Notification.objects.exclude(chat_id=1001).exists()  # nothing went to the stranger


def test_a_disabled_action_fails_the_cycle_and_the_next_prompt_says_why(claude, master):
    agent_state_get()
    action_policy_set(action="proactive_outreach", mode="disabled", by="master")
    claude.reply_json(decision(action="proactive_outreach", certainty=1.0))
    run = cycle_run()
    cycle = run.cycle
    assert (cycle.status, cycle.reason, cycle.executed) == (CycleStatus.FAILED, "action_disabled", False)
    assert "proactive_outreach is disabled by the Master; choose another action" in cycle.error
    assert not Approval.objects.exists() and not Notification.objects.exists()
    assert "- proactive_outreach: disabled. Never choose it." in system_sent(claude)

    claude.reply_text(decision_text(action="meditate", certainty=0.9))
    second = cycle_run()
    assert second.cycle.status == CycleStatus.COMPLETED
    answers = user_sent(claude).split("## Answers and guidance since the last cycle\n", 1)[1]
    assert "proactive_outreach is disabled by the Master; choose another action" in answers
    assert MemoryEntry.objects.filter(kind=MemoryKind.OUTCOME, cycle_id=cycle.pk).exists()


def test_a_disabled_ask_master_fails_like_any_other(claude, master):
    action_policy_set(action="ask_master", mode="disabled", by="master")
    claude.reply_json(decision(action="ask_master", certainty=0.9))
    run = cycle_run()
    assert (run.cycle.status, run.cycle.reason) == (CycleStatus.FAILED, "action_disabled")
    assert not Approval.objects.exists()


def test_the_action_timeout_sets_the_approval_deadline(claude, master, settings):
    settings.APPROVAL_TIMEOUT_SECONDS = 3600
    action_policy_set(action="develop_skill", mode="ask_always", approval_timeout_seconds=600, by="master")
    claude.reply_text(decision_text(action="develop_skill", certainty=0.9))
    cycle_run()
    approval = Approval.objects.get()
    assert abs((approval.expires_at - approval.created_at) - timedelta(seconds=600)) < timedelta(seconds=2)
    assert "Its approvals wait 600 s." in system_sent(claude)


def test_a_question_waits_for_the_ask_master_timeout(claude, master):
    action_policy_set(action="ask_master", mode="act_at", approval_timeout_seconds=120, by="master")
    claude.reply_json(decision(action="ask_master", certainty=0.9))
    cycle_run()
    question = Approval.objects.get(kind="question")
    assert abs((question.expires_at - question.created_at) - timedelta(seconds=120)) < timedelta(seconds=2)


def test_the_system_prompt_is_the_same_bytes_every_cycle_while_the_policy_holds(claude, master):
    agent_state_get()
    for _ in range(2):
        claude.reply_text(decision_text(action="meditate", certainty=0.9))
        cycle_run()
    assert system_sent(claude, 0) == system_sent(claude, 1) == SYSTEM_PROMPT
    action_policy_set(action="work_on_task", mode="ask_always", by="master")
    for _ in range(2):
        claude.reply_text(decision_text(action="meditate", certainty=0.9))
        cycle_run()
    assert system_sent(claude, 2).encode() == system_sent(claude, 3).encode() != SYSTEM_PROMPT.encode()
    body = claude.message_requests[3].json
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}


def _cycle_statements(claude) -> list[str]:
    claude.reply_text(decision_text(action="meditate", certainty=0.9))
    with CaptureQueriesContext(connection) as queries:
        assert cycle_run().cycle.status == CycleStatus.COMPLETED
    return [q["sql"] for q in queries.captured_queries]


def test_an_unchanged_policy_costs_the_lean_cycle_no_statement(claude, master):
    agent_state_get()
    _cycle_statements(claude)  # warm: the compiled reads
    default = _cycle_statements(claude)
    action_policy_set(action="meditate", mode="act_at", min_certainty=0.5, by="master")
    changed = _cycle_statements(claude)  # the version moved: the policy is read once
    assert len(changed) == len(default) + 1
    assert any("decisions_actionpolicy" in sql for sql in changed)
    held = _cycle_statements(claude)
    assert len(held) == len(default)
    assert not any("decisions_actionpolicy" in sql for sql in held)


def test_a_bad_policy_row_in_the_prompt_is_not_possible_through_the_api_of_the_model():
    # The database refuses what the service refuses (a row written around it).
    from django.db import IntegrityError, transaction

    from decisions.models import ActionPolicy

    for bad in ({"min_certainty": 1.5}, {"approval_timeout_seconds": 0}, {"mode": "sometimes"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            ActionPolicy.objects.create(action="meditate", **bad)
    assert json.dumps(list(ActionPolicy.objects.values())) == "[]"
