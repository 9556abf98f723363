"""The admin's agent dashboard: what it reads (bounded selectors) and its two charts.

The charts are inline SVG built here, server-side, by pure functions (numbers in,
markup out; no database, no settings, no clock), so they are unit-tested directly and
need no JavaScript or CDN. Every piece of text that goes into the markup is escaped.
"""

import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from html import escape

from django.conf import settings
from django.db.models import BigIntegerField, F, Sum
from django.db.models.functions import ExtractHour
from django.utils.safestring import SafeString, mark_safe

from agentsite.core.clock import utc_now
from budget.models import LedgerEntry, Scope
from budget.selectors import CRITICAL_RATIO, WARNING_RATIO, budget_history, budget_stats
from decisions.models import AgentState, ApprovalStatus, Cycle, Notification, NotificationStatus
from decisions.outbox import held_for_master
from decisions.selectors import approval_list, cycles_today_count

HISTORY_DAYS = 14
PENDING_SHOWN = 10
HALF_RATIO = 0.50

# Colours of the four budget levels (the dashboard's CSS uses the same ones).
LEVEL_COLOURS = {
    "ok": "#2e7d32",
    "warning": "#f9a825",
    "critical": "#ef6c00",
    "exhausted": "#c62828",
}
# (fraction of the limit, label, css class) of the horizontal lines on the usage chart.
THRESHOLDS = (
    (HALF_RATIO, "50%", "half"),
    (WARNING_RATIO, "80% warning", "warning"),
    (CRITICAL_RATIO, "95% critical", "critical"),
    (1.0, "limit", "limit"),
)
THRESHOLD_COLOURS = {"half": "#78909c", "warning": "#f9a825", "critical": "#ef6c00", "limit": "#c62828"}

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 118, 14, 30


# --- selectors ---------------------------------------------------------------------


def dashboard_hourly_usage(*, day: date) -> list[int]:
    """Proactive tokens settled in each UTC hour of `day` (24 values).

    One GROUP BY over that day's proactive ledger rows (indexed on scope, day), so its
    cost is bounded by one day's calls, never by the whole history.
    """
    tokens = (
        F("input_tokens") + F("output_tokens") + F("cache_creation_input_tokens") + F("cache_read_input_tokens")
    )
    rows = (
        LedgerEntry.objects.filter(scope=Scope.PROACTIVE, day=day)
        .annotate(hour=ExtractHour("created_at", tzinfo=timezone.utc))
        .values("hour")
        .annotate(total=Sum(tokens, output_field=BigIntegerField()))
        .order_by("hour")
    )
    hourly = [0] * 24
    for row in rows:
        hourly[row["hour"]] = int(row["total"] or 0)
    return hourly


def dashboard_waiting_messages() -> dict:
    """Messages held for missing configuration (never counted as failed): those waiting for
    a Master chat and, while no bot token is set, those waiting for Telegram; with the
    sentence the dashboard shows for each ("" when nothing waits)."""
    no_master = Notification.objects.filter(held_for_master()).count()
    no_telegram = 0
    if not settings.TELEGRAM_BOT_TOKEN:
        no_telegram = Notification.objects.filter(status=NotificationStatus.PENDING, chat_id__isnull=False).count()
    return {
        "waiting_no_master": no_master,
        "waiting_no_telegram": no_telegram,
        "waiting_no_master_text": f"No Master chat configured: {_messages(no_master)} waiting" if no_master else "",
        "waiting_no_telegram_text": (
            f"Telegram is not configured: {_messages(no_telegram)} waiting"
            if not settings.TELEGRAM_BOT_TOKEN else ""
        ),
    }


def _messages(count: int) -> str:
    return f"{count} message{'s' if count != 1 else ''}"


def dashboard_data(*, now: datetime | None = None) -> dict:
    """Everything the dashboard page shows. Reads only: a GET never writes, so the
    agent's singleton state is not created here if it does not exist yet."""
    now = now or utc_now()
    today = now.date()
    state = AgentState.objects.filter(pk=AgentState.SINGLETON_ID).first() or AgentState()
    stats = budget_stats(day=today)
    proactive = stats["proactive"]
    hourly = dashboard_hourly_usage(day=today)
    history = budget_history(days=HISTORY_DAYS)
    pending = approval_list(status=ApprovalStatus.PENDING)
    midnight = datetime.combine(today, datetime.min.time(), tzinfo=timezone.utc)
    return {
        "now": now,
        "state": state,
        "last_cycle": Cycle.objects.order_by("-started_at", "-id").first(),
        "cycles_today": cycles_today_count(),
        "pending_approvals": list(pending[:PENDING_SHOWN]),
        "pending_count": pending.count(),
        "failed_notifications": Notification.objects.filter(status=NotificationStatus.FAILED)
        .exclude(held_for_master())
        .count(),
        **dashboard_waiting_messages(),
        "stats": stats,
        "proactive": proactive,
        "level": proactive["level"],
        "level_colour": LEVEL_COLOURS.get(proactive["level"], LEVEL_COLOURS["ok"]),
        "usage_percent": round(100 * proactive["usage_ratio"], 1),
        "hourly": hourly,
        "history": history,
        "usage_chart": usage_line_svg(
            hourly=hourly,
            limit=proactive["limit"],
            now_hours=(now - midnight) / timedelta(hours=1),
        ),
        "history_chart": history_bars_svg(days=history, limit=proactive["limit"]),
    }


