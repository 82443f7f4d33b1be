"""Energy, cost and solar share of a charging session. Plain data in, numbers out: no database.

The session's energy is laid out in time as intervals (from the charger's energy register, or
spread evenly when it sampled nothing). Cost prices each interval at the site's posted dynamic
price where a slot covers that time, else at the tariff period in force then in the site's zone;
solar share compares each interval with the site's surplus.
"""

import datetime as dt
import math
import zoneinfo
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

from energy.solar import surplus_w as solar_surplus_w
from energy.tou import Period, period_at
from sessions.measurands import ENERGY_REGISTER_MAX_WH, in_base_unit

ENERGY_REGISTER = "Energy.Active.Import.Register"
CENT = Decimal("0.01")
# The largest cost a session's column holds (numeric(10,2)). A larger one is no price anyone
# pays but a broken meter's: it is unknown (None), never written (PostgreSQL would refuse it,
# SQLite would store it) nor shown.
MAX_COST = Decimal("99999999.99")
# A site reading stands for at most this long: past it the meter is taken as silent, and the
# energy of that time counts as not solar (rather than guessing from an old reading).
READING_HOLD = dt.timedelta(minutes=15)
# An interval longer than this (a charger silent for days, or a start dated by a reset clock)
# has its whole days priced by each period's part of the day, not cut at every change.
LONG_INTERVAL = dt.timedelta(days=3)
# The instants accounting works within: a zone's offset or a day's step from datetime's own
# limits overflows.
EARLIEST = dt.datetime(1, 1, 3, tzinfo=dt.UTC)
LATEST = dt.datetime(9999, 12, 29, tzinfo=dt.UTC)


@dataclass(frozen=True)
class EnergyReading:
    """One energy register sample; `at` is needed to place energy in time (cost, solar)."""

    value: float
    unit: str = "Wh"
    phase: str = ""
    at: dt.datetime | None = None


def register_believable(wh: float | None) -> bool:
    """A register reading a meter can show: rows stored before samples were bounded at the door
    may hold 1e300 or infinity, which no figure may be built from."""
    return wh is not None and math.isfinite(wh) and 0 <= wh <= ENERGY_REGISTER_MAX_WH


def session_energy_wh(
    *, meter_start_wh: int | None, meter_stop_wh: int | None, register_readings: Iterable[EnergyReading]
) -> int | None:
    """Delivered energy: the stop minus start meter when both are known; otherwise the span
    of the charger's whole-meter energy register samples (per-phase registers are ignored,
    summing them would double count against a total). None when nothing tells; readings and
    meter values outside what a meter can show are left out."""
    totals = [wh for r in register_readings if not r.phase and register_believable(wh := in_base_unit(r.value, r.unit))]
    meter_start_wh = meter_start_wh if register_believable(meter_start_wh) else None
    meter_stop_wh = meter_stop_wh if register_believable(meter_stop_wh) else None
    start = meter_start_wh if meter_start_wh is not None else (min(totals) if totals else None)
    stop = meter_stop_wh if meter_stop_wh is not None else (max(totals) if totals else None)
    if start is None or stop is None:
        return None
    return max(0, round(stop - start))


