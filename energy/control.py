"""One control decision for a site: every limit that applies to each charger, combined.

Plain data in, data out. Two allocations are made: `protection` (fuses, grid response, manual
limits, the fail-safe) is what the charger's ChargePointMaxProfile carries and is safe on its
own; `decision` adds the site's plan, solar and the owner's mode and is what the car is meant to get.
"""

from dataclasses import dataclass, field

from energy import reasons
from energy.allocation import (
    NOMINAL_VOLTAGE_V,
    PHASES,
    ChargerDemand,
    Constraint,
    Fuse,
    allocate,
    fuse_constraints,
    power_budget,
)
from energy.manual_limit import ManualLimit, manual_limit_in_force
from energy.solar import phases_for_budget
from energy.sources import ChargeMode, LimitSource


@dataclass(frozen=True)
class ChargerState:
    id: str
    fuse_id: str
    phases: int  # 1 or 3, as wired
    max_power_w: float
    wants_power: bool
    connected_phase: str = "L1"  # the supply phase a single-phase charger is on
    priority: int = 0
    turn: float = 0.0
    min_current_a: float = 6.0
    measured_current_a: float | None = None
    current_limit_a: float | None = None
    manual_limit_w: float | None = None
    # A limit set on the charger outside this server, which it obeys whatever we send.
    external_limit_w: float | None = None
    external_limit_reason: str = ""
    can_switch_phases: bool = False
    active_phases: int | None = None  # what it charges on now, if it can switch
    mode: str = ChargeMode.SMART  # the owner's: off, now, solar or smart (the site's plan)


@dataclass(frozen=True)
class SiteInputs:
    fuses: list[Fuse]
    chargers: list[ChargerState]
    algorithm: str = "proportional"
    grid_percent: int = 100
    grid_reason: str = ""
    solar_budget_w: float | None = None  # None: solar charging is off
    solar_reason: str = ""
    # The part of solar_budget_w that is surplus, without the mode's grid top-up: what a car may
    # still use while time-of-use keeps it off the grid.
    solar_surplus_w: float | None = None
    # Each planned charger's (grid allowed now, why), from the site's plan (energy/planner.py);
    # a charger not in it is steered by the site's solar mode alone.
    plan_by_charger: dict[str, tuple[bool, str]] = field(default_factory=dict)
    # None while the main meter reports; otherwise the per-charger fail-safe current.
    failsafe_current_a: float | None = None
    failsafe_reason: str = ""


@dataclass(frozen=True)
class Decision:
    limit_w: int
    current_a: float
    phases: int
    source: str  # LimitSource
    reason: str
    protection_limit_w: int
    inputs: dict = field(default_factory=dict)
    protection_source: str = LimitSource.CIRCUIT  # what sets the fuse-keeping limit


def _phases_used(charger: ChargerState, solar_budget_w: float | None) -> int:
    if charger.phases == 3 and charger.can_switch_phases and solar_budget_w is not None:
        return phases_for_budget(budget_w=solar_budget_w, current_phases=charger.active_phases or 3)
    return charger.phases


def _cap(reason: str, source: str, charger_id: str, amps: float) -> Constraint:
    return Constraint(reason, source, max(0.0, amps), {charger_id: 1.0})


def _manual_limits(chargers: list[ChargerState]) -> dict[str, ManualLimit]:
    return {
        c.id: manual_limit_in_force(
            limit_w=round(c.manual_limit_w),
            phases=c.phases,
            can_switch_phases=c.can_switch_phases,
            min_current_a=c.min_current_a,
        )
        for c in chargers
        if c.manual_limit_w is not None
    }


