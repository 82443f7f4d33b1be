"""One plan per site (issue 28): when each car charges from the grid over the rest of the horizon,
given the prices, the solar forecast, the house load, the main fuse and each car's target. Plain
data in, data out; solved as a linear program (HiGHS), as the day's optimum is.

The plan decides the grid: each car's grid power per 15-minute slot. The sun's share in the slot
under way is the live surplus, smoothed and with hysteresis (energy/solar.py), so a passing cloud
does not toggle a car; the forecast only tells the plan how much the sun will give before the
deadline, so it buys no grid energy the panels will make anyway. Fuses, grid response and the
fail-safe are applied after the plan, as hard limits, by energy/control.py.

A car's policy says what its grid energy beyond a target is worth:
- a target ("20 kWh by 07:00") is met at the lowest cost, peak slots last (avoid_peak);
- beyond it, or without one: in the preferred slots (time-of-use "ready by a time": the off-peak
  periods) the car takes all it can; elsewhere only what costs less than exporting would earn
  (a negative price), never the grid at a price.
Each run plans again from what the car got so far, and applies the first slot.
"""

import datetime as dt
import math
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass

from energy import reasons
from energy.optimum import PHASES, VOLTAGE_V, LinearProgram

SLOT = dt.timedelta(minutes=15)
# Plans reach no further than this: a target is always within a day of being set.
HORIZON_MAX = dt.timedelta(hours=36)

# Objective weights per Wh. Prices are per kWh (a Wh costs a few thousandths at most), so a Wh
# short of a target outweighs any price, and one charged in a peak slot costs more than any
# off-peak one without making a target infeasible.
TARGET_SHORT_PENALTY_PER_WH = 1.0
PEAK_PENALTY_PER_WH = 0.01
# What a Wh in a preferred slot is worth: more than any price, so the car takes all it can there.
PREFERRED_VALUE_PER_WH = 0.1
# Of two slots at the same price, the earlier one; on a site with solar, the later one, so the
# sun has every chance to give what the grid would (the plan takes the grid just in time). A tiny
# cost per Wh and hour, above the solver's tolerance, under any real price difference (a tenth
# of a penny per kWh over a day).
LATER_COST_PER_WH_HOUR = 4e-8
# Solar beyond what exporting earns is worth a little more, so the sun is taken before the grid
# when both cost the same (a flat tariff with no feed-in).
SOLAR_PREFERENCE_PER_WH = 1e-7
# Of a forecast surplus the plan counts on this share (the slot under way, read live, in full): a
# day of passing clouds gives a car less than its mean, and what the sun does not give by the
# deadline would be bought at whatever the last hours cost.
FORECAST_TRUST = 0.7
# A plan power below this is no charging: less than a car's 6 A minimum on any phase count.
MIN_PLANNED_W = 100


@dataclass(frozen=True)
class PlanSlot:
    start: dt.datetime  # UTC
    end: dt.datetime
    price_per_kwh: float
    solar_w: float = 0.0  # forecast production
    house_w: float = 0.0  # forecast consumption without the cars
    peak: bool = False  # a period to avoid (tariff priority 3)
    preferred: bool = False  # a period to charge in without a target (off-peak)
    period: str = ""  # the tariff period's name, for the plan's words

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


@dataclass(frozen=True)
class PlanCar:
    id: str
    phases: tuple[str, ...]  # the supply phases it draws on
    max_power_w: float
    target_wh: float | None = None  # still to add by the deadline; None: no target
    deadline: dt.datetime | None = None
    avoid_peak: bool = True
    # Without a target: take all it can in preferred slots (time-of-use "ready by a time").
    charge_in_preferred: bool = False
    # The site's solar mode as a policy: the most grid power the car may take (None: any; 0:
    # solar only, where a target the sun cannot fill stays short; mixed: its max_grid_w).
    max_grid_w: float | None = None


