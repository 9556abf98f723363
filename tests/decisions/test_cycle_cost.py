"""A cycle's figures are those of every call it made (the decision's and its action's own),
in tokens and in money; the daily cost limit skips a cycle as budget_exhausted."""

import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from budget.models import LedgerEntry
from budget.services import budget_reserve, budget_settle
from budget.usage import TokenUsage
from decisions.agent import agent_state_get
from decisions.models import Cycle, CycleStatus, Notification, NotificationKind
from decisions.services import cycle_run
from tests.factories import decision_text
from tests.factories.actions import TaskFactory

pytestmark = pytest.mark.django_db

SONNET_MICROS = {"input": 3, "output": 15, "cache_creation": Decimal("3.75"), "cache_read": Decimal("0.3")}


def work_on_a_task(claude) -> None:
    """The decision (work_on_task) and the action's own call, with different usage."""
    task = TaskFactory()
    claude.reply_text(
        decision_text(action="work_on_task", certainty=0.9, task_id=task.pk, approach="short"),
        input_tokens=1_200, output_tokens=520, cache_read=4_000,
    )
    claude.reply_text("The deliverable.", input_tokens=600, output_tokens=160, cache_creation=300)


def assert_the_sum_of_both_calls(cycle: Cycle) -> None:
    rows = list(LedgerEntry.objects.filter(meta__cycle_id=cycle.pk))
    assert len(rows) == 2
    assert cycle.tokens == {"input": 1_800, "output": 680, "cache_creation": 300, "cache_read": 4_000}
    assert sum(cycle.tokens.values()) == sum(r.total_tokens for r in rows) == 6_780
    assert cycle.cost_micros == sum(r.cost_micros for r in rows)
    assert cycle.cost_micros == 1_800 * 3 + 680 * 15 + 300 * Decimal("3.75") + 4_000 * Decimal("0.3")


@pytest.mark.parametrize("path", ["lean", "guarded"])
def test_a_work_on_task_cycle_counts_both_of_its_calls(claude, path):
    if path == "lean":
        agent_state_get()  # the state row exists: the lean path's one read finds it
    work_on_a_task(claude)
    run = cycle_run()
    assert run.cycle.status == CycleStatus.COMPLETED and run.cycle.result["status"] == "ok"
    assert len(claude.message_requests) == 2
    assert_the_sum_of_both_calls(Cycle.objects.get(pk=run.cycle.pk))


def test_the_api_and_run_cycle_json_show_every_call(claude, admin_client):
    agent_state_get()
    work_on_a_task(claude)
    out = io.StringIO()
    call_command("run_cycle", "--json", stdout=out)
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    cycle = Cycle.objects.get(pk=result["cycle_id"])
    assert_the_sum_of_both_calls(cycle)
    assert result["tokens"] == cycle.tokens and result["cost_usd"] == "0.017925"
    listed = admin_client.get("/api/cycles/").json()["results"][0]
    detail = admin_client.get(f"/api/cycles/{cycle.pk}/").json()
    for body in (listed, detail):
        assert body["tokens"] == cycle.tokens and body["cost_usd"] == "0.017925"
    page = admin_client.get(f"/admin/decisions/cycle/{cycle.pk}/change/").content.decode()
    assert "6780" in page.replace(",", "") and "$0.0179" in page


def test_a_failed_action_call_still_counts_what_the_decision_spent(claude):
    agent_state_get()
    task = TaskFactory()
    claude.reply_text(decision_text(action="work_on_task", certainty=0.9, task_id=task.pk, approach="x"))
    claude.fail((400, "invalid_request_error"))
    run = cycle_run()
    assert run.cycle.result["status"] == "failed"
    cycle = Cycle.objects.get(pk=run.cycle.pk)
    assert cycle.tokens == {"input": 100, "output": 20, "cache_creation": 0, "cache_read": 0}
    assert cycle.cost_micros == 600 == LedgerEntry.objects.get().cost_micros


@pytest.mark.parametrize("path", ["lean", "guarded"])
def test_the_cost_limit_reached_skips_the_cycle_as_budget_exhausted(claude, settings, budget_limit, master, path):
    budget_limit(100_000_000)
    settings.PROACTIVE_DAILY_COST_LIMIT_USD = Decimal("0.10")
    if path == "lean":
        agent_state_get()
    r = budget_reserve(amount=10_000, cost=99_000)
    budget_settle(reservation_id=r.pk, usage=TokenUsage(output=6_000), model="claude-sonnet-5-5", reservation=r)
    claude.reply_text(decision_text())
    run = cycle_run()
    assert (run.cycle.status, run.cycle.reason) == (CycleStatus.SKIPPED, "budget_exhausted")
    assert claude.message_requests == []  # nothing sent
    told = Notification.objects.get(kind=NotificationKind.BUDGET_EXHAUSTED)
    assert "$0.0900 of $0.1000 spent" in told.text
    cycle_run()
    assert Notification.objects.filter(kind=NotificationKind.BUDGET_EXHAUSTED).count() == 1  # once a day


def test_without_a_cost_limit_the_same_spend_runs_the_cycle(claude, settings, budget_limit):
    budget_limit(100_000_000)
    settings.PROACTIVE_DAILY_COST_LIMIT_USD = None
    agent_state_get()
    r = budget_reserve(amount=10_000)
    budget_settle(reservation_id=r.pk, usage=TokenUsage(output=6_000), model="claude-sonnet-5-5", reservation=r)
    claude.reply_text(decision_text())
    assert cycle_run().cycle.status == CycleStatus.COMPLETED


def test_pacing_paces_by_the_cost_limit_when_it_binds(settings, budget_limit):
    from decisions.selectors import cycle_view_read, pacing_day_spend, pacing_day_spend_after

    budget_limit(1_000_000)
    agent_state_get()
    r = budget_reserve(amount=20_000, cost=300_000)
    budget_settle(reservation_id=r.pk, usage=TokenUsage(output=20_000), model="claude-sonnet-5-5", reservation=r)
    settings.PROACTIVE_DAILY_COST_LIMIT_USD = None
    assert (pacing_day_spend().used, pacing_day_spend().usage_ratio) == (20_000, 0.02)  # tokens: 2%
    settings.PROACTIVE_DAILY_COST_LIMIT_USD = Decimal("1")
    day = pacing_day_spend()
    assert (day.spent, day.used, day.usage_ratio) == (300_000, 300_000, 0.3)  # $0.30 of $1: 30%
    after = pacing_day_spend_after(view=cycle_view_read(), spent_since=1_000, cost_since=15_000)
    assert (after.spent, after.used) == (315_000, 315_000)
    settings.PROACTIVE_DAILY_COST_LIMIT_USD = Decimal("1000")  # the token limit binds again
    assert pacing_day_spend().used == 20_000