# --- SVG builders (pure) -------------------------------------------------------------


def tokens_short(value: float) -> str:
    """1234 -> '1.2k', 7_000_000 -> '7M': axis labels that fit."""
    value = float(value)
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.0f}"


def level_for_ratio(ratio: float) -> str:
    """The level a day's usage ratio reached (for the history bars)."""
    if ratio >= 1.0:
        return "exhausted"
    if ratio >= CRITICAL_RATIO:
        return "critical"
    if ratio >= WARNING_RATIO:
        return "warning"
    return "ok"


def cumulative(values: Sequence[int]) -> list[int]:
    total, out = 0, []
    for value in values:
        total += max(0, int(value))
        out.append(total)
    return out


def nice_ticks(top: float, *, count: int = 4) -> list[float]:
    """Round axis values from 0 up to at most `top`: steps of 1, 2, 2.5 or 5 x 10^k."""
    if top <= 0:
        return [0.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(int(top // step) + 1)]


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, content: str, *, anchor: str = "start", cls: str = "", extra: str = "") -> str:
    cls_attr = f' class="{escape(cls)}"' if cls else ""
    return (
        f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}"{cls_attr}{extra}>{escape(content)}</text>'
    )


def _open(label: str, cls: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{escape(cls)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="{escape(label)}" font-family="sans-serif" font-size="11" '
        f'fill="currentColor"><title>{escape(label)}</title>'
    )


def usage_line_svg(*, hourly: Sequence[int], limit: int, now_hours: float | None = None) -> SafeString:
    """Today's cumulative proactive usage by hour against the pacing thresholds.

    `hourly` holds the tokens of each UTC hour (up to 24 values); `now_hours` (0-24)
    ends the line at the present instead of at the end of the last hour given, so a
    day in progress is not drawn into the future. Horizontal lines mark 50%, 80%
    (warning), 95% (critical) of `limit` and the limit itself; a dashed diagonal shows
    the even pace that would spend exactly the limit by midnight.
    """
    hourly = list(hourly)[:24]
    totals = cumulative(hourly)
    used = totals[-1] if totals else 0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    y_max = max(limit, used, 1) * 1.08

    def x(hours: float) -> float:
        return LEFT + max(0.0, min(24.0, hours)) / 24 * plot_w

    def y(tokens: float) -> float:
        return TOP + plot_h - tokens / y_max * plot_h

    parts = [_open(f"Proactive tokens used today: {used:,} of {limit:,}", "usage-chart")]
    # Frame, hour ticks and token grid.
    parts.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="currentColor" stroke-opacity="0.25"/>'
    )
    for hour in range(0, 25, 3):
        parts.append(
            f'<line x1="{_num(x(hour))}" y1="{TOP}" x2="{_num(x(hour))}" y2="{TOP + plot_h}" '
            'stroke="currentColor" stroke-opacity="0.08"/>'
        )
        parts.append(_text(x(hour), HEIGHT - BOTTOM + 16, f"{hour:02d}:00", anchor="middle"))
    for value in nice_ticks(y_max):
        parts.append(
            f'<line x1="{LEFT}" y1="{_num(y(value))}" x2="{LEFT + plot_w}" y2="{_num(y(value))}" '
            'stroke="currentColor" stroke-opacity="0.08"/>'
        )
        parts.append(_text(LEFT - 6, y(value) + 4, tokens_short(value), anchor="end"))
    # Even pace: the limit spread evenly over the day.
    if limit > 0:
        parts.append(
            f'<line class="even-pace" x1="{_num(x(0))}" y1="{_num(y(0))}" x2="{_num(x(24))}" '
            f'y2="{_num(y(limit))}" stroke="currentColor" stroke-opacity="0.35" stroke-dasharray="4 4">'
            "<title>even pace</title></line>"
        )
    # Threshold lines with their labels on the right.
    for fraction, label, cls in THRESHOLDS:
        value = fraction * limit
        colour = THRESHOLD_COLOURS[cls]
        parts.append(
            f'<line class="threshold threshold-{cls}" data-tokens="{int(value)}" x1="{LEFT}" '
            f'y1="{_num(y(value))}" x2="{LEFT + plot_w}" y2="{_num(y(value))}" stroke="{colour}" '
            f'stroke-width="{2 if cls == "limit" else 1}" stroke-dasharray="{"" if cls == "limit" else "6 3"}">'
            f"<title>{escape(label)}: {int(value):,} tokens</title></line>"
        )
        parts.append(
            _text(LEFT + plot_w + 6, y(value) + 4, f"{label} {tokens_short(value)}",
                  extra=f' fill="{colour}"')
        )
    # The cumulative line (and the area under it).
    end = 24.0 if now_hours is None else max(0.0, min(24.0, now_hours))
    points = [(x(0), y(0))]
    for hour, total in enumerate(totals):
        if hour >= end:
            break
        points.append((x(min(hour + 1, end)), y(total)))
    coords = " ".join(f"{_num(px)},{_num(py)}" for px, py in points)
    area = f"{coords} {_num(points[-1][0])},{_num(y(0))}"
    parts.append(f'<polygon class="usage-area" points="{area}" fill="#1565c0" fill-opacity="0.12" stroke="none"/>')
    parts.append(
        f'<polyline class="usage-line" points="{coords}" fill="none" stroke="#1565c0" stroke-width="2.5" '
        'stroke-linejoin="round"/>'
    )
    last_x, last_y = points[-1]
    parts.append(
        f'<circle class="usage-now" cx="{_num(last_x)}" cy="{_num(last_y)}" r="4" fill="#1565c0">'
        f"<title>{used:,} tokens used so far</title></circle>"
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def history_bars_svg(*, days: Sequence[dict], limit: int) -> SafeString:
    """One bar per day (oldest first): proactive tokens, coloured by the level the day
    reached against `limit`, with that day's reactive tokens stacked on top in grey;
    a line marks the proactive limit. `days` are `budget_history()` rows:
    {"date": "YYYY-MM-DD", "proactive": int, "reactive": int}."""
    days = list(days)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [_open(f"Token usage over the last {len(days)} days", "history-chart")]
    if not days:
        parts.append(_text(WIDTH / 2, HEIGHT / 2, "No usage recorded yet", anchor="middle", cls="empty"))
        parts.append("</svg>")
        return mark_safe("".join(parts))

    peak = max(int(d.get("proactive", 0)) + int(d.get("reactive", 0)) for d in days)
    y_max = max(limit, peak, 1) * 1.08

    def y(tokens: float) -> float:
        return TOP + plot_h - tokens / y_max * plot_h

    def height(tokens: float) -> float:
        return tokens / y_max * plot_h

    parts.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" '
        'stroke="currentColor" stroke-opacity="0.4"/>'
    )
    for value in nice_ticks(y_max):
        parts.append(_text(LEFT - 6, y(value) + 4, tokens_short(value), anchor="end"))
    slot = plot_w / len(days)
    bar_w = slot * 0.7
    for index, day in enumerate(days):
        proactive, reactive = max(0, int(day.get("proactive", 0))), max(0, int(day.get("reactive", 0)))
        level = level_for_ratio(proactive / limit) if limit else "ok"
        bx = LEFT + index * slot + (slot - bar_w) / 2
        label = str(day.get("date", ""))
        tip = f"{label}: proactive {proactive:,}, reactive {reactive:,} tokens"
        parts.append(
            f'<rect class="bar bar-proactive level-{level}" data-date="{escape(label)}" data-tokens="{proactive}" '
            f'x="{_num(bx)}" y="{_num(y(proactive))}" width="{_num(bar_w)}" height="{_num(height(proactive))}" '
            f'fill="{LEVEL_COLOURS[level]}"><title>{escape(tip)}</title></rect>'
        )
        if reactive:
            parts.append(
                f'<rect class="bar bar-reactive" data-date="{escape(label)}" data-tokens="{reactive}" '
                f'x="{_num(bx)}" y="{_num(y(proactive + reactive))}" width="{_num(bar_w)}" '
                f'height="{_num(height(reactive))}" fill="#90a4ae"><title>{escape(tip)}</title></rect>'
            )
        parts.append(_text(bx + bar_w / 2, HEIGHT - BOTTOM + 16, label[5:] or label, anchor="middle"))
    if limit > 0:
        colour = THRESHOLD_COLOURS["limit"]
        parts.append(
            f'<line class="threshold threshold-limit" data-tokens="{int(limit)}" x1="{LEFT}" y1="{_num(y(limit))}" '
            f'x2="{LEFT + plot_w}" y2="{_num(y(limit))}" stroke="{colour}" stroke-width="2">'
            f"<title>proactive limit: {int(limit):,} tokens</title></line>"
        )
        parts.append(_text(LEFT + plot_w + 6, y(limit) + 4, f"limit {tokens_short(limit)}", extra=f' fill="{colour}"'))
    # Legend: proactive bars take their day's level colour; reactive is grey.
    legend_x, legend_y = LEFT + plot_w + 6, TOP + 40
    parts.append(_text(legend_x, legend_y, "proactive:"))
    for row, level in enumerate(("ok", "warning", "critical", "exhausted"), start=1):
        parts.append(
            f'<rect x="{legend_x}" y="{legend_y + row * 16 - 9}" width="10" height="10" '
            f'fill="{LEVEL_COLOURS[level]}"/>'
        )
        parts.append(_text(legend_x + 14, legend_y + row * 16, level))
    parts.append(f'<rect x="{legend_x}" y="{legend_y + 87}" width="10" height="10" fill="#90a4ae"/>')
    parts.append(_text(legend_x + 14, legend_y + 96, "reactive"))
    parts.append("</svg>")
    return mark_safe("".join(parts))
