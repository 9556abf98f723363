"""The agent dashboard: its pure SVG builders, its hourly selector, and the page itself
(rendering, the level colour, the pause/resume button, CSRF)."""

import re
from datetime import date, datetime, timedelta, timezone

import pytest
import time_machine
from django.test import Client

from agentsite.dashboard import (
    cumulative,
    dashboard_hourly_usage,
    history_bars_svg,
    level_for_ratio,
    nice_ticks,
    tokens_short,
    usage_line_svg,
)
from budget.models import DailyCounter, LedgerEntry, Scope
from budget.services import ledger_record
from budget.usage import TokenUsage
from decisions.approvals import approval_request_decision
from decisions.models import AgentState
from tests.factories import decision

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=timezone.utc)
DASHBOARD = "/admin/agent/"
TOGGLE = "/admin/agent/pause-resume/"


def rect_heights(svg: str, cls: str) -> dict[str, float]:
    """{data-date: height} of the bars of one class."""
    found = {}
    for tag in re.findall(r"<rect [^>]*>", svg):
        if f"{cls} " in tag or f'{cls}"' in tag:
            day = re.search(r'data-date="([^"]*)"', tag).group(1)
            found[day] = float(re.search(r'height="([\d.]+)"', tag).group(1))
    return found


# --- pure builders ---------------------------------------------------------------------


def test_history_bar_heights_are_proportional_to_the_tokens():
    days = [
        {"date": "2026-03-01", "proactive": 1000, "reactive": 0},
        {"date": "2026-03-02", "proactive": 3000, "reactive": 500},
        {"date": "2026-03-03", "proactive": 0, "reactive": 0},
    ]
    svg = history_bars_svg(days=days, limit=4000)
    heights = rect_heights(svg, "bar-proactive")
    assert heights["2026-03-02"] == pytest.approx(3 * heights["2026-03-01"], rel=0.01)
    assert heights["2026-03-03"] == 0
    reactive = rect_heights(svg, "bar-reactive")
    assert list(reactive) == ["2026-03-02"]
    assert reactive["2026-03-02"] == pytest.approx(heights["2026-03-01"] / 2, rel=0.01)
    assert 'class="threshold threshold-limit" data-tokens="4000"' in svg
    assert svg.startswith("<svg") and svg.endswith("</svg>")


def test_history_bars_are_coloured_by_the_level_the_day_reached():
    days = [{"date": f"2026-03-0{i}", "proactive": p, "reactive": 0} for i, p in
            enumerate([100, 850, 960, 1000], start=1)]
    svg = history_bars_svg(days=days, limit=1000)
    for level in ("level-ok", "level-warning", "level-critical", "level-exhausted"):
        assert level in svg


def test_history_with_no_days_renders_a_message():
    svg = history_bars_svg(days=[], limit=1000)
    assert "No usage recorded yet" in svg and "<rect" not in svg


def test_history_bars_fit_when_a_day_exceeds_the_limit():
    svg = history_bars_svg(days=[{"date": "2026-03-01", "proactive": 5000, "reactive": 5000}], limit=1000)
    for tag in re.findall(r"<rect [^>]*>", svg):
        assert float(re.search(r' y="(-?[\d.]+)"', tag).group(1)) >= 0


def test_usage_chart_draws_the_four_threshold_lines_at_their_fractions():
    svg = usage_line_svg(hourly=[100] * 10, limit=10_000, now_hours=10)
    lines = dict(re.findall(r'class="threshold threshold-(\w+)" data-tokens="(\d+)"', svg))
    assert lines == {"half": "5000", "warning": "8000", "critical": "9500", "limit": "10000"}
    y = {cls: float(re.search(rf'threshold-{cls}"[^>]* y1="([\d.]+)"', svg).group(1)) for cls in lines}
    assert y["limit"] < y["critical"] < y["warning"] < y["half"]  # higher tokens, higher up
    assert "50%" in svg and "80% warning" in svg and "95% critical" in svg and "limit 10k" in svg