# --- energy in time ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    start: dt.datetime
    end: dt.datetime
    energy_wh: float

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def energy_intervals(
    *,
    started_at: dt.datetime,
    ended_at: dt.datetime | None,
    meter_start_wh: int | None,
    meter_stop_wh: int | None,
    register_readings: Iterable[EnergyReading],
) -> list[Interval]:
    """The session's energy laid out in time: one interval between consecutive register
    readings (the start and stop meter values included), or, when the charger sampled nothing,
    the whole energy spread evenly from start to end. A running session (`ended_at` None) runs
    up to its latest sample. When the start/stop meter values are known they fix the total and
    the samples only its shape in time (a charger whose samples disagree with its own meter
    values is still billed for what the meter says)."""
    end_limit = ended_at or dt.datetime.max.replace(tzinfo=dt.UTC)
    meter_start_wh = meter_start_wh if register_believable(meter_start_wh) else None
    meter_stop_wh = meter_stop_wh if register_believable(meter_stop_wh) else None
    by_time: dict[dt.datetime, float] = {}
    for r in register_readings:
        if r.phase or r.at is None or not register_believable(wh := in_base_unit(r.value, r.unit)):
            continue
        # Charger clocks drift: a sample just outside the session belongs to its edge.
        at = min(max(r.at, started_at), end_limit)
        by_time[at] = max(by_time.get(at, -math.inf), wh)
    samples = sorted(by_time.items())

    points: list[tuple[dt.datetime, float]] = []
    if meter_start_wh is not None:
        points.append((started_at, float(meter_start_wh)))
    points.extend(samples)
    if ended_at is not None and meter_stop_wh is not None:
        points.append((ended_at, float(meter_stop_wh)))
    total = session_energy_wh(
        meter_start_wh=meter_start_wh,
        meter_stop_wh=meter_stop_wh,
        register_readings=[EnergyReading(wh) for _, wh in samples],
    )
    if total is None:
        return []
    if not samples:
        return [Interval(started_at, ended_at, float(total))] if ended_at is not None else []

    intervals = [Interval(a, b, max(0.0, wb - wa)) for (a, wa), (b, wb) in pairwise(points)]
    shaped = sum(i.energy_wh for i in intervals)
    if shaped > 0 and not math.isclose(shaped, total, abs_tol=0.5):
        intervals = [Interval(i.start, i.end, i.energy_wh * total / shaped) for i in intervals]
    elif shaped == 0 and total > 0:
        end = ended_at or points[-1][0]
        intervals = [Interval(started_at, end, float(total))]
    return intervals


# --- cost ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PricedEnergy:
    """Energy of one stretch of time and the tariff period it was bought in."""

    start: dt.datetime
    end: dt.datetime
    energy_wh: float
    period: Period | None  # None: no period of the tariff covers that time


def period_changes(
    periods: Sequence[Period], start: dt.datetime, end: dt.datetime, tz: zoneinfo.ZoneInfo
) -> list[dt.datetime]:
    """Every instant in (start, end) at which the period in force may change: each period's
    start and end wall-clock time on each local day (both readings of the repeated autumn hour)
    and each change of UTC offset (a spring jump may skip right over a boundary). Its work is
    per hour of the span: energy_by_period calls it for a few days at most."""
    times = {t for p in periods for t in (p.start, p.end) if t is not None}
    instants: set[dt.datetime] = set()
    day = start.astimezone(tz).date() - dt.timedelta(days=1)
    last_day = end.astimezone(tz).date() + dt.timedelta(days=1)
    while day <= last_day:
        for t in times:
            for fold in (0, 1):
                instants.add(dt.datetime.combine(day, t, tzinfo=tz).replace(fold=fold).astimezone(dt.UTC))
        day += dt.timedelta(days=1)
    instants.update(_offset_changes(start, end, tz))
    return sorted(i for i in instants if start < i < end)


def _offset_changes(start: dt.datetime, end: dt.datetime, tz: zoneinfo.ZoneInfo) -> list[dt.datetime]:
    changes = []
    step = dt.timedelta(hours=1)
    cursor = start
    while cursor < end:
        following = min(cursor + step, end)
        if cursor.astimezone(tz).utcoffset() != following.astimezone(tz).utcoffset():
            low, high = cursor, following  # bisect to the second
            while high - low > dt.timedelta(seconds=1):
                middle = low + (high - low) / 2
                if middle.astimezone(tz).utcoffset() == low.astimezone(tz).utcoffset():
                    low = middle
                else:
                    high = middle
            changes.append(high.replace(microsecond=0) if high.microsecond else high)
        cursor = following
    return changes


def calendar_safe(at: dt.datetime) -> dt.datetime:
    """An instant moved inside [EARLIEST, LATEST]: a stored year 1 or 9999 (a charger's reset
    clock) cannot be converted to a zone or stepped a day from without overflowing."""
    return min(max(at, EARLIEST), LATEST)


