import pytest
from django.db import DatabaseError

from budget.models import Scope
from budget.services import budget_reserve, budget_settle, ledger_record
from budget.usage import TokenUsage

pytestmark = pytest.mark.django_db


def test_health_without_credentials_is_degraded_but_up(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded", "database": "connected", "llm": "not_configured", "telegram": "not_configured",
        "scheduler": {"paused": False, "next_cycle_at": None, "last_cycle_at": None},
    }


def test_health_with_everything_configured(client, claude, settings):
    settings.TELEGRAM_BOT_TOKEN = "123:TEST-token"
    body = client.get("/health").json()
    assert body["status"] == "healthy"
    assert (body["llm"], body["telegram"]) == ("configured", "configured")


def test_health_is_503_when_the_database_is_unreachable(client, monkeypatch):
    from agentsite import views

    class Broken:
        def __enter__(self):
            raise DatabaseError("connection refused")

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(views.connection, "cursor", lambda: Broken())
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["database"] == "error"


def test_stats_reports_usage_by_scope_and_the_proactive_budget(client, budget_limit):
    budget_limit(1_000_000)
    r = budget_reserve(amount=5_000)
    budget_settle(reservation_id=r.pk, usage=TokenUsage(input=1_000, output=500), model="m")
    budget_reserve(amount=2_000)
    ledger_record(scope=Scope.REACTIVE, usage=TokenUsage(input=70), model="m")
    body = client.get("/stats").json()
    assert body["token_usage_today"] == {"proactive": 1_500, "reactive": 70}
    assert body["proactive"] == {
        "limit": 1_000_000, "used": 1_500, "reserved": 2_000, "remaining": 996_500,
        "usage_ratio": 0.0015, "level": "ok",
        "cost_used_usd": "0.052500", "cost_reserved_usd": "0.000000", "cost_limit_usd": None,
        "cost_remaining_usd": None, "cost_usage_ratio": None,
    }
    assert body["cost_usd"]["today"] == {"proactive": "0.052500", "reactive": "0.001050", "total": "0.053550"}
    assert len(body["date"]) == 10
    assert body["cycles_today"] == 0 and body["next_cycle_at"] is None


def test_endpoints_are_read_only(client):
    assert client.post("/stats").status_code == 405
    assert client.post("/health").status_code == 405


def test_the_site_root_leads_to_the_agent_dashboard(client, admin_client):
    assert client.get("/")["Location"] == "/admin/agent/"
    page = client.get("/", follow=True)  # anonymous: the admin's login, then back to the dashboard
    assert page.redirect_chain[-1][0].startswith("/admin/login/?next=/admin/agent/")
    assert admin_client.get("/", follow=True).redirect_chain == [("/admin/agent/", 302)]


def test_the_api_root_lists_every_endpoint(client):
    body = client.get("/api/").json()
    assert body["tasks"] == "http://testserver/api/tasks/" and body["docs"] == "http://testserver/api/docs/"
    assert set(body) == {"agent", "approvals", "budget", "cycles", "ledger", "memory", "skills", "tasks",
                         "schedules", "schema", "docs", "policies"}
    for url in body.values():  # each one answers (staff-only ones ask for credentials)
        assert client.get(url.removeprefix("http://testserver")).status_code in (200, 401, 403)
