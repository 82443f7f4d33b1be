"""The Now page's picture of a site: the next hours (solar forecast, each charger's plan, the
dynamic prices) as inline SVG, and the live flow (solar, house, grid, cars). Plain functions,
data in and numbers out: whatever a stored row holds (NaN, a negative solar forecast, a meter's
1e15 W, a plan that is not a list), only values inside physics reach the page."""

import datetime as dt
import math
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from energy.models import PRICE_PER_KWH_LIMIT, SOLAR_FORECAST_MAX_W
from sessions.charts import nice_kw_step, time_ticks
from sessions.measurands import POWER_MAX_W

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 52, 56, 40, 40
PLAN_SLOT = dt.timedelta(minutes=15)  # a plan's last slot ends 900 s after its start
# Unix seconds a datetime can hold in any zone (years 1..9998).
UNIX_LOW_S, UNIX_HIGH_S = -62_135_596_800 + 86_400, 253_370_764_800
PLAN_CLASSES = 4  # the stylesheet colours plan-0 .. plan-3, then again from plan-0
NAME_CHARS = 24


@dataclass(frozen=True)
class Step:
    """One slot of a series: a value held from start to end."""

    start: dt.datetime
    end: dt.datetime
    value: float


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _clipped(steps: Iterable[Step], start: dt.datetime, end: dt.datetime) -> list[Step]:
    return [
        Step(max(s.start, start), min(s.end, end), s.value)
        for s in sorted(steps, key=lambda s: s.start)
        if s.end > start and s.start < end and s.end > s.start
    ]


def series_steps(
    rows: Iterable[tuple[dt.datetime, dt.datetime, object]],
    *,
    low: float,
    high: float,
    start: dt.datetime,
    end: dt.datetime,
) -> list[Step]:
    """Stored slots (start, end, value) inside [start, end]; a value that is not a finite number
    within low..high is left out, not drawn at the edge."""
    steps = []
    for slot_start, slot_end, raw in rows:
        value = _number(raw)
        if value is not None and low <= value <= high:
            steps.append(Step(slot_start, slot_end, value))
    return _clipped(steps, start, end)


def plan_steps(plan: object, *, start: dt.datetime, end: dt.datetime) -> list[Step]:
    """A stored plan ([[slot_start_unix_s, power_w], ...]) as steps inside [start, end]: slot i
    ends where slot i+1 starts, the last one 15 minutes after its start. An entry that is not a
    pair of finite numbers, a time no calendar holds, or a power no charger draws is left out."""
    if not isinstance(plan, list):
        return []
    slots: dict[float, float] = {}
    for entry in plan:
        if not isinstance(entry, list | tuple) or len(entry) != 2:
            continue
        at_s, power_w = _number(entry[0]), _number(entry[1])
        if at_s is None or power_w is None or not UNIX_LOW_S <= at_s <= UNIX_HIGH_S:
            continue
        if 0 <= power_w <= POWER_MAX_W:
            slots[at_s] = power_w
    starts = sorted(slots)
    steps = []
    for i, at_s in enumerate(starts):
        slot_start = dt.datetime.fromtimestamp(at_s, dt.UTC)
        slot_end = dt.datetime.fromtimestamp(starts[i + 1], dt.UTC) if i + 1 < len(starts) else slot_start + PLAN_SLOT
        steps.append(Step(slot_start, slot_end, slots[at_s]))
    return _clipped(steps, start, end)


def solar_steps(rows: Iterable[tuple[dt.datetime, dt.datetime, object]], **window: dt.datetime) -> list[Step]:
    return series_steps(rows, low=0, high=SOLAR_FORECAST_MAX_W, **window)


def price_steps(rows: Iterable[tuple[dt.datetime, dt.datetime, object]], **window: dt.datetime) -> list[Step]:
    return series_steps(
        ((s, e, float(v) if v is not None else None) for s, e, v in rows),
        low=-PRICE_PER_KWH_LIMIT,
        high=PRICE_PER_KWH_LIMIT,
        **window,
    )


# --- the chart ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanLine:
    name: str
    css: str  # plan-0 .. plan-3
    path: str  # SVG path data; "" when nothing of the plan falls in the window


@dataclass(frozen=True)
class PlanChart:
    start: dt.datetime
    end: dt.datetime
    top_kw: float
    kw_ticks: list[tuple[float, str]]  # (y, label)
    time_ticks: list[tuple[float, str]]  # (x, label)
    solar_area: str  # SVG path data of the forecast, one rectangle per slot; "" without a forecast
    plans: list[PlanLine]
    price_line: str  # SVG path data on the right-hand axis; "" without prices
    price_ticks: list[tuple[float, str]]  # (y, label) on the right-hand axis


