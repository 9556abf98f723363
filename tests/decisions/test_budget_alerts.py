"""Budget alerts: the Master is told once per UTC day when proactive usage crosses each
threshold (tokens, and cost when a cost limit is set), by a cycle's calls or by an
approved action's own call; again the next day."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import time_machine

from budget.services import budget_reserve, budget_settle
from budget.usage import TokenUsage
from decisions.agent import agent_state_get
from decisions.approvals import approval_approve
from decisions.budget_alerts import budget_alerts_tell
from decisions.execution import approval_execute
from decisions.models import Notification, NotificationKind
from decisions.services import cycle_run
from tests.factories import decision_text
from tests.factories.actions import TaskFactory
from tests.factories.decisions import ApprovalFactory

pytestmark = pytest.mark.django_db

LIMIT = 1_000_000
DAY_1 = datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc)
SONNET = "claude-sonnet-5-5"


@pytest.fixture
def alerts(settings, budget_limit, master):
    settings.BUDGET_ALERT_THRESHOLDS = [50, 80, 95]
    settings.PROACTIVE_DAILY_COST_LIMIT_USD = None
    budget_limit(LIMIT)


def spend(tokens: int) -> None:
    """Usage charged outside any cycle (no alert of its own): the day's starting point."""
    r = budget_reserve(amount=tokens)
    budget_settle(reservation_id=r.pk, usage=TokenUsage(input=tokens), model=SONNET, reservation=r)


def a_cycle_spending(claude, tokens: int):
    agent_state_get()
    claude.reply_text(decision_text(action="meditate"), input_tokens=tokens - 20, output_tokens=20)
    return cycle_run()


def told() -> list[str]:
    return list(
        Notification.objects.filter(kind=NotificationKind.BUDGET_ALERT).order_by("id").values_list("text", flat=True)
    )


def test_crossing_a_threshold_tells_the_master_once_that_day_and_again_the_next(claude, alerts):
    with time_machine.travel(DAY_1, tick=False):
        spend(490_000)
        a_cycle_spending(claude, 20_000)  # 490k -> 510k: past 50%
        # 490k sonnet input ($3/M), then the cycle: 19,980 in, 20 out ($15/M): $1.530240
        assert told() == ["Budget: 50% of today's proactive tokens used (510k of 1M), $1.53 spent today"]
        a_cycle_spending(claude, 20_000)  # 530k: no threshold crossed
        assert len(told()) == 1
    with time_machine.travel(DAY_1 + timedelta(days=1), tick=False):
        spend(495_000)
        a_cycle_spending(claude, 10_000)
        assert len(told()) == 2 and told()[1].startswith("Budget: 50% of today's proactive tokens used (505k of 1M)")
    keys = set(Notification.objects.values_list("idempotency_key", flat=True))
    assert {"budget-alert:2026-03-10:50:1001", "budget-alert:2026-03-11:50:1001"} <= keys


def test_one_call_crossing_two_thresholds_tells_each_once(claude, alerts):
    with time_machine.travel(DAY_1, tick=False):
        spend(700_000)
        a_cycle_spending(claude, 260_000)  # 70% -> 96%: 80 and 95 (50 was passed before, untold)
    assert [text.split(" of today")[0] for text in told()] == ["Budget: 80%", "Budget: 95%"]


def test_the_action_calls_of_a_cycle_count_too(claude, alerts):
    agent_state_get()
    with time_machine.travel(DAY_1, tick=False):
        spend(790_000)
        task = TaskFactory()
        claude.reply_text(decision_text(action="work_on_task", certainty=0.9, task_id=task.pk, approach="x"))
        claude.reply_text("The deliverable.", input_tokens=15_000)  # the action's own call: 790k -> 805k
        cycle_run()
    assert told() and told()[0].startswith("Budget: 80% of today's proactive tokens used")


def test_an_approved_actions_own_call_crossing_a_threshold_tells_the_master(claude, alerts):
    with time_machine.travel(DAY_1, tick=False):
        spend(940_000)
        task = TaskFactory()
        approval = ApprovalFactory(action="work_on_task", certainty=0.5, details={"task_id": task.pk, "approach": "x"})
        claude.reply_text("Done.", input_tokens=20_000)
        approval_approve(approval_id=approval.pk, by="master", via="api")
        approval_execute(approval_id=approval.pk)
    # 940k in at $3/M, then 20k in and the fake's 20 out ($15/M): $2.880300
    assert told() == ["Budget: 95% of today's proactive tokens used (960k of 1M), $2.88 spent today"]


def test_cost_thresholds_are_told_apart_when_a_cost_limit_is_set(claude, alerts, settings):
    settings.PROACTIVE_DAILY_COST_LIMIT_USD = Decimal("10")
    with time_machine.travel(DAY_1, tick=False):
        r = budget_reserve(amount=300_000, cost=5_000_000)
        budget_settle(reservation_id=r.pk, usage=TokenUsage(output=300_000), model=SONNET, reservation=r)  # $4.50
        a_cycle_spending(claude, 100_000)  # +$0.300240 -> $4.800240: no threshold
        r = budget_reserve(amount=100_000, cost=1_500_000)
        budget_settle(reservation_id=r.pk, usage=TokenUsage(output=10_000), model=SONNET, reservation=r)  # $4.950240
        a_cycle_spending(claude, 20_000)  # +$0.060240 -> $5.010480: past 50% of the money
    cost = [t for t in told() if "cost limit" in t]
    assert cost == ["Budget: 50% of today's proactive cost limit used ($5.01 of $10.00), 430k of 1M tokens"]
    assert "budget-alert:2026-03-10:cost:50:1001" in set(Notification.objects.values_list("idempotency_key", flat=True))


def test_an_empty_threshold_list_turns_the_alerts_off(claude, alerts, settings):
    settings.BUDGET_ALERT_THRESHOLDS = []
    spend(490_000)
    a_cycle_spending(claude, 20_000)
    assert told() == []


def test_the_same_crossing_reported_twice_is_told_once(alerts):
    day = DAY_1.date()
    span = (day, (790_000, 0), (810_000, 60_000))
    assert budget_alerts_tell(spans=[span]) == ["budget-alert:2026-03-10:80"]
    budget_alerts_tell(spans=[span])  # a second worker, or a retry
    assert len(told()) == 1
    assert budget_alerts_tell(spans=[(day, (800_000, 0), (810_000, 0))]) == []  # exactly at 80% before: passed


def test_a_cycle_below_every_threshold_writes_no_alert(claude, alerts):
    spend(10_000)
    a_cycle_spending(claude, 5_000)
    assert told() == []