@dataclass(frozen=True)
class CarPlan:
    id: str
    slots: tuple[PlanSlot, ...]
    grid_w: tuple[float, ...]  # planned grid power per slot
    solar_w: tuple[float, ...]  # the forecast surplus it is planned to take per slot
    cost: float  # of the planned grid energy, at the slots' prices
    planned_wh: float  # by the deadline (all of the horizon without one)
    target_wh: float | None
    deadline: dt.datetime | None

    @property
    def grid_now_w(self) -> float:
        return self.grid_w[0] if self.grid_w else 0.0

    @property
    def charging_now(self) -> bool:
        return self.grid_now_w >= MIN_PLANNED_W

    @property
    def shortfall_wh(self) -> float:
        if self.target_wh is None:
            return 0.0
        return max(0.0, self.target_wh - self.planned_wh)

    def grid_slots(self) -> list[PlanSlot]:
        return [s for s, w in zip(self.slots, self.grid_w, strict=True) if w >= MIN_PLANNED_W]


def slots_between(start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """Quarter-hour slots on the UTC clock (the first may be shorter). Quarter hours are the same
    in every zone the tariffs here use, so a slot never straddles a local period's edge or a DST
    jump: a 23- or 25-hour night just has 4 slots fewer or more."""
    slots, cursor = [], start
    while cursor < end:
        edge = cursor.replace(minute=cursor.minute - cursor.minute % 15, second=0, microsecond=0) + SLOT
        slots.append((cursor, min(edge, end)))
        cursor = slots[-1][1]
    return slots


def plan_site(
    *,
    slots: Sequence[PlanSlot],
    cars: Sequence[PlanCar],
    fuse_a: float,
    feed_in_per_kwh: float,
    just_in_time: bool = False,
) -> dict[str, CarPlan]:
    """Every car's plan over the slots, solved together: they share the fuse and the surplus.
    `just_in_time`: of slots at the same price take the latest (a site with solar)."""
    if not slots or not cars:
        return {}
    program = LinearProgram()
    inf = math.inf
    now = slots[0].start
    grid: list[dict[int, int]] = []  # per car, slot -> grid energy column (Wh)
    solar: list[dict[int, int]] = []  # per car, slot -> surplus energy column (Wh)
    for car in cars:
        grid.append({})
        solar.append({})
        for t, slot in enumerate(slots):
            past_deadline = car.deadline is not None and car.target_wh is not None and slot.start >= car.deadline
            if past_deadline and not car.charge_in_preferred:
                continue  # a target car is planned up to its deadline
            hours_ahead = (slot.start - now).total_seconds() / 3600
            later = LATER_COST_PER_WH_HOUR * hours_ahead
            grid_cost = slot.price_per_kwh / 1000 + (-later if just_in_time else later)
            if slot.peak and car.avoid_peak:
                grid_cost += PEAK_PENALTY_PER_WH
            in_target = car.target_wh is not None and (car.deadline is None or slot.start < car.deadline)
            grid_upper = min(car.max_power_w, math.inf if car.max_grid_w is None else car.max_grid_w) * slot.hours
            if car.charge_in_preferred and slot.preferred:
                grid_cost -= PREFERRED_VALUE_PER_WH
            elif not in_target and slot.price_per_kwh >= feed_in_per_kwh:
                grid_upper = 0.0  # extra energy never comes from the grid at a price
            grid[-1][t] = program.column(grid_cost, 0.0, grid_upper)
            solar[-1][t] = program.column(feed_in_per_kwh / 1000 - SOLAR_PREFERENCE_PER_WH + later, 0.0, inf)
    for t, slot in enumerate(slots):
        present = [i for i in range(len(cars)) if t in grid[i]]
        if not present:
            continue
        trust = 1.0 if t == 0 else FORECAST_TRUST
        surplus_wh = max(0.0, slot.solar_w * trust - slot.house_w) * slot.hours
        program.row(-inf, surplus_wh, {solar[i][t]: 1.0 for i in present})
        for i in present:  # a car draws at most its maximum, from both
            program.row(-inf, cars[i].max_power_w * slot.hours, {grid[i][t]: 1.0, solar[i][t]: 1.0})
        base_a = (slot.house_w - slot.solar_w) / 3 / VOLTAGE_V
        room_a = max(0.0, fuse_a - base_a)
        for phase in PHASES:
            on_phase = {}
            for i in present:
                if phase in cars[i].phases:
                    per_wh_a = 1 / (VOLTAGE_V * len(cars[i].phases) * slot.hours)
                    on_phase[grid[i][t]] = per_wh_a
                    on_phase[solar[i][t]] = per_wh_a
            if on_phase:
                program.row(-inf, room_a, on_phase)
    for i, car in enumerate(cars):
        if car.target_wh is None:
            continue
        short = program.column(TARGET_SHORT_PENALTY_PER_WH, 0.0, inf)
        by_deadline = {}
        for t, slot in enumerate(slots):
            if t in grid[i] and (car.deadline is None or slot.start < car.deadline):
                by_deadline[grid[i][t]] = 1.0
                by_deadline[solar[i][t]] = 1.0
        program.row(car.target_wh, inf, by_deadline | {short: 1.0})
    solution = program.solve()
    plans = {}
    for i, car in enumerate(cars):
        grid_w = tuple(
            max(0.0, solution[grid[i][t]]) / slot.hours if t in grid[i] else 0.0 for t, slot in enumerate(slots)
        )
        solar_w = tuple(
            max(0.0, solution[solar[i][t]]) / slot.hours if t in solar[i] else 0.0 for t, slot in enumerate(slots)
        )
        due = [t for t, slot in enumerate(slots) if car.deadline is None or slot.start < car.deadline]
        plans[car.id] = CarPlan(
            id=car.id,
            slots=tuple(slots),
            grid_w=grid_w,
            solar_w=solar_w,
            cost=sum(grid_w[t] * slots[t].hours / 1000 * slots[t].price_per_kwh for t in range(len(slots))),
            planned_wh=sum((grid_w[t] + solar_w[t]) * slots[t].hours for t in due),
            target_wh=car.target_wh,
            deadline=car.deadline,
        )
    return plans


def plan_reason(plan: CarPlan, *, now: dt.datetime, tz: zoneinfo.ZoneInfo) -> str:
    """The plan in one sentence for the why-this-limit timeline: what the car does now and why."""
    ready_by = plan.deadline.astimezone(tz) if plan.deadline is not None else None
    if plan.target_wh is not None and plan.target_wh <= 0:
        return reasons.plan_target_reached()
    upcoming = plan.grid_slots()
    if plan.target_wh is not None and ready_by is not None:
        if plan.shortfall_wh > plan.target_wh * 0.001 + 1:
            return reasons.plan_short(plan.target_wh, plan.planned_wh, ready_by)
        if plan.charging_now:
            return reasons.plan_charging(plan.slots[0].period, plan.target_wh, ready_by)
        if upcoming:
            return reasons.plan_waiting(upcoming[0].period, upcoming[0].start.astimezone(tz), plan.target_wh, ready_by)
        return reasons.plan_solar_will_do(plan.target_wh, ready_by)
    if plan.charging_now:
        return reasons.plan_preferred_now(plan.slots[0].period)
    if upcoming:
        return reasons.plan_preferred_waiting(upcoming[0].period, upcoming[0].start.astimezone(tz))
    return reasons.plan_no_grid()


def plan_summary(plan: CarPlan, *, tz: zoneinfo.ZoneInfo, currency: str) -> str:
    """The plan as the homeowner reads it: "charging 00:00–03:30, ready by 07:00 at £1.80"."""
    spans = []
    for slot in plan.grid_slots():
        if spans and spans[-1][1] == slot.start:
            spans[-1][1] = slot.end
        else:
            spans.append([slot.start, slot.end])
    ready_by = plan.deadline.astimezone(tz) if plan.deadline is not None and plan.target_wh is not None else None
    return reasons.plan_summary(
        [(start.astimezone(tz), end.astimezone(tz)) for start, end in spans],
        ready_by=ready_by,
        cost=reasons.money(plan.cost, currency),
        short_wh=plan.shortfall_wh if plan.shortfall_wh > 1 else 0.0,
    )
