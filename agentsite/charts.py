"""The dashboard's two charts, drawn by pygal as inline SVG (no JavaScript, no CDN).

Pure functions: numbers in, markup out (no database, settings or clock), so tests read
what a chart shows: its title, legend, axis labels and each point's value. pygal writes
the markup through an XML library, so any text in it is escaped.
"""

from collections.abc import Sequence

import pygal
from django.utils.safestring import SafeString, mark_safe
from pygal.style import Style
from pygal.util import compute_scale

from budget.selectors import CRITICAL_RATIO, WARNING_RATIO, Level

HALF_RATIO = 0.50
LEVELS = (Level.OK, Level.WARNING, Level.CRITICAL, Level.EXHAUSTED)
# Colours of the four budget levels (the dashboard's CSS uses the same ones).
LEVEL_COLOURS = {
    Level.OK: "#2e7d32",
    Level.WARNING: "#f9a825",
    Level.CRITICAL: "#ef6c00",
    Level.EXHAUSTED: "#c62828",
}
REACTIVE_COLOUR = "#90a4ae"
USED_COLOUR = "#1565c0"
PACE_COLOUR = "#9e9e9e"
# (fraction of the limit, label, colour) of the horizontal lines on the usage chart.
THRESHOLDS = (
    (HALF_RATIO, "50%", "#78909c"),
    (WARNING_RATIO, "80% warning", LEVEL_COLOURS[Level.WARNING]),
    (CRITICAL_RATIO, "95% critical", LEVEL_COLOURS[Level.CRITICAL]),
    (1.0, "limit", LEVEL_COLOURS[Level.EXHAUSTED]),
)
HOURS = tuple(range(0, 25, 3))
HEADROOM = 1.08  # the top of the y axis, as a multiple of what it must show
# Below this share of the limit the y axis scales to the usage (low usage stays readable:
# a day at 0.3% is a bar, not a line), never to less than MIN_SCALE_FRACTION of the limit
# (so a tiny usage does not look like a full day); the limit and the thresholds are drawn
# when they fall within the axis, and the title always says the limit.
ZOOM_BELOW = 0.5
MIN_SCALE_FRACTION = 0.01


def scale_top(*, peak: float, limit: float) -> float:
    """The top of a y axis showing `peak` against `limit` (see ZOOM_BELOW)."""
    peak, limit = max(0.0, float(peak)), max(0.0, float(limit))
    if limit <= 0 or peak >= limit * ZOOM_BELOW:
        return max(limit, peak, 1.0) * HEADROOM
    return max(peak * HEADROOM, limit * MIN_SCALE_FRACTION, 1.0)


def percent_text(value: float, limit: float) -> str:
    """Share of the limit, readable when small: 0.3%, 12%, 0.04%."""
    if limit <= 0:
        return ""
    share = 100 * value / limit
    return f"{share:.2g}%" if share < 10 else f"{share:.0f}%"


def tokens_short(value: float) -> str:
    """1234 -> '1.2k', 7_000_000 -> '7M': axis labels that fit."""
    value = float(value)
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.0f}"


