"""The operator's commands: run_cycle, agent, approvals, setup_schedules."""

import io
import json

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from agentsite.schedules import SCHEDULES
from budget.models import LedgerEntry
from decisions.approvals import approval_ask
from decisions.models import AgentState, Cycle, Notification
from tests.factories import decision_text
from tests.factories.decisions import ApprovalFactory
from tests.fakes.anthropic_api import OVERLOADED

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue(), err.getvalue()


def last_json(text: str):
    return json.loads(text.strip().splitlines()[-1])


def test_run_cycle_json_describes_a_completed_cycle(claude):
    claude.reply_text(decision_text(action="meditate", certainty=0.9, significance=0.1))
    code, out, _ = run("run_cycle", "--json")
    result = last_json(out)
    assert code == 0
    assert set(result) == {"cycle_id", "status", "reason", "action", "certainty", "significance", "executed",
                           "approval_id", "tokens", "next_run_in_seconds", "cost_usd"}
    assert (result["status"], result["reason"], result["action"], result["executed"]) == ("completed", None, "meditate", True)
    assert result["tokens"] == {"input": 100, "output": 20, "cache_creation": 0, "cache_read": 0}
    assert result["cost_usd"] == "0.000600"  # 100 x $3/M + 20 x $15/M (the fake's claude-sonnet-5-5)
    assert result["next_run_in_seconds"] >= 60


def test_run_cycle_awaiting_approval_exits_zero_with_the_approval(claude):
    claude.reply_text(decision_text(certainty=0.3))
    code, out, _ = run("run_cycle", "--json")
    result = last_json(out)
    assert code == 0 and result["status"] == "awaiting_approval" and result["approval_id"]


def test_run_cycle_failed_exits_one(claude):
    claude.fail(OVERLOADED, times=3)
    code, out, _ = run("run_cycle", "--json")
    assert code == 1 and last_json(out)["reason"] == "overloaded"


def test_run_cycle_without_credentials_exits_two_naming_the_variables(fake_anthropic):
    code, out, err = run("run_cycle", "--json")
    assert code == 2
    assert "ANTHROPIC_API_KEY" in err and "CLAUDE_CODE_OAUTH_TOKEN" in err
    assert last_json(out)["reason"] == "no_credentials"


def test_dry_run_prints_the_prompt_and_touches_nothing(fake_anthropic):
    code, out, _ = run("run_cycle", "--dry-run")
    assert code == 0
    assert "=== system ===" in out and "Atmano moksartha jagat hitaya ca" in out and "=== size:" in out
    assert Cycle.objects.count() == 0 and LedgerEntry.objects.count() == 0
    assert fake_anthropic.requests == []


def test_agent_pause_resume_status():
    assert "paused" in run("agent", "pause")[1]
    assert AgentState.objects.get().paused is True
    code, out, _ = run("agent", "resume", "--json")
    assert json.loads(out)["paused"] is False


def test_approvals_cli_lists_and_decides(settings, django_capture_on_commit_callbacks):
    settings.MASTER_CHAT_IDS = [1]
    first = ApprovalFactory(certainty=0.4)
    question = approval_ask(question="Tea?", cycle=None)
    code, out, _ = run("approvals", "list", "--status", "pending", "--json")
    assert {a["id"] for a in last_json(out)} == {first.pk, question.pk}
    with django_capture_on_commit_callbacks(execute=True):
        code, out, _ = run("approvals", "approve", str(first.pk), "--note", "go", "--json")
    assert code == 0 and last_json(out)["status"] == "approved"  # execution is queued
    first.refresh_from_db()
    assert first.status == "executed"
    code, out, _ = run("approvals", "answer", str(question.pk), "yes please", "--json")
    assert code == 0 and last_json(out)["answer"] == "yes please"


def test_approvals_cli_refuses_a_second_decision_and_unknown_ids(settings):
    settings.MASTER_CHAT_IDS = [1]
    approval = ApprovalFactory(certainty=0.4)
    assert run("approvals", "reject", str(approval.pk))[0] == 0
    code, _, err = run("approvals", "approve", str(approval.pk))
    assert code == 1 and "already rejected" in err
    code, _, err = run("approvals", "reject", "9999")
    assert code == 1 and "does not exist" in err


def test_setup_schedules_is_idempotent_and_announces(settings):
    settings.MASTER_CHAT_IDS = [1]
    run("setup_schedules", "--announce")
    run("setup_schedules")
    assert Schedule.objects.count() == len(SCHEDULES)
    tick = Schedule.objects.get(name="agentsite: proactive tick")
    assert (tick.func, tick.schedule_type, tick.minutes) == ("decisions.tasks.proactive_tick_task", "I", 1)
    assert Notification.objects.filter(kind="startup").count() == 1


def test_approvals_list_says_what_each_approval_asks(settings):
    settings.MASTER_CHAT_IDS = [1]
    outreach = ApprovalFactory(action="communicate", details={"recipient": "team", "message": "Ship it " * 30})
    question = approval_ask(question="Which task first?", cycle=None)
    code, out, _ = run("approvals", "list")
    lines = {int(line.split()[0][1:]): line for line in out.splitlines()}
    assert code == 0 and len(lines) == 2
    assert lines[outreach.pk].startswith(f"#{outreach.pk} communicate [pending] Ship it Ship it")
    said = lines[outreach.pk].split("] ", 1)[1]
    assert said.endswith("…") and len(said) == 80  # the message, truncated
    assert lines[question.pk] == f"#{question.pk} question [pending] Which task first?"


def test_every_json_output_is_only_json(settings):
    settings.MASTER_CHAT_IDS = [1]
    approval = ApprovalFactory(certainty=0.4)
    for args in (("approvals", "list", "--json"), ("approvals", "reject", str(approval.pk), "--json"),
                 ("agent", "status", "--json")):
        code, out, _ = run(*args)
        assert code == 0
        json.loads(out)  # the whole output parses: no text line before or after
