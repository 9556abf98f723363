"""The agent dashboard: its two pygal charts (read by what they show: titles, legends,
labels and each point's value), its selectors, and the page itself (rendering, the level
colour, the pause/resume button, CSRF)."""

import re
from datetime import date, datetime, timedelta, timezone

import pytest
import time_machine
from django.test import Client

from agentsite.charts import LEVEL_COLOURS, clock_time, cumulative, history_bars_svg, tokens_short, usage_line_svg
from agentsite.dashboard import dashboard_history, dashboard_hourly_usage
from budget.models import DailyCounter, LedgerEntry, Scope
from budget.services import ledger_record
from budget.usage import TokenUsage
from decisions.approvals import approval_request_decision
from decisions.models import AgentState
from tests.factories import decision

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=timezone.utc)
DASHBOARD = "/admin/agent/"
TOGGLE = "/admin/agent/pause-resume/"


def legend(svg: str) -> list[str]:
    """The series' titles, in the legend's order."""
    return re.findall(r'<g id="activate-serie-\d+" class="legend[^"]*">.*?<text[^>]*>([^<]*)</text>', svg, re.S)


def shown(svg: str) -> dict[str, list[tuple[str, str]]]:
    """{series title: [(label, value), ...]}: what each bar or point's tooltip says."""
    titles = legend(svg)
    parts = re.split(r'<g class="series serie-(\d+) color-\d+">', svg)
    found = {title: [] for title in titles}
    for index, part in zip(parts[1::2], parts[2::2]):
        for point in re.findall(r'<g class="(?:bar|dots)">(.*?)</g>', part, re.S):
            label = re.search(r'<desc class="label">([^<]*)</desc>', point)
            value = re.search(r'<desc class="value">([^<]*)</desc>', point).group(1)
            found[titles[int(index)]].append((label.group(1) if label else "", value))
    return found


def title(svg: str) -> str:
    return re.search(r"<title>([^<]*)</title>", svg).group(1)


# --- charts (pure) ----------------------------------------------------------------------


def test_history_shows_each_days_tokens_in_the_series_of_its_level():
    days = [
        {"date": "2026-03-01", "proactive": 1000, "reactive": 0, "level": "ok"},
        {"date": "2026-03-02", "proactive": 3000, "reactive": 500, "level": "warning"},
        {"date": "2026-03-03", "proactive": 0, "reactive": 0, "level": "ok"},
    ]
    svg = history_bars_svg(days=days, limit=4000)
    assert shown(svg) == {
        "proactive: ok": [("2026-03-01: ok", "1k (25%)"), ("2026-03-03: ok", "0")],
        "proactive: warning": [("2026-03-02: warning", "3k (75%)")],
        "proactive: critical": [],
        "proactive: exhausted": [],
        "reactive": [("2026-03-02: reactive", "500")],
    }
    assert title(svg) == "Token usage over the last 3 days (proactive limit 4k)"
    assert re.search(r'<text [^>]*class="major">limit 4k</text>', svg)  # the limit's guide line, labelled
    assert svg.startswith("<svg") and svg.endswith("</svg>")


def test_each_level_is_drawn_in_its_colour():
    days = [{"date": f"2026-03-0{i}", "proactive": p, "reactive": 0, "level": level} for i, (p, level) in
            enumerate([(100, "ok"), (850, "warning"), (960, "critical"), (1000, "exhausted")], start=1)]
    svg = history_bars_svg(days=days, limit=1000)
    assert [values for values in shown(svg).values()][:4] == [
        [(f"{d['date']}: {d['level']}", f"{tokens_short(d['proactive'])} ({d['proactive'] // 10}%)")] for d in days]
    for colour in LEVEL_COLOURS.values():
        assert colour in svg


def test_history_with_no_days_renders_a_message():
    svg = history_bars_svg(days=[], limit=1000)
    assert "No usage recorded yet" in svg and not any(shown(svg).values())