def test_usage_line_is_cumulative_and_stops_at_now():
    hourly = [0] * 24
    hourly[1], hourly[3] = 400, 600
    svg = usage_line_svg(hourly=hourly, limit=2000, now_hours=3.5)
    points = re.search(r'class="usage-line" points="([^"]+)"', svg).group(1).split()
    # (0h, 0) then the end of hours 0, 1, 2 and "now" (3.5 h): five points, none in the future.
    assert len(points) == 5
    ys = [float(p.split(",")[1]) for p in points]
    assert ys[0] == ys[1] > ys[2] == ys[3] > ys[4]  # flat, up at hour 1, flat, up at hour 3
    xs = [float(p.split(",")[0]) for p in points]
    assert xs == sorted(xs) and xs[-1] < xs[0] + (720 - 56 - 118) * 4 / 24
    assert "1,000 tokens used so far" in svg


def test_usage_chart_with_no_usage_or_no_limit_still_renders():
    empty = usage_line_svg(hourly=[], limit=0, now_hours=0)
    assert empty.startswith("<svg") and "usage-line" in empty and "nan" not in empty.lower()
    zero = usage_line_svg(hourly=[0] * 24, limit=1000, now_hours=None)
    assert "0 tokens used so far" in zero and "threshold-limit" in zero


def test_svg_text_is_escaped():
    svg = history_bars_svg(days=[{"date": "<script>alert(1)</script>", "proactive": 1, "reactive": 0}], limit=10)
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_axis_ticks_are_round_numbers():
    assert nice_ticks(7_560_000) == [0, 2_000_000, 4_000_000, 6_000_000]
    assert nice_ticks(1080) == [0, 500, 1000]
    assert nice_ticks(10_800) == [0, 5000, 10_000]
    assert nice_ticks(2_000) == [0, 500, 1000, 1500, 2000]
    assert nice_ticks(0) == [0.0]


def test_small_helpers():
    assert cumulative([1, 2, 3]) == [1, 3, 6]
    assert (tokens_short(999), tokens_short(1500), tokens_short(7_000_000)) == ("999", "1.5k", "7M")
    assert [level_for_ratio(r) for r in (0.1, 0.8, 0.95, 1.0)] == ["ok", "warning", "critical", "exhausted"]


# --- selector ----------------------------------------------------------------------------


def spend(tokens: int, *, at: datetime, scope: str = Scope.PROACTIVE) -> LedgerEntry:
    with time_machine.travel(at, tick=False):
        entry = ledger_record(scope=scope, usage=TokenUsage(input=tokens), model="claude-test")
    LedgerEntry.objects.filter(pk=entry.pk).update(created_at=at)
    return entry


@pytest.mark.django_db
def test_hourly_usage_groups_todays_proactive_rows_by_utc_hour(django_assert_num_queries):
    spend(100, at=NOW.replace(hour=2, minute=5))
    spend(50, at=NOW.replace(hour=2, minute=55))
    spend(300, at=NOW.replace(hour=14))
    spend(999, at=NOW.replace(hour=14), scope=Scope.REACTIVE)  # not proactive
    spend(777, at=NOW - timedelta(days=1))  # not today
    with django_assert_num_queries(1):
        hourly = dashboard_hourly_usage(day=NOW.date())
    assert len(hourly) == 24
    assert (hourly[2], hourly[14], sum(hourly)) == (150, 300, 450)


# --- the page -----------------------------------------------------------------------------


@pytest.fixture
def busy_day(settings, budget_limit):
    """Some proactive use over the day, two weeks of history and a pending approval."""
    budget_limit(10_000, min_cycle=100)
    settings.MASTER_CHAT_IDS = [1001]
    for hour, tokens in ((1, 1000), (6, 2500), (11, 1500), (15, 3600)):
        spend(tokens, at=NOW.replace(hour=hour, minute=10))
    for back in range(1, 14):
        DailyCounter.objects.create(day=NOW.date() - timedelta(days=back), scope=Scope.PROACTIVE, used=700 * back)
    with time_machine.travel(NOW, tick=False):
        approval = approval_request_decision(decision=decision("meditate", certainty=0.5), cycle=None)
    return approval