def local_time(at: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """`at` on the site's clock; at the ends of datetime's range (a stored year 1 or 9999) the
    zone's offset overflows, and the instant is given in UTC instead."""
    try:
        return at.astimezone(tz)
    except OverflowError:
        return at.astimezone(dt.UTC)


def energy_by_period(
    intervals: Sequence[Interval], periods: Sequence[Period], tz: zoneinfo.ZoneInfo
) -> list[PricedEnergy]:
    """Each interval cut where the tariff period changes, its energy shared in proportion to
    the time on each side (the car is taken to draw evenly between two samples). The work is
    per interval and per period crossed in a few days at its ends, never per hour or day of its
    span: a session "started" in 1970 by a reset clock costs what a normal one does."""
    pieces = []
    for interval in intervals:
        start, end = calendar_safe(interval.start), calendar_safe(interval.end)
        if end <= start:
            pieces.append(PricedEnergy(start, end, interval.energy_wh, period_at(periods, start, tz)))
        elif end - start <= LONG_INTERVAL:
            pieces.extend(_cut_at_changes(start, end, interval.energy_wh, periods, tz))
        else:
            pieces.extend(_long_interval_pieces(start, end, interval.energy_wh, periods, tz))
    return pieces


def _cut_at_changes(
    start: dt.datetime, end: dt.datetime, energy: float, periods: Sequence[Period], tz: zoneinfo.ZoneInfo
) -> list[PricedEnergy]:
    seconds = (end - start).total_seconds()
    if seconds <= 0:
        return []
    edges = [start, *period_changes(periods, start, end, tz), end]
    return [
        PricedEnergy(a, b, energy * (b - a).total_seconds() / seconds, period_at(periods, a, tz))
        for a, b in pairwise(edges)
    ]


def _long_interval_pieces(
    start: dt.datetime, end: dt.datetime, energy: float, periods: Sequence[Period], tz: zoneinfo.ZoneInfo
) -> list[PricedEnergy]:
    """The partial first and last local days cut exactly; the whole days between shared by
    each period's part of the wall-clock day (a DST day's hour is shared out, not placed: at
    most an hour's share in an interval of days)."""
    first_midnight = dt.datetime.combine(start.astimezone(tz).date() + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    last_midnight = dt.datetime.combine(end.astimezone(tz).date(), dt.time.min, tzinfo=tz)
    head_end, tail_start = first_midnight.astimezone(dt.UTC), last_midnight.astimezone(dt.UTC)
    seconds = (end - start).total_seconds()
    share = energy / seconds
    pieces = _cut_at_changes(start, head_end, share * (head_end - start).total_seconds(), periods, tz)
    middle_wh = share * (tail_start - head_end).total_seconds()
    pieces.extend(PricedEnergy(head_end, tail_start, middle_wh * part, period) for period, part in _day_parts(periods))
    pieces.extend(_cut_at_changes(tail_start, end, share * (end - tail_start).total_seconds(), periods, tz))
    return pieces


def _day_parts(periods: Sequence[Period]) -> list[tuple[Period | None, float]]:
    """Each period's part of a wall-clock day (24 hours; fractions summing to 1)."""
    day = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    parts: dict[Period | None, float] = {}
    for piece in _cut_at_changes(day, day + dt.timedelta(days=1), 1.0, periods, dt.UTC):
        parts[piece.period] = parts.get(piece.period, 0.0) + piece.energy_wh
    return list(parts.items())


# What a stretch bought at a posted dynamic price is called beside the tariff's periods.
POSTED_PRICE = "posted price"


@dataclass(frozen=True)
class PostedPrice:
    """One slot of the site's dynamic tariff: its price holds over [start, end)."""

    start: dt.datetime
    end: dt.datetime
    price_per_kwh: Decimal


def energy_by_price(
    intervals: Sequence[Interval], prices: Sequence[PostedPrice], periods: Sequence[Period], tz: zoneinfo.ZoneInfo
) -> list[PricedEnergy]:
    """Each interval cut at the edges of the posted slots it crosses, its energy shared in
    proportion to the time on each side: a stretch a slot covers is bought at the slot's price,
    the rest at the tariff period then in force (energy_by_period). The work is per slot
    crossed, whatever the interval's length."""
    ordered = sorted(prices, key=lambda p: p.start)
    starts = [p.start for p in ordered]
    pieces: list[PricedEnergy] = []
    for interval in intervals:
        start, end = calendar_safe(interval.start), calendar_safe(interval.end)
        first = max(0, bisect_right(starts, start) - 1)
        if end <= start:  # an instant: the slot covering it, if any, prices it all
            slot = next((p for p in ordered[first : first + 1] if p.start <= start < p.end), None)
            if slot is not None:
                pieces.append(_posted(start, end, interval.energy_wh, slot))
            else:
                pieces.extend(energy_by_period([interval], periods, tz))
            continue
        # Stretches of the interval: (from, to, the slot covering them or None for the tariff).
        stretches: list[tuple[dt.datetime, dt.datetime, PostedPrice | None]] = []
        cursor = start
        for slot in ordered[first:]:
            if slot.start >= end:
                break
            if slot.end <= cursor:
                continue
            covered_from, covered_to = max(slot.start, cursor), min(slot.end, end)
            if cursor < covered_from:
                stretches.append((cursor, covered_from, None))
            stretches.append((covered_from, covered_to, slot))
            cursor = covered_to
        if cursor < end:
            stretches.append((cursor, end, None))
        per_second = interval.energy_wh / (end - start).total_seconds()
        for a, b, slot in stretches:
            energy_wh = per_second * (b - a).total_seconds()
            if slot is not None:
                pieces.append(_posted(a, b, energy_wh, slot))
            else:
                pieces.extend(energy_by_period([Interval(a, b, energy_wh)], periods, tz))
    return pieces


def _posted(start: dt.datetime, end: dt.datetime, energy_wh: float, slot: PostedPrice) -> PricedEnergy:
    return PricedEnergy(start, end, energy_wh, Period(POSTED_PRICE, slot.price_per_kwh))


def energy_cost(pieces: Sequence[PricedEnergy]) -> Decimal | None:
    """The price of the energy, to the cent; None when some of it fell in a time the tariff
    does not price (or nothing is known), rather than a cost that is silently too low, and
    None beyond MAX_COST."""
    if not pieces or any(p.period is None and p.energy_wh > 0 for p in pieces):
        return None
    total = sum(
        (Decimal(str(p.period.rate_per_kwh)) * Decimal(p.energy_wh) / 1000 for p in pieces if p.period is not None),
        Decimal(0),
    )
    if abs(total) > MAX_COST + CENT:  # before rounding: a 1e300 has more digits than quantize takes
        return None
    cost = total.quantize(CENT, rounding=ROUND_HALF_UP)
    return cost if abs(cost) <= MAX_COST else None


@dataclass(frozen=True)
class PeriodCost:
    name: str
    rate_per_kwh: Decimal
    energy_wh: float
    cost: Decimal


def cost_by_period(pieces: Sequence[PricedEnergy]) -> list[PeriodCost]:
    """The energy and cost per tariff period and per posted price, in the order the session
    first met them."""
    totals: dict[tuple[str, Decimal], float] = {}
    for p in pieces:
        if p.period is None:
            continue
        key = (p.period.name, Decimal(str(p.period.rate_per_kwh)))
        totals[key] = totals.get(key, 0.0) + p.energy_wh
    return [
        PeriodCost(name, rate, wh, (rate * Decimal(wh) / 1000).quantize(CENT, rounding=ROUND_HALF_UP))
        for (name, rate), wh in totals.items()
    ]


# --- solar share --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteReading:
    """The site's meters at an instant (any may be missing): grid import positive, house
    consumption with the chargers included."""

    at: dt.datetime
    grid_w: float | None = None
    solar_w: float | None = None
    house_w: float | None = None


def surplus_w(reading: SiteReading, ev_power_w: float) -> float | None:
    """Power the car could take from solar: what is exported plus what the car itself draws
    (the car is not house load), never more than the panels make. None when the meters tell
    nothing."""
    surplus = solar_surplus_w(ev_w=ev_power_w, grid_w=reading.grid_w, solar_w=reading.solar_w, house_w=reading.house_w)
    return max(0.0, surplus) if surplus is not None and math.isfinite(surplus) else None


def solar_energy_wh(
    intervals: Sequence[Interval], readings: Sequence[SiteReading], *, hold: dt.timedelta = READING_HOLD
) -> float | None:
    """Energy the car took from the solar surplus. Each reading holds from its time until the
    next one (at most `hold`); in each stretch, solar energy = min(car energy, surplus energy).
    Time without a reading counts as not solar. None when no reading covers any of the session."""
    ordered = sorted(readings, key=lambda r: r.at)
    steps = []  # (from, to, reading)
    for reading, following in zip(ordered, [*ordered[1:], None], strict=False):
        until = reading.at + hold
        if following is not None:
            until = min(until, following.at)
        if until > reading.at:
            steps.append((reading.at, until, reading))
    starts = [s[0] for s in steps]
    solar, covered = 0.0, False
    for interval in intervals:
        if interval.seconds <= 0:
            continue
        ev_power_w = interval.energy_wh * 3600 / interval.seconds
        first = max(0, bisect_right(starts, interval.start) - 1)
        for begin, until, reading in steps[first:]:
            if begin >= interval.end:
                break
            overlap = (min(until, interval.end) - max(begin, interval.start)).total_seconds()
            if overlap <= 0:
                continue
            surplus = surplus_w(reading, ev_power_w)
            if surplus is None:
                continue
            covered = True
            car_wh = interval.energy_wh * overlap / interval.seconds
            solar += min(car_wh, surplus * overlap / 3600)
    return solar if covered else None


def solar_percent(*, solar_wh: float | None, energy_wh: float | None) -> float | None:
    if solar_wh is None or not energy_wh:
        return None
    return round(min(100.0, max(0.0, 100.0 * solar_wh / energy_wh)), 1)


# --- a whole session ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionFigures:
    energy_wh: int | None
    cost: Decimal | None
    currency: str
    solar_percent: float | None
    by_period: list[PeriodCost] = field(default_factory=list)


def session_figures(
    *,
    started_at: dt.datetime,
    ended_at: dt.datetime | None,
    meter_start_wh: int | None,
    meter_stop_wh: int | None,
    register_readings: Sequence[EnergyReading],
    periods: Sequence[Period],
    tz: zoneinfo.ZoneInfo,
    currency: str = "",
    site_readings: Sequence[SiteReading] = (),
    prices: Sequence[PostedPrice] = (),
) -> SessionFigures:
    """Energy, cost and solar share of a session: final when it has ended, so far when not.
    `prices`: the site's posted dynamic prices; where they cover the energy's time they price
    it, elsewhere the tariff's `periods` do."""
    intervals = energy_intervals(
        started_at=started_at,
        ended_at=ended_at,
        meter_start_wh=meter_start_wh,
        meter_stop_wh=meter_stop_wh,
        register_readings=register_readings,
    )
    energy = session_energy_wh(
        meter_start_wh=meter_start_wh,
        meter_stop_wh=meter_stop_wh if ended_at is not None else None,
        register_readings=register_readings,
    )
    pieces = energy_by_price(intervals, prices, periods, tz) if periods or prices else []
    cost = energy_cost(pieces)
    return SessionFigures(
        energy_wh=energy,
        cost=cost,
        currency=currency if cost is not None else "",
        solar_percent=solar_percent(solar_wh=solar_energy_wh(intervals, site_readings), energy_wh=energy),
        by_period=cost_by_period(pieces),
    )


# --- months -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthEntry:
    month: dt.date  # the first day of the site-local month the session started in
    energy_wh: int | None
    cost: Decimal | None
    currency: str
    solar_percent: float | None


@dataclass(frozen=True)
class MonthTotal:
    month: dt.date
    sessions: int
    energy_wh: int
    costs: dict[str, Decimal]  # per currency; sessions without a cost are left out
    solar_percent: float | None  # weighted by energy, over the sessions whose share is known


def month_totals(entries: Iterable[MonthEntry]) -> list[MonthTotal]:
    """Totals per month, newest month first."""
    months: dict[dt.date, list[MonthEntry]] = {}
    for entry in entries:
        months.setdefault(entry.month, []).append(entry)
    totals = []
    for month in sorted(months, reverse=True):
        rows = months[month]
        costs: dict[str, Decimal] = {}
        for r in rows:
            if r.cost is not None:
                costs[r.currency] = costs.get(r.currency, Decimal(0)) + r.cost
        known = [(r.energy_wh or 0, r.solar_percent) for r in rows if r.solar_percent is not None]
        known_wh = sum(wh for wh, _ in known)
        solar = round(sum(wh * pct for wh, pct in known) / known_wh, 1) if known_wh else None
        totals.append(
            MonthTotal(
                month=month,
                sessions=len(rows),
                energy_wh=sum(r.energy_wh or 0 for r in rows),
                costs=costs,
                solar_percent=solar,
            )
        )
    return totals