def test_history_bars_fit_when_a_day_exceeds_the_limit():
    svg = history_bars_svg(days=[{"date": "2026-03-01", "proactive": 5000, "reactive": 5000, "level": "exhausted"}],
                           limit=1000)
    assert shown(svg)["reactive"] == [("2026-03-01: reactive", "5k")]
    tops = [float(y) for y in re.findall(r'<rect [^>]*? y="(-?[\d.]+)"', svg)]
    assert len(tops) >= 2 and min(tops) >= 0  # both bars (and the legend) inside the picture


def test_usage_chart_draws_the_four_threshold_lines_at_their_fractions():
    svg = usage_line_svg(hourly=[600] * 10, limit=10_000, now_hours=10)
    assert legend(svg) == ["used", "even pace", "50% 5k", "80% warning 8k", "95% critical 9.5k", "limit 10k"]
    assert title(svg) == "Proactive tokens used today: 6,000 of 10,000 (60%)"


def test_at_low_usage_the_usage_chart_scales_to_it_and_draws_only_the_lines_in_range():
    svg = usage_line_svg(hourly=[100] * 10, limit=10_000, now_hours=10)
    assert legend(svg) == ["used", "even pace"]  # 1,000 used: the 50% line (5k) is off the axis
    assert title(svg) == "Proactive tokens used today: 1,000 of 10,000 (10%)"
    height = plot_height(svg)
    dots = [float(y) for y in re.findall(r'<circle [^>]*?cy="(-?[\d.]+)"[^>]*class="dot reactive', svg)]
    rise = (max(dots) - min(dots)) / height  # from midnight's 0 to now's 1,000
    print(f"\nusage chart at 10% of the limit: the line rises {rise:.0%} of the plot")
    assert rise > 0.8  # not a flat line along the bottom


def test_at_a_third_of_a_percent_the_usage_line_still_climbs():
    hourly = [0] * 24
    hourly[2] = 21_000  # 0.3% of 7M
    svg = usage_line_svg(hourly=hourly, limit=7_000_000, now_hours=5)
    dots = [float(y) for y in re.findall(r'<circle [^>]*?cy="(-?[\d.]+)"[^>]*class="dot reactive', svg)]
    rise = (max(dots) - min(dots)) / plot_height(svg)
    print(f"\nusage chart at 0.3% of the limit: the line rises {rise:.0%} of the plot")
    assert rise > 0.2 and "(0.3%)" in title(svg)


def test_the_history_bars_are_readable_at_a_third_of_a_percent():
    days = [{"date": f"2026-03-{d:02d}", "proactive": 0, "reactive": 0, "level": "ok"} for d in range(1, 14)]
    days.append({"date": "2026-03-14", "proactive": 21_000, "reactive": 0, "level": "ok"})  # 0.3% of 7M
    svg = history_bars_svg(days=days, limit=7_000_000)
    bars = [float(h) for h in re.findall(r'<rect [^>]*?height="([\d.]+)" class="rect reactive', svg)]
    share = max(bars) / plot_height(svg)
    print(f"\nhistory bar at 0.3% of the limit: {share:.0%} of the plot's height")
    assert share > 0.2  # a bar, not a hairline (it was 0.3% of the plot)
    assert shown(svg)["proactive: ok"][-1] == ("2026-03-14: ok", "21k (0.3%)")  # printed on the bar too
    assert re.search(r'<text [^>]*class="value">21k \(0.3%\)</text>', svg)
    assert "limit 7M" in title(svg) and "limit 7M</text>" not in svg  # off the axis: said in the title


def test_a_day_near_the_limit_keeps_the_limit_line():
    svg = history_bars_svg(days=[{"date": "2026-03-01", "proactive": 900, "reactive": 0, "level": "warning"}],
                           limit=1000)
    assert re.search(r'<text [^>]*class="major">limit 1k</text>', svg)


def plot_height(svg: str) -> float:
    """The plotting area's height (its background rect, the second one)."""
    return float(re.findall(r'<rect x="0" y="0" width="[\d.]+" height="([\d.]+)" class="background"', svg)[1])