def clock_time(hours: float) -> str:
    """3.5 -> '03:30': a point on the day's time axis."""
    minutes = round(hours * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def cumulative(values: Sequence[int]) -> list[int]:
    total, out = 0, []
    for value in values:
        total += max(0, int(value))
        out.append(total)
    return out


class LevelBars(pygal.StackedBar):
    """Stacked bars where a missing value draws nothing (pygal's StackedBar would draw a
    zero bar, with its tooltip, for each level a day did not reach)."""

    _adapters = []


def _config(*, title: str, css_class: str, colours: Sequence[str], **options) -> dict:
    style = Style(
        background="transparent", plot_background="transparent", foreground="currentColor",
        foreground_strong="currentColor", foreground_subtle="#9e9e9e", colors=tuple(colours),
        font_family="sans-serif", title_font_size=13, legend_font_size=11, label_font_size=11,
        major_label_font_size=11, tooltip_font_size=11,
    )
    return dict(
        title=title, classes=["pygal-chart", css_class], style=style, js=[], width=720, height=280,
        disable_xml_declaration=True, legend_at_bottom=True, legend_at_bottom_columns=4,
        truncate_legend=-1, truncate_label=-1,
        value_formatter=lambda v: f"{v:,.0f} tokens", **options,
    )


def _render(chart) -> SafeString:
    return mark_safe(chart.render(is_unicode=True))  # pygal escapes every text it writes


def usage_points(*, hourly: Sequence[int], now_hours: float | None) -> list[tuple[float, int]]:
    """(hour, tokens so far): from midnight to the end of each hour, the last one at `now`
    (0-24), so a day in progress is not drawn into the future."""
    end = 24.0 if now_hours is None else max(0.0, min(24.0, now_hours))
    points = [(0.0, 0)]
    for hour, total in enumerate(cumulative(list(hourly)[:24])):
        if hour >= end:
            break
        points.append((float(min(hour + 1, end)), total))
    return points


def usage_line_svg(*, hourly: Sequence[int], limit: int, now_hours: float | None = None) -> SafeString:
    """Today's cumulative proactive usage by UTC hour against the pacing thresholds:
    lines at 50%, 80% (warning), 95% (critical) of `limit` and the limit itself, and a
    dashed even pace that would spend exactly the limit by midnight."""
    points = usage_points(hourly=hourly, now_hours=now_hours)
    used = sum(max(0, int(v)) for v in list(hourly)[:24])
    top = scale_top(peak=used, limit=limit)  # low usage: the axis follows it, not the limit
    lines = [(f"{label} {tokens_short(f * limit)}", f * limit, colour) for f, label, colour in THRESHOLDS
             if 0 < f * limit <= top]
    share = f" ({percent_text(used, limit)})" if limit > 0 else ""
    chart = pygal.XY(**_config(
        title=f"Proactive tokens used today: {used:,} of {limit:,}{share}", css_class="usage-chart",
        colours=[USED_COLOUR, PACE_COLOUR, *(colour for _, _, colour in lines)],
        range=(0, top), xrange=(0, 24), x_labels=HOURS, x_value_formatter=clock_time,
    ))
    last = {"value": points[-1], "label": f"{used:,} tokens used so far"}
    chart.add("used", [*points[:-1], last], stroke_style={"width": 2.5}, fill=False)
    # The even pace, up to where it leaves the axis.
    pace = [(0, 0), (24, limit) if limit <= top else (24 * top / limit, top)] if limit > 0 else []
    chart.add("even pace", pace, show_dots=False, stroke_style={"dasharray": "4, 4"})
    for title, tokens, _ in lines:
        dash = {} if title.startswith("limit") else {"dasharray": "6, 3"}
        chart.add(title, [(0, tokens), (24, tokens)], show_dots=False, stroke_style=dash)
    return _render(chart)


def history_bars_svg(*, days: Sequence[dict], limit: int) -> SafeString:
    """One bar per day (oldest first): proactive tokens in the colour of the level the day
    reached, that day's reactive tokens stacked on top in grey. `days` are
    `budget_history()` rows with their budget level: {"date", "proactive", "reactive", "level"}."""
    days = list(days)
    limit_text = f" (proactive limit {tokens_short(limit)})" if limit > 0 else ""
    chart = LevelBars(**_config(
        title=f"Token usage over the last {len(days)} days{limit_text}", css_class="history-chart",
        colours=[*(LEVEL_COLOURS[level] for level in LEVELS), REACTIVE_COLOUR],
        x_labels=[str(d.get("date", ""))[5:] or str(d.get("date", "")) for d in days],
        no_data_text="No usage recorded yet", include_x_axis=True, print_values=True,
        print_values_position="top", value_font_size=10,
        **(_limit_axis(limit=limit, peak=max(_total(d) for d in days)) if days else {}),
    ))
    if not days:
        return _render(chart)
    for level in LEVELS:
        chart.add(f"proactive: {level}", [_bar(d, level, limit) for d in days])
    chart.add("reactive", [_reactive(d) for d in days])
    return _render(chart)


def _total(day: dict) -> int:
    return max(0, int(day.get("proactive", 0))) + max(0, int(day.get("reactive", 0)))


def _limit_axis(*, limit: int, peak: int) -> dict:
    """A y axis whose ticks include the proactive limit, drawn as a major guide line
    labelled "limit …" (pygal draws no line series over bars)."""
    top = scale_top(peak=peak, limit=limit)  # low usage: the axis follows it (the bars readable)
    ticks = compute_scale(0, top, False, None, 4, 8)
    if limit <= 0 or limit > top:  # the limit is off the axis: the title says it
        return {"range": (0, top), "y_labels": ticks, "y_label_rotation": 0}
    ticks = [t for t in ticks if abs(t - limit) > top * 0.05]
    return {
        "range": (0, top),
        "y_labels": [*ticks, {"value": limit, "label": f"limit {tokens_short(limit)}"}],
        "y_labels_major": [limit],
    }


def _bar(day: dict, level: str, limit: int) -> dict | None:
    """The day's proactive bar in the series of its own level (None in the others),
    printed with its tokens and its share of the limit."""
    if day.get("level", Level.OK) != level:
        return None
    value = max(0, int(day.get("proactive", 0)))
    share = percent_text(value, limit)
    return {"value": value, "label": f"{day.get('date', '')}: {level}",
            "formatter": lambda v: f"{tokens_short(v)}{f' ({share})' if share and v else ''}"}


def _reactive(day: dict) -> dict | None:
    reactive = max(0, int(day.get("reactive", 0)))
    return {"value": reactive, "label": f"{day.get('date', '')}: reactive",
            "formatter": tokens_short} if reactive else None
