"""Time-of-use (spec: tou_charging): which tariff period applies when, a car's target, and a
plan's slots as the schedule a charger holds. Plain data. The plan itself is energy/planner.py's.

Periods are in the site's local time; plans work in UTC slots and look each slot's local time
up, so DST days of 23 and 25 hours come out right.
"""

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass

PEAK_PRIORITY = 3  # spec: priority 3 = "avoid this period"
OFF_PEAK_PRIORITY = 1  # spec: priority 1 = "prefer this period"


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
