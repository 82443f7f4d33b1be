"""Time-of-use (spec: tou_charging): which tariff period applies when, and a plan of the
cheapest periods that still deliver the energy the car needs by `ready_by`. Plain data.

Periods are in the site's local time; the plan works in UTC slots and looks each slot's local
time up, so DST days of 23 and 25 hours come out right.
"""

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass

from energy import reasons

SLOT = dt.timedelta(minutes=15)
PEAK_PRIORITY = 3  # spec: priority 3 = "avoid this period"
OFF_PEAK_PRIORITY = 1  # spec: priority 1 = "prefer this period"
TARGET_MODES = ("time", "energy", "soc")


@dataclass(frozen=True)
class Period:
    name: str
    rate_per_kwh: float
    priority: int = 2
    start: dt.time | None = None  # None: all other times
    end: dt.time | None = None

    def covers(self, local_time: dt.time) -> bool:
        if self.start is None or self.end is None:
            return False
        if self.start <= self.end:
            return self.start <= local_time < self.end
        return local_time >= self.start or local_time < self.end  # wraps past midnight


@dataclass(frozen=True)
class Slot:
    start: dt.datetime  # UTC
    end: dt.datetime
    period: Period


def period_at(periods: Sequence[Period], when: dt.datetime, tz: zoneinfo.ZoneInfo) -> Period | None:
    """The period in force at an instant: a timed one covering its local time, else the default."""
    local = when.astimezone(tz).time()
    timed = [p for p in periods if p.covers(local)]
    if timed:
        return timed[0]
    return next((p for p in periods if p.start is None), None)