def _nice_step(span: float, most: int) -> float:
    magnitude = 10 ** math.floor(math.log10(span / most))
    return next(m * magnitude for m in (1, 2, 5, 10) if span / (m * magnitude) <= most)


def _step_path(steps: Sequence[Step], x, y) -> str:
    """A step line: across each slot at its value, down or up where the next one starts."""
    parts: list[str] = []
    previous_end = None
    for s in steps:
        if s.start != previous_end:
            parts.append(f"M{x(s.start):.1f},{y(s.value):.1f}")
        else:
            parts.append(f"V{y(s.value):.1f}")
        parts.append(f"H{x(s.end):.1f}")
        previous_end = s.end
    return "".join(parts)


def plan_chart(
    *,
    start: dt.datetime,
    end: dt.datetime,
    tz: zoneinfo.ZoneInfo,
    solar: Sequence[Step],
    plans: Sequence[tuple[str, Sequence[Step]]],
    prices: Sequence[Step],
) -> PlanChart:
    """The geometry of the next hours: power in kW on the left axis (solar and the plans share
    it), the price per kWh on the right. Steps must come from the functions above."""
    if end <= start:
        end = start + dt.timedelta(hours=1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    seconds = (end - start).total_seconds()
    top_w = max([1000.0, *(s.value for s in solar), *(s.value for _, steps in plans for s in steps)])
    padded_kw = top_w / 1000 * 1.1  # headroom: a line at the maximum stays off the frame
    kw_step = nice_kw_step(padded_kw)
    top_kw = kw_step * max(1, math.ceil(padded_kw / kw_step))

    def x(at: dt.datetime) -> float:
        return LEFT + plot_w * min(1.0, max(0.0, (at - start).total_seconds() / seconds))

    def y(watts: float) -> float:
        return TOP + plot_h * (1 - min(1.0, max(0.0, watts / 1000 / top_kw)))

    kw_ticks = [(y(i * kw_step * 1000), f"{i * kw_step:g}") for i in range(round(top_kw / kw_step) + 1)]
    label = "%H:%M" if seconds <= 2 * 86400 else "%d %b"
    ticks = [(x(t), t.astimezone(tz).strftime(label)) for t in time_ticks(start, end, tz)]
    solar_area = "".join(
        f"M{x(s.start):.1f},{y(0):.1f}V{y(s.value):.1f}H{x(s.end):.1f}V{y(0):.1f}Z" for s in solar if s.value > 0
    )
    lines = [
        PlanLine(name=name[:NAME_CHARS], css=f"plan-{i % PLAN_CLASSES}", path=_step_path(steps, x, y))
        for i, (name, steps) in enumerate(plans)
    ]
    price_line, price_ticks = "", []
    if prices:
        low = min(0.0, *(s.value for s in prices))
        high = max(s.value for s in prices)
        step = _nice_step(max(high - low, 0.01), 4)
        low, high = step * math.floor(low / step), step * max(math.ceil(high / step), math.floor(low / step) + 1)

        def y_price(price: float) -> float:
            return TOP + plot_h * (1 - (price - low) / (high - low))

        price_line = _step_path(prices, x, y_price)
        price_ticks = [
            (y_price(low + i * step), f"{low + i * step:.2f}") for i in range(round((high - low) / step) + 1)
        ]
    return PlanChart(
        start=start,
        end=end,
        top_kw=top_kw,
        kw_ticks=kw_ticks,
        time_ticks=ticks,
        solar_area=solar_area,
        plans=lines,
        price_line=price_line,
        price_ticks=price_ticks,
    )


def plan_chart_svg(chart: PlanChart, *, title: str, description: str, chart_id: str = "plan-chart") -> SafeString:
    cid = escape(chart_id)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg id="{cid}" class="chart plan-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" xmlns="http://www.w3.org/2000/svg" '
        'preserveAspectRatio="xMidYMid meet">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(description)}</desc>',
    ]
    for py, text in chart.kw_ticks:
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{py:.1f}" x2="{WIDTH - RIGHT}" y2="{py:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{py + 4:.1f}" text-anchor="end">{text}</text>')
    parts.append(f'<text class="axis-label" x="{LEFT - 6}" y="{TOP - 8}" text-anchor="end">kW</text>')
    for px, text in chart.time_ticks:
        parts.append(f'<line class="grid" x1="{px:.1f}" y1="{TOP}" x2="{px:.1f}" y2="{TOP + plot_h}"/>')
        parts.append(f'<text class="tick" x="{px:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">{text}</text>')
    parts.append(f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none"/>')
    if chart.solar_area:
        parts.append(f'<path class="solar-forecast" d="{chart.solar_area}"/>')
    if chart.price_line:
        for py, text in chart.price_ticks:
            parts.append(f'<text class="tick" x="{WIDTH - RIGHT + 6}" y="{py + 4:.1f}">{text}</text>')
        parts.append(f'<text class="axis-label" x="{WIDTH - RIGHT + 6}" y="{TOP - 8}">per kWh</text>')
        parts.append(f'<path class="price" d="{chart.price_line}" fill="none"/>')
    for line in chart.plans:
        if line.path:
            parts.append(
                f'<path class="plan {line.css}" d="{line.path}" fill="none"><title>{escape(line.name)}</title></path>'
            )
    if not (chart.solar_area or chart.price_line or any(line.path for line in chart.plans)):
        parts.append(
            f'<text class="empty" x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle">'
            "No forecast, plan or prices for the next hours yet</text>"
        )
    legend = [("solar-forecast", "Solar forecast", "rect")] if chart.solar_area else []
    legend += [(f"plan {line.css}", f"Plan: {line.name}", "line") for line in chart.plans if line.path]
    if chart.price_line:
        legend.append(("price", "Price", "line"))
    lx = LEFT
    for css, text, shape in legend:
        if shape == "rect":
            parts.append(f'<rect class="{css}" x="{lx}" y="8" width="18" height="10"/>')
        else:
            parts.append(f'<line class="{css}" x1="{lx}" y1="13" x2="{lx + 18}" y2="13"/>')
        parts.append(f'<text class="legend" x="{lx + 24}" y="17">{escape(text)}</text>')
        lx += 24 + 7 * len(text) + 16
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text part above is escaped or a number


def describe_plan_chart(
    *, solar: Sequence[Step], plans: Sequence[tuple[str, Sequence[Step]]], prices: Sequence[Step], tz: zoneinfo.ZoneInfo
) -> str:
    """The chart in words, for screen readers."""
    sentences = []
    if solar:
        peak = max(solar, key=lambda s: s.value)
        sentences.append(f"Solar forecast peaking at {peak.value / 1000:.1f} kW at {peak.start.astimezone(tz):%H:%M}.")
    else:
        sentences.append("No solar forecast.")
    for name, steps in plans:
        charging = [s for s in steps if s.value > 0]
        if charging:
            sentences.append(
                f"{name} plans to charge from {charging[0].start.astimezone(tz):%H:%M} "
                f"to {charging[-1].end.astimezone(tz):%H:%M}."
            )
    if prices:
        low, high = min(s.value for s in prices), max(s.value for s in prices)
        sentences.append(f"Prices from {low:.2f} to {high:.2f} per kWh.")
    return " ".join(sentences)


# --- the live flow ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteFlow:
    """What the site does now, in W; None where the meter said nothing believable."""

    solar_w: float | None
    house_w: float | None  # the house without the cars
    grid_w: float | None  # import positive, export negative
    cars_w: float | None

    @property
    def grid_export_w(self) -> float | None:
        return -self.grid_w if self.grid_w is not None and self.grid_w < 0 else None


def _watts(value: object, *, low: float) -> float | None:
    number = _number(value)
    return number if number is not None and low <= number <= POWER_MAX_W else None


def site_flow(*, solar_w: object, house_w: object, grid_w: object, charger_powers_w: Iterable[object]) -> SiteFlow:
    """The flow from the latest reading and the chargers' own power. `house_w` as read is the
    whole consumption, cars included (else it is grid + solar); the page shows it without them.
    A slightly negative solar (an inverter's night draw) reads 0."""
    solar = _watts(solar_w, low=-POWER_MAX_W)
    solar = max(0.0, solar) if solar is not None else None
    grid = _watts(grid_w, low=-POWER_MAX_W)
    powers = [p for p in (_watts(w, low=0) for w in charger_powers_w) if p is not None]
    cars = sum(powers) if powers else None
    consumption = _watts(house_w, low=-POWER_MAX_W)
    if consumption is None and grid is not None and solar is not None:
        consumption = grid + solar
    house = max(0.0, consumption - (cars or 0.0)) if consumption is not None else None
    return SiteFlow(solar_w=solar, house_w=house, grid_w=grid, cars_w=cars)
