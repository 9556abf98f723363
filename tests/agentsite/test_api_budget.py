"""GET /api/budget/, /api/ledger/, /api/cycles/: the budget and the audit trail."""

from datetime import timedelta

import pytest

from agentsite.core.clock import utc_today
from budget.models import LedgerEntry, Scope
from budget.services import budget_reserve, budget_settle, ledger_record
from budget.usage import TokenUsage
from decisions.models import Cycle, CycleStatus

pytestmark = pytest.mark.django_db


def test_budget_is_the_stats_payload_plus_two_weeks_of_history(api, budget_limit):
    budget_limit(1_000_000)
    r = budget_reserve(amount=5_000)
    budget_settle(reservation_id=r.pk, usage=TokenUsage(input=1_000, output=500), model="m")
    ledger_record(scope=Scope.REACTIVE, usage=TokenUsage(input=70), model="m")
    body = api.get("/api/budget/").json()
    assert body["date"] == utc_today().isoformat()
    assert body["token_usage_today"] == {"proactive": 1_500, "reactive": 70}
    assert body["proactive"] == {
        "limit": 1_000_000, "used": 1_500, "reserved": 0, "remaining": 998_500,
        "usage_ratio": 0.0015, "level": "ok",
        # "m" is no known model: priced as the dearest (opus: $15/M in, $75/M out).
        "cost_used_usd": "0.052500", "cost_reserved_usd": "0.000000", "cost_limit_usd": None,
        "cost_remaining_usd": None, "cost_usage_ratio": None,
    }
    history = body["history"]
    assert len(history) == 14
    assert history[-1] == {"date": utc_today().isoformat(), "proactive": 1_500, "reactive": 70}
    assert history[0]["date"] == (utc_today() - timedelta(days=13)).isoformat()


def test_the_budget_matches_the_public_stats(api, client):
    stats = client.get("/stats").json()
    body = api.get("/api/budget/").json()
    assert {k: body[k] for k in ("date", "token_usage_today", "proactive")} == {
        k: stats[k] for k in ("date", "token_usage_today", "proactive")
    }


@pytest.fixture
def ledger():
    ledger_record(scope=Scope.REACTIVE, usage=TokenUsage(input=10, output=5, cache_read=3), model="claude-a")
    ledger_record(scope=Scope.REACTIVE, usage=TokenUsage(input=20), model="claude-b")
    old = ledger_record(scope=Scope.REACTIVE, usage=TokenUsage(input=30), model="claude-a")
    LedgerEntry.objects.filter(pk=old.pk).update(day=utc_today() - timedelta(days=3))
    r = budget_reserve(amount=1_000)
    budget_settle(reservation_id=r.pk, usage=TokenUsage(input=100, output=50), model="claude-a")


def test_the_ledger_lists_calls_newest_first_with_token_categories(api, ledger):
    body = api.get("/api/ledger/").json()
    assert body["count"] == 4 and body["next"] is None and body["previous"] is None
    newest = body["results"][0]
    assert (newest["scope"], newest["model"], newest["input_tokens"], newest["output_tokens"]) == (
        "proactive", "claude-a", 100, 50,
    )
    assert newest["total_tokens"] == 150
    assert set(newest) == {
        "id", "scope", "day", "provider", "model", "input_tokens", "output_tokens",
        "cache_creation_input_tokens", "cache_read_input_tokens", "total_tokens", "request_id",
        "meta", "estimated", "over_reservation", "created_at", "cost_usd",
    }
    assert newest["cost_usd"] == "0.005250"  # 100 x $15/M + 50 x $75/M ("claude-a" is unknown: the dearest)
    assert (newest["estimated"], newest["over_reservation"]) == (False, False)


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ("scope=reactive", 3),
        ("scope=proactive", 1),
        ("model=claude-a", 3),
        ("model=claude-a&scope=reactive", 2),
        (f"day={utc_today().isoformat()}", 3),
        (f"day={(utc_today() - timedelta(days=3)).isoformat()}", 1),
        ("model=nobody", 0),
    ],
)
def test_the_ledger_filters(api, ledger, query, count):
    assert api.get(f"/api/ledger/?{query}").json()["count"] == count


@pytest.mark.parametrize(
    ("query", "field"),
    [("scope=sideways", "scope"), ("day=yesterday", "day"), ("day=2026-02-30", "day"), ("model=" + "m" * 101, "model")],
)
def test_bad_ledger_filters_are_400(api, query, field):
    response = api.get(f"/api/ledger/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and field in body["errors"]


def test_unknown_filters_are_400(api):
    response = api.get("/api/ledger/?scopes=reactive")
    assert response.status_code == 400
    assert response.json()["errors"] == {"scopes": ["Unknown field."]}


def test_lists_are_paginated_by_50(api):
    for i in range(52):
        ledger_record(scope=Scope.REACTIVE, usage=TokenUsage(input=i + 1), model="m")
    first = api.get("/api/ledger/").json()
    assert first["count"] == 52 and len(first["results"]) == 50 and first["next"].endswith("page=2")
    second = api.get("/api/ledger/?page=2").json()
    assert len(second["results"]) == 2
    assert api.get("/api/ledger/?page=3").status_code == 404
    assert api.get("/api/ledger/?page=abc").json()["code"] == "not_found"


def make_cycle(**fields) -> Cycle:
    defaults = {
        "status": CycleStatus.COMPLETED, "trigger": "schedule", "action": "meditate",
        "prompt": "You are the agent…", "raw_response": "```json {…} ```",
        "decision": {"action": "meditate"}, "result": {"status": "ok"}, "certainty": 0.9,
        "significance": 0.2, "executed": True, "input_tokens": 1_000, "output_tokens": 200,
        "cache_read_input_tokens": 5_000, "duration_ms": 1_234,
    }
    return Cycle.objects.create(**{**defaults, **fields})


def test_cycles_list_outlines_newest_first(api):
    older = make_cycle()
    newer = make_cycle(status=CycleStatus.SKIPPED, reason="paused", action="", executed=False)
    body = api.get("/api/cycles/").json()
    assert [c["id"] for c in body["results"]] == [newer.pk, older.pk]
    outline = body["results"][1]
    assert outline["tokens"] == {"input": 1_000, "output": 200, "cache_creation": 0, "cache_read": 5_000}
    assert "prompt" not in outline and "raw_response" not in outline


@pytest.mark.parametrize(("query", "count"), [("status=skipped", 1), ("action=meditate", 1), ("status=failed", 0)])
def test_cycles_filter_by_status_and_action(api, query, count):
    make_cycle()
    make_cycle(status=CycleStatus.SKIPPED, reason="paused", action="")
    assert api.get(f"/api/cycles/?{query}").json()["count"] == count


def test_a_bad_cycle_status_filter_is_400(api):
    response = api.get("/api/cycles/?status=sleeping")
    assert response.status_code == 400
    assert "status" in response.json()["errors"]


def test_a_cycle_detail_shows_prompt_response_decision_result_tokens_timings(api):
    cycle = make_cycle()
    body = api.get(f"/api/cycles/{cycle.pk}/").json()
    assert body["prompt"] == "You are the agent…" and body["raw_response"] == "```json {…} ```"
    assert body["decision"] == {"action": "meditate"} and body["result"] == {"status": "ok"}
    assert body["tokens"]["cache_read"] == 5_000
    assert body["timings"]["duration_ms"] == 1_234
    assert set(body["timings"]) == {"started_at", "finished_at", "duration_ms", "next_run_at"}


def test_an_unknown_cycle_is_404(api):
    response = api.get("/api/cycles/999/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Cycle #999 does not exist", "code": "not_found"}