@pytest.mark.django_db
def test_the_dashboard_shows_state_budget_charts_and_pending_approvals(admin_client, busy_day):
    with time_machine.travel(NOW, tick=False):
        page = admin_client.get(DASHBOARD)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'class="usage-chart"' in html and 'class="history-chart"' in html
    assert 'id="agent-status">running<' in html and 'id="pause-button"' in html
    # 8,600 of 10,000 used: the warning level, in its colour class.
    assert 'class="agent-badge level-warning" id="budget-level">warning<' in html
    assert "8,600 of 10,000 tokens (86.0%)" in html
    assert f'/admin/decisions/approval/{busy_day.pk}/change/' in html
    assert "Pending approvals (1)" in html
    assert html.count('class="bar bar-proactive') == 14


@pytest.mark.django_db
def test_the_admin_index_links_to_the_dashboard(admin_client):
    page = admin_client.get("/admin/")
    assert page.status_code == 200 and b'href="/admin/agent/"' in page.content
    assert b"Django-Q2" in page.content or b"django_q" in page.content  # its admin is still there


@pytest.mark.django_db
def test_the_dashboard_is_for_staff_only(client, django_user_model):
    assert client.get(DASHBOARD)["Location"].startswith("/admin/login/")
    django_user_model.objects.create_user("visitor", password="x")
    client.force_login(django_user_model.objects.get(username="visitor"))
    response = client.get(DASHBOARD)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert client.post(TOGGLE, {"action": "pause"}).status_code == 302
    assert not AgentState.objects.filter(paused=True).exists()


@pytest.mark.django_db
def test_pause_and_resume_buttons_change_the_state_and_get_never_does(admin_client):
    assert admin_client.get(DASHBOARD).status_code == 200
    assert not AgentState.objects.exists()  # a GET writes nothing, not even the singleton
    response = admin_client.post(TOGGLE, {"action": "pause"})
    assert response.status_code == 302 and response["Location"] == DASHBOARD
    assert AgentState.objects.get().paused is True
    page = admin_client.get(DASHBOARD).content.decode()
    assert 'id="agent-status">paused<' in page and 'id="resume-button"' in page and "not while paused" in page
    assert admin_client.get(TOGGLE).status_code == 405
    assert AgentState.objects.get().paused is True
    admin_client.post(TOGGLE, {"action": "resume"})
    state = AgentState.objects.get()
    assert state.paused is False and state.next_run_at is not None


@pytest.mark.django_db
def test_the_pause_button_needs_the_csrf_token(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(TOGGLE, {"action": "pause"}).status_code == 403
    assert not AgentState.objects.filter(paused=True).exists()
    page = client.get(DASHBOARD)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    assert client.post(TOGGLE, {"action": "pause", "csrfmiddlewaretoken": token}).status_code == 302
    assert AgentState.objects.get().paused is True


@pytest.mark.django_db
def test_an_unknown_toggle_action_changes_nothing(admin_client):
    response = admin_client.post(TOGGLE, {"action": "explode"}, follow=True)
    assert b"Unknown action" in response.content
    assert not AgentState.objects.filter(paused=True).exists()


@pytest.mark.django_db
def test_the_dashboard_renders_with_no_data_at_all(admin_client):
    page = admin_client.get(DASHBOARD)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Nothing waits for you." in html and "none yet" in html and 'level-ok' in html


def test_dates_in_history_labels_are_short():
    svg = history_bars_svg(days=[{"date": date(2026, 3, 9).isoformat(), "proactive": 5, "reactive": 0}], limit=10)
    assert ">03-09</text>" in svg


@pytest.mark.django_db
@pytest.mark.fault("Staff user without permission decides")
def test_staff_without_the_permission_see_the_dashboard_but_cannot_pause(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("viewer", password="x", is_staff=True))
    page = client.get(DASHBOARD)
    assert page.status_code == 200 and b'id="pause-button"' not in page.content
    assert client.post(TOGGLE, {"action": "pause"}).status_code == 403
    assert not AgentState.objects.filter(paused=True).exists()
