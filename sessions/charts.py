"""A session's power chart as inline SVG, drawn on the server: nothing to load in the browser,
works offline and on a phone (it scales to the page width)."""

import datetime as dt
import itertools
import math
import zoneinfo
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 28, 40
TICK_STEPS = [dt.timedelta(minutes=m) for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)]
MAX_POINTS = 1500
MAX_TOP_W = 1e15  # the axis of a chart whose data holds an infinity
MARKED_POINTS = 60

Series = Sequence[tuple[dt.datetime, float]]


def nice_kw_step(top_kw: float) -> float:
    """A step that gives at most six gridlines whatever the data: a broken meter's 1e12 W once
    drew millions of them and took the server's memory (issue 25)."""
    for step in (0.5, 1, 2, 5, 10, 20, 50, 100):
        if top_kw / step <= 6:
            return step
    magnitude = 10 ** math.floor(math.log10(top_kw / 6))
    return next(m * magnitude for m in (1, 2, 5, 10) if top_kw / (m * magnitude) <= 6)


def time_ticks(start: dt.datetime, end: dt.datetime, tz: zoneinfo.ZoneInfo) -> list[dt.datetime]:
    span = end - start
    # Whole days beyond a week, so that however long the span there are at most eight ticks.
    step = next((s for s in TICK_STEPS if span / s <= 8), None) or dt.timedelta(days=math.ceil(span.days / 8) + 1)
    local = start.astimezone(tz)
    minutes = int(step.total_seconds() // 60)
    if minutes < 1440:
        # Round down to the step on the site's wall clock, so the ticks read 15:00, 16:00...
        of_day = local.hour * 60 + local.minute
        first = local.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(
            minutes=of_day - of_day % minutes
        )
    else:
        first = local.replace(hour=0, minute=0, second=0, microsecond=0)
    ticks, tick = [], first.astimezone(dt.UTC)
    while tick <= end:
        if tick >= start:
            ticks.append(tick)
        tick += step
    return ticks


def power_chart_svg(
    *,
    start: dt.datetime,
    end: dt.datetime,
    tz: zoneinfo.ZoneInfo,
    power: Series,
    limit: Series = (),
    title: str,
    description: str,
    chart_id: str = "power-chart",
) -> SafeString:
    """Power as a line and the limit in force as a dashed step line, over [start, end]."""
    if end <= start:
        end = start + dt.timedelta(minutes=1)
    top_w = max([1000.0, *(w for _, w in power), *(w for _, w in limit)])
    if not math.isfinite(top_w):
        top_w = MAX_TOP_W
    padded_kw = top_w / 1000 * 1.1  # headroom: a line at the maximum stays off the frame
    kw_step = nice_kw_step(padded_kw)
    top_kw = kw_step * max(1, -(-padded_kw // kw_step))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    seconds = (end - start).total_seconds()

    def x(at: dt.datetime) -> float:
        return LEFT + plot_w * min(1.0, max(0.0, (at - start).total_seconds() / seconds))

    def y(watts: float) -> float:
        return TOP + plot_h * (1 - min(1.0, max(0.0, watts / 1000 / top_kw)))

    parts = [
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" xmlns="http://www.w3.org/2000/svg" '
        'preserveAspectRatio="xMidYMid meet">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
    ]
    level = 0.0
    while level <= top_kw + 1e-9:
        py = y(level * 1000)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{py:.1f}" x2="{WIDTH - RIGHT}" y2="{py:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{py + 4:.1f}" text-anchor="end">{level:g}</text>')
        level += kw_step
    parts.append(f'<text class="axis-label" x="{LEFT - 6}" y="{TOP - 12}" text-anchor="end">kW</text>')
    for tick in time_ticks(start, end, tz):
        px = x(tick)
        parts.append(f'<line class="grid" x1="{px:.1f}" y1="{TOP}" x2="{px:.1f}" y2="{TOP + plot_h}"/>')
        label = tick.astimezone(tz).strftime("%H:%M" if seconds <= 2 * 86400 else "%d %b")
        parts.append(f'<text class="tick" x="{px:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">{label}</text>')
    parts.append(f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none"/>')

    if limit:
        path = [f"M{x(limit[0][0]):.1f},{y(limit[0][1]):.1f}"]
        for (_, previous), (at, watts) in itertools.pairwise(limit):
            path.append(f"H{x(at):.1f}V{y(watts):.1f}" if watts != previous else f"H{x(at):.1f}")
        parts.append(f'<path class="limit" d="{"".join(path)}" fill="none"/>')
    if power:
        stride = max(1, len(power) // MAX_POINTS)
        points = " ".join(f"{x(at):.1f},{y(w):.1f}" for at, w in list(power)[::stride])
        parts.append(f'<polyline class="power" points="{points}" fill="none"/>')
        if len(power) <= MARKED_POINTS:  # few samples: show each one, a lone sample too
            parts.extend(f'<circle class="sample" cx="{x(at):.1f}" cy="{y(w):.1f}" r="3"/>' for at, w in power)
    else:
        parts.append(
            f'<text class="empty" x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle">'
            "No power readings yet</text>"
        )
    # Legend, top right (the unit sits top left).
    legend_x = WIDTH - RIGHT - (200 if limit else 80)
    parts.append(f'<line class="power" x1="{legend_x}" y1="12" x2="{legend_x + 24}" y2="12"/>')
    parts.append(f'<text class="legend" x="{legend_x + 30}" y="16">Power</text>')
    if limit:
        parts.append(f'<line class="limit" x1="{legend_x + 84}" y1="12" x2="{legend_x + 108}" y2="12"/>')
        parts.append(f'<text class="legend" x="{legend_x + 114}" y="16">Limit applied</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text part above is escaped or a number


def describe_power(*, power: Series, limit: Series, start: dt.datetime, end: dt.datetime, tz: zoneinfo.ZoneInfo) -> str:
    """The chart in words, for screen readers."""
    span = f"from {start.astimezone(tz):%H:%M} to {end.astimezone(tz):%H:%M}"
    if not power:
        text = f"No power readings {span}."
    else:
        peak = max(w for _, w in power)
        text = f"Charging power {span}, peaking at {peak / 1000:.1f} kW."
    if limit:
        values = [w for _, w in limit]
        low, high = min(values) / 1000, max(values) / 1000
        text += f" Limit applied: {low:.1f} kW." if low == high else f" Limit applied: {low:.1f} to {high:.1f} kW."
    return text