def site_decisions(inputs: SiteInputs) -> dict[str, Decision]:
    manual = _manual_limits(inputs.chargers)
    by_id = {c.id: c for c in inputs.chargers}
    demands, phases_by_id = [], {}
    for c in inputs.chargers:
        phases = _phases_used(c, inputs.solar_budget_w)
        if c.id in manual:  # a manual limit below the 3-phase minimum may need one phase
            phases = min(phases, manual[c.id].phases)
        phases_by_id[c.id] = phases
        demands.append(
            ChargerDemand(
                id=c.id,
                fuse_id=c.fuse_id,
                phases=PHASES if phases == 3 else (c.connected_phase,),
                max_current_a=c.max_power_w / (NOMINAL_VOLTAGE_V * phases),
                wants_power=c.wants_power,
                min_current_a=c.min_current_a,
                priority=c.priority,
                turn=c.turn,
                measured_current_a=c.measured_current_a,
                current_limit_a=c.current_limit_a,
            )
        )
    protection = fuse_constraints(inputs.fuses, demands)
    for d in demands:
        if inputs.grid_percent < 100:
            protection.append(
                _cap(inputs.grid_reason or "grid response", "grid", d.id, d.max_current_a * inputs.grid_percent / 100)
            )
        if d.id in manual:
            protection.append(
                _cap("manual limit", "manual", d.id, manual[d.id].limit_w / (NOMINAL_VOLTAGE_V * len(d.phases)))
            )
        external = by_id[d.id]
        if external.external_limit_w is not None:
            # The charger holds to it anyway: counting it gives what it cannot take to the others.
            amps = external.external_limit_w / (NOMINAL_VOLTAGE_V * len(d.phases))
            protection.append(_cap(external.external_limit_reason, LimitSource.EXTERNAL, d.id, amps))
        if inputs.failsafe_current_a is not None:
            protection.append(
                _cap(inputs.failsafe_reason or "fail-safe", LimitSource.FAILSAFE, d.id, inputs.failsafe_current_a)
            )

    wanted = list(protection)
    # The plan (or time-of-use) decides only what comes from the grid: surplus solar is always
    # used. Where both hold a car back, the first listed names the reason: a pause is the plan's,
    # a charge from the surplus is solar's. The owner's mode comes first: off pauses the car,
    # solar keeps it to the surplus, now takes it out of the site's solar and time rules.
    surplus_w = inputs.solar_surplus_w or 0.0
    mode = {c.id: c.mode for c in inputs.chargers}
    planned_source = dict.fromkeys((d.id for d in demands), LimitSource.PLAN)
    grid = {d.id: inputs.plan_by_charger.get(d.id, (None, "")) for d in demands}
    for d in demands:
        if mode[d.id] == ChargeMode.OFF:
            wanted.append(_cap(reasons.mode_off(), LimitSource.MODE, d.id, 0.0))
        elif mode[d.id] == ChargeMode.SOLAR:
            grid[d.id], planned_source[d.id] = (False, reasons.mode_solar()), LimitSource.MODE
        elif mode[d.id] == ChargeMode.NOW:
            grid[d.id] = (None, "")
    waiting = [d for d in demands if grid[d.id][0] is False]
    # The site's solar mode steers the cars nobody planned: a plan already chose their grid.
    ruled = [
        d for d in demands if mode[d.id] not in (ChargeMode.NOW, ChargeMode.OFF) and d.id not in inputs.plan_by_charger
    ]
    # What the other cars draw (a plan's grid hours, "now") counts in the surplus reading but is
    # not there to share: the sun's cars get the surplus without it.
    on_sun = {d.id for d in ruled + waiting}
    outside_w = sum(
        (d.measured_current_a or 0.0) * NOMINAL_VOLTAGE_V * len(d.phases) for d in demands if d.id not in on_sun
    )
    surplus_w = max(0.0, surplus_w - outside_w)
    if surplus_w <= 0:
        wanted.extend(_cap(grid[d.id][1], planned_source[d.id], d.id, 0.0) for d in waiting)
    if inputs.solar_budget_w is not None and ruled:
        budget_w = max(0.0, inputs.solar_budget_w - outside_w)
        reason = inputs.solar_reason or "solar surplus"
        wanted.append(power_budget(reason, LimitSource.SOLAR, budget_w, ruled))
        if {d.id for d in waiting} - {d.id for d in ruled}:  # one surplus, not one for each group
            wanted.append(power_budget(reason, LimitSource.SOLAR, budget_w, [d for d in demands if d.id in on_sun]))
    if waiting and surplus_w > 0:
        source = planned_source[waiting[0].id]
        wanted.append(power_budget(reasons.tou_solar_only(surplus_w), source, surplus_w, waiting))

    protected = allocate(demands, protection, inputs.algorithm)
    decided = allocate(demands, wanted, inputs.algorithm)

    def watts(charger_id: str, current_a: float, source: str, phases: int) -> int:
        # A manual limit that binds is kept to the watt the person asked for; everything
        # else is the allocated current, which moves in tenths of an amp.
        if source == "manual" and charger_id in manual and current_a > 0:
            return manual[charger_id].limit_w
        return round(current_a * NOMINAL_VOLTAGE_V * phases)

    decisions = {}
    for d in demands:
        phases = len(d.phases)
        allocation, protection_allocation = decided[d.id], protected[d.id]
        decisions[d.id] = Decision(
            limit_w=watts(d.id, allocation.current_a, allocation.source, phases),
            current_a=allocation.current_a,
            phases=phases,
            source=allocation.source,
            # A binding manual limit says in words what it does (paused, one phase...).
            reason=manual[d.id].reason if allocation.source == "manual" else allocation.reason,
            protection_limit_w=watts(d.id, protection_allocation.current_a, protection_allocation.source, phases),
            protection_source=protection_allocation.source,
            inputs={
                "algorithm": inputs.algorithm,
                "grid_percent": inputs.grid_percent,
                "solar_budget_w": inputs.solar_budget_w,
                "grid_allowed": grid[d.id][0],
                "failsafe_current_a": inputs.failsafe_current_a,
                "measured_current_a": d.measured_current_a,
                "max_current_a": round(d.max_current_a, 1),
                "manual_limit_w": by_id[d.id].manual_limit_w,
                "external_limit_w": by_id[d.id].external_limit_w,
                "fuses": {f.id: {"limit_a": f.limit_a, "other_load_a": f.other_load_a} for f in inputs.fuses},
            },
        )
    return decisions


def apply_order(current_w: dict[str, int | None], new_w: dict[str, int]) -> list[str]:
    """Chargers whose limit changes, lowered ones first: no moment may exceed a fuse while
    limits move. A charger with no known limit counts as unlimited (so it is lowered first)."""
    changed = [cid for cid, w in new_w.items() if current_w.get(cid) != w]
    return sorted(changed, key=lambda cid: (0 if current_w.get(cid) is None or new_w[cid] < current_w[cid] else 1, cid))


def schedule_from(
    periods: list[tuple[float, float]], *, now_s: float, end_s: float | None
) -> list[tuple[float, float | None]]:
    """A schedule of (start epoch s, limit) as what it does from `now_s` on: the limit in force now,
    then each change, then its end (limit None). Two profiles that agree here do the same to the
    car whatever their startSchedule says; re-sending one would only wear the charger's flash."""
    if end_s is not None and end_s <= now_s:
        return []
    ordered = sorted(periods)
    in_force = [(now_s, limit) for start_s, limit in ordered if start_s <= now_s][-1:]
    result: list[tuple[float, float | None]] = []
    for start_s, limit in in_force + [p for p in ordered if p[0] > now_s]:
        if not result or result[-1][1] != limit:
            result.append((start_s, limit))
    return [*result, (end_s, None)] if end_s is not None else result