def test_usage_line_is_cumulative_and_stops_at_now():
    hourly = [0] * 24
    hourly[1], hourly[3] = 400, 600
    svg = usage_line_svg(hourly=hourly, limit=2000, now_hours=3.5)
    # (0h, 0) then the end of hours 0, 1, 2 and "now" (3.5 h): five points, none in the future.
    assert shown(svg)["used"] == [
        ("", "00:00: 0 tokens"), ("", "01:00: 0 tokens"), ("", "02:00: 400 tokens"), ("", "03:00: 400 tokens"),
        ("1,000 tokens used so far", "03:30: 1,000 tokens"),
    ]


def test_usage_chart_with_no_usage_or_no_limit_still_renders():
    empty = usage_line_svg(hourly=[], limit=0, now_hours=0)
    assert empty.startswith("<svg") and "usage-chart" in empty and "nan" not in empty.lower()
    assert shown(empty)["used"] == [("0 tokens used so far", "00:00: 0 tokens")]
    zero = usage_line_svg(hourly=[0] * 24, limit=1000, now_hours=None)
    assert shown(zero)["used"][-1] == ("0 tokens used so far", "24:00: 0 tokens")
    assert legend(zero) == ["used", "even pace"] and title(zero).endswith("0 of 1,000 (0%)")  # no line on a zero axis


def test_svg_text_is_escaped():
    svg = history_bars_svg(
        days=[{"date": "<script>alert(1)</script>", "proactive": 1, "reactive": 0, "level": "ok"}], limit=10
    )
    assert "<script>" not in svg and "&lt;script&gt;alert(1)&lt;/script&gt;: ok" in svg


def test_small_helpers():
    assert cumulative([1, 2, 3]) == [1, 3, 6]
    assert (tokens_short(999), tokens_short(1500), tokens_short(7_000_000)) == ("999", "1.5k", "7M")
    assert (clock_time(0), clock_time(3.5), clock_time(24)) == ("00:00", "03:30", "24:00")


@pytest.mark.django_db
def test_a_days_level_is_the_budgets_own(budget_limit):
    """The bars' levels come from budget_level: 950 of 1000 leaves less than a cycle's
    minimum, so that day was exhausted, though its ratio is under 1."""
    budget_limit(1000, min_cycle=100)
    today = datetime.now(timezone.utc).date()
    for back, used in ((1, 950), (2, 850), (3, 100)):
        DailyCounter.objects.create(day=today - timedelta(days=back), scope=Scope.PROACTIVE, used=used)
    levels = {row["date"]: row["level"] for row in dashboard_history(limit=1000)}
    assert [levels[(today - timedelta(days=back)).isoformat()] for back in (1, 2, 3)] == ["exhausted", "warning", "ok"]
    assert levels[today.isoformat()] == "ok"


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
    assert 'class="pygal-chart usage-chart"' in html and 'class="pygal-chart history-chart"' in html
    assert 'id="agent-status">running<' in html and 'id="pause-button"' in html
    # 8,600 of 10,000 used: the warning level, in its colour class.
    assert 'class="agent-badge level-warning" id="budget-level">warning<' in html
    assert "8,600 of 10,000 tokens (86.0%)" in html
    assert f'/admin/decisions/approval/{busy_day.pk}/change/' in html
    assert "Pending approvals (1)" in html
    history = re.search(r'<svg [^>]*history-chart.*?</svg>', html, re.S).group(0)
    bars = shown(history)
    assert sum(len(bars[f"proactive: {level}"]) for level in LEVEL_COLOURS) == 14
    assert bars["proactive: warning"][-1] == ("2026-03-10: warning", "8.6k (86%)")


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
    svg = history_bars_svg(
        days=[{"date": date(2026, 3, 9).isoformat(), "proactive": 5, "reactive": 0, "level": "ok"}], limit=10
    )
    assert ">03-09</text>" in svg


@pytest.mark.django_db
@pytest.mark.fault("Staff user without permission decides")
def test_staff_without_the_permission_see_the_dashboard_but_cannot_pause(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("viewer", password="x", is_staff=True))
    page = client.get(DASHBOARD)
    assert page.status_code == 200 and b'id="pause-button"' not in page.content
    assert client.post(TOGGLE, {"action": "pause"}).status_code == 403
    assert not AgentState.objects.filter(paused=True).exists()