def next_local_time(after: dt.datetime, local_time: dt.time, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """The next instant (UTC) at which the site's clock shows local_time; on a DST spring-forward
    gap the wall time that does not exist is taken as the instant after the jump."""
    local_after = after.astimezone(tz)
    candidate_day = local_after.date()
    for _ in range(3):
        naive = dt.datetime.combine(candidate_day, local_time)
        aware = naive.replace(tzinfo=tz)
        # Round-trip through UTC: a non-existent wall time normalises to after the jump.
        instant = aware.astimezone(dt.UTC)
        if instant > after:
            return instant
        candidate_day += dt.timedelta(days=1)
    raise AssertionError("unreachable")


def slots_between(periods: Sequence[Period], start: dt.datetime, end: dt.datetime, tz: zoneinfo.ZoneInfo) -> list[Slot]:
    """Quarter-hour slots (the first may be shorter) with the period in force in each."""
    slots = []
    cursor = start
    first_boundary = start.replace(minute=start.minute - start.minute % 15, second=0, microsecond=0) + SLOT
    while cursor < end:
        slot_end = min(first_boundary if not slots else cursor + SLOT, end)
        period = period_at(periods, cursor, tz)
        if period is not None:
            slots.append(Slot(cursor, slot_end, period))
        cursor = slot_end
    return slots


@dataclass(frozen=True)
class Target:
    """What a plan must deliver: by when (UTC), and how much energy (None in target mode "time")."""

    deadline: dt.datetime
    energy_wh: float | None


@dataclass(frozen=True)
class CarNeed:
    """What a car on a charger told (OCPP 2.0.1 NotifyEVChargingNeeds: its departure time, the
    energy it asks for; either may be unknown) and what its session delivered so far."""

    departure_at: dt.datetime | None
    energy_wh: float | None
    delivered_wh: float = 0.0


def charger_target(site: Target, cars: Sequence[CarNeed], *, now: dt.datetime) -> Target:
    """A charger's target: what its cars told takes precedence over the site's. The earliest
    departure still ahead replaces the ready-by time (one already past says nothing of when to
    be ready); the energy the cars asked for, less what they got so far, replaces the site's
    target energy. What no car told stays the site's."""
    departures = [c.departure_at for c in cars if c.departure_at is not None and c.departure_at > now]
    asked = [max(0.0, c.energy_wh - c.delivered_wh) for c in cars if c.energy_wh is not None]
    return Target(
        deadline=min(departures) if departures else site.deadline,
        energy_wh=sum(asked) if asked else site.energy_wh,
    )


@dataclass(frozen=True)
class Plan:
    slots: list[Slot]  # the slots to charge in, in time order
    reason: str
    shortfall_wh: float = 0.0


def plan_charging(
    *,
    now: dt.datetime,
    ready_by: dt.time,
    tz: zoneinfo.ZoneInfo,
    periods: Sequence[Period],
    power_w: float,
    energy_needed_wh: float | None,
    avoid_peak: bool = True,
    prefer_off_peak: bool = True,
    deadline: dt.datetime | None = None,
) -> Plan:
    """Choose when to charge before the next `ready_by` (or before `deadline`, a car's own
    departure: charger_target).

    With a known energy need: the cheapest slots (then the earliest) until it is covered; peak
    slots never when avoid_peak. Without one (target mode "time"): every off-peak slot when
    prefer_off_peak and there are any, else every slot that is not peak.
    """
    if deadline is None:
        deadline = next_local_time(now, ready_by, tz)
    else:
        ready_by = deadline.astimezone(tz).time().replace(second=0, microsecond=0)
    slots = slots_between(periods, now, deadline, tz)
    allowed = [s for s in slots if not (avoid_peak and s.period.priority >= PEAK_PRIORITY)]
    if energy_needed_wh is None:
        off_peak = [s for s in allowed if s.period.priority <= OFF_PEAK_PRIORITY]
        chosen = off_peak if prefer_off_peak and off_peak else allowed
        return Plan(chosen, _plan_reason(chosen, now=now, tz=tz, ready_by=ready_by))
    if energy_needed_wh <= 0:
        return Plan([], reasons.tou_target_reached())
    ranked = sorted(allowed, key=lambda s: (s.period.rate_per_kwh, s.period.priority, s.start))
    chosen, planned_wh = [], 0.0
    for slot in ranked:
        if planned_wh >= energy_needed_wh:
            break
        chosen.append(slot)
        planned_wh += power_w * (slot.end - slot.start).total_seconds() / 3600
    chosen.sort(key=lambda s: s.start)
    shortfall = max(0.0, energy_needed_wh - planned_wh)
    reason = _plan_reason(chosen, now=now, tz=tz, ready_by=ready_by, needed_wh=energy_needed_wh, planned_wh=planned_wh)
    return Plan(chosen, reason, shortfall)


def _plan_reason(
    chosen: Sequence[Slot],
    *,
    now: dt.datetime,
    tz: zoneinfo.ZoneInfo,
    ready_by: dt.time,
    needed_wh: float | None = None,
    planned_wh: float = 0.0,
) -> str:
    """The plan in one sentence: the rate it charges at next (and from when, on the site's
    clock), the energy it adds when there is a target."""
    upcoming = [s for s in chosen if s.end > now]
    if not upcoming:
        return reasons.tou_no_period(ready_by)
    first = upcoming[0]
    starts_at = first.start.astimezone(tz) if first.start > now else None
    if needed_wh is not None:
        return reasons.tou_energy(first.period.name, starts_at, needed_wh, planned_wh, ready_by)
    if starts_at is None:
        return reasons.tou_charging(first.period.name, ready_by)
    return reasons.tou_waiting(first.period.name, starts_at, ready_by)


def plan_allows(plan: Plan, when: dt.datetime) -> bool:
    return any(s.start <= when < s.end for s in plan.slots)


def schedule_periods(plan: Plan, *, start: dt.datetime, limit: float) -> list[dict]:
    """The plan as an OCPP chargingSchedulePeriod list from `start`: `limit` in chosen slots,
    0 elsewhere, one entry per change (spec example: TxDefaultProfile)."""
    periods: list[dict] = []
    cursor, current = start, None
    edges = sorted({start, *(s.start for s in plan.slots if s.start > start), *(s.end for s in plan.slots)})
    for edge in edges:
        if edge < start:
            continue
        cursor = edge
        value = limit if plan_allows(plan, cursor) else 0
        start_period = int((cursor - start).total_seconds())
        if periods and periods[-1]["startPeriod"] == start_period:
            # Edges within one second (a slot starting a fraction after `start`): chargers take
            # strictly increasing startPeriods only, and the later edge is what holds.
            periods.pop()
            current = periods[-1]["limit"] if periods else None
        if value != current:
            periods.append({"startPeriod": start_period, "limit": value})
            current = value
    return periods
