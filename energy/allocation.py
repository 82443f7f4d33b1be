"""Share current among chargers without exceeding any limit. Plain data in, data out.

Every limit is a linear constraint: a fuse on one phase (each charger using that phase counts
its current once), or a power budget such as solar surplus (each charger counts its current ×
phases × 230 V). Chargers are switched on in order of precedence while every constraint can
still give each of them the 6 A a car needs (IEC 61851), then the remaining capacity is shared
by progressive filling: fair by weight for `proportional` and `round_robin`, in order for
`priority`. A charger never gets 0 < current < its minimum.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from energy import reasons
from energy.sources import LABELS, LimitSource

NOMINAL_VOLTAGE_V = 230.0
PHASES = ("L1", "L2", "L3")
STEP_A = 0.1  # allocation granularity; chargers take limits to 0.1 A

ALGORITHMS = ("proportional", "priority", "round_robin")


@dataclass(frozen=True)
class Fuse:
    """A node of the fuse tree: the site's main fuse (parent None) or a circuit."""

    id: str
    limit_a: float
    phases: tuple[str, ...] = PHASES
    parent_id: str | None = None
    # Load on this fuse that is not an EV charger, per phase (measured at the main meter).
    other_load_a: dict[str, float] = field(default_factory=dict)
    name: str = ""  # as people call it: "main", "garage" (sentences say "the garage fuse")


@dataclass(frozen=True)
class ChargerDemand:
    id: str
    fuse_id: str
    phases: tuple[str, ...]  # the supply phases it draws from: ("L2",) or ("L1", "L2", "L3")
    max_current_a: float
    wants_power: bool = True
    min_current_a: float = 6.0
    priority: int = 0  # lower first (the spec's `priority` list order)
    # Round-robin turn: lower goes first (e.g. the time it was last paused, oldest first).
    turn: float = 0.0
    # What the car really draws now, and the limit it was given; a car drawing well below its
    # limit frees the difference for others.
    measured_current_a: float | None = None
    current_limit_a: float | None = None


@dataclass(frozen=True)
class Constraint:
    # The sentence a charger held back by it shows (energy/reasons.py): "solar surplus is 2,000 W".
    reason: str
    source: str  # what a charger held back by it reports as limit source (LimitSource)
    capacity: float
    coefficients: dict[str, float]  # charger id -> how much one amp of it uses
    # For a limit several chargers share: how a paused one names it ("the main fuse (25 A) on
    # L1"), and the unit of its capacity. A limit without a name explains a pause by its reason.
    name: str = ""
    unit: str = "A"


@dataclass(frozen=True)
class Allocation:
    current_a: float
    reason: str
    source: str  # which limit holds it back (LimitSource)


# A car that draws this much less than its limit is taken to want only what it draws + this.
DEMAND_MARGIN_A = 2.0


def demand_cap_a(charger: ChargerDemand) -> tuple[float, LimitSource]:
    """The most a charger can use: its maximum (CHARGER), or what its car really draws plus a
    margin (DEMAND)."""
    cap = charger.max_current_a
    measured, limit = charger.measured_current_a, charger.current_limit_a
    if measured is not None and limit is not None and measured < limit - DEMAND_MARGIN_A:
        drawn_cap = max(charger.min_current_a, measured + DEMAND_MARGIN_A)
        if drawn_cap < cap:
            return drawn_cap, LimitSource.DEMAND
    return cap, LimitSource.CHARGER


def _cap_reason(charger: ChargerDemand, source: LimitSource) -> str:
    if source == LimitSource.DEMAND and charger.measured_current_a is not None:
        return reasons.car_draws_only(charger.measured_current_a)
    return reasons.charger_maximum(charger.max_current_a)


def fuse_constraints(fuses: Sequence[Fuse], chargers: Sequence[ChargerDemand]) -> list[Constraint]:
    """One constraint per fuse and phase: every charger below the fuse that draws on that phase."""
    by_id = {f.id: f for f in fuses}
    constraints = []
    for fuse in fuses:
        name = reasons.fuse_name(fuse.name or ("main" if fuse.parent_id is None else fuse.id), fuse.limit_a)
        for phase in fuse.phases:
            users = {c.id: 1.0 for c in chargers if phase in c.phases and _is_below(c.fuse_id, fuse.id, by_id)}
            other_load_a = fuse.other_load_a.get(phase, 0.0)
            constraints.append(
                Constraint(
                    reasons.fuse_full(name, phase, other_load=other_load_a > 0),
                    LimitSource.CIRCUIT,
                    max(0.0, fuse.limit_a - other_load_a),
                    users,
                    name=f"{name} on {phase}",
                )
            )
    return constraints


def _is_below(fuse_id: str, ancestor_id: str, by_id: dict[str, Fuse]) -> bool:
    seen = set()
    while fuse_id is not None and fuse_id not in seen:
        if fuse_id == ancestor_id:
            return True
        seen.add(fuse_id)
        fuse_id = by_id[fuse_id].parent_id
    return False


def power_budget(reason: str, source: str, budget_w: float, chargers: Iterable[ChargerDemand]) -> Constraint:
    """Total EV power under a budget (solar surplus, grid import cap), across phases."""
    budget_w = max(0.0, budget_w)
    return Constraint(
        reason,
        source,
        budget_w,
        {c.id: NOMINAL_VOLTAGE_V * len(c.phases) for c in chargers},
        name=reasons.power_budget_name(LABELS.get(source, source), budget_w),
        unit="W",
    )


def _paused_reason(constraint: Constraint, need: float) -> str:
    """Why a charger was left off by `constraint`: its own sentence when it gives nothing at
    all (a plan that says not now, a silent meter), else that the others use the room."""
    if not constraint.name or constraint.capacity <= 0:
        return constraint.reason
    return reasons.no_room(constraint.name, reasons.watts(need) if constraint.unit == "W" else reasons.amps(need))


def _precedence(chargers: list[ChargerDemand], algorithm: str) -> list[ChargerDemand]:
    if algorithm == "priority":
        return sorted(chargers, key=lambda c: (c.priority, c.turn, c.id))
    # proportional and round_robin: whoever waited longest goes first, so nobody starves
    # because they arrived last.
    return sorted(chargers, key=lambda c: (c.turn, c.id))


def allocate(
    chargers: Sequence[ChargerDemand], constraints: Sequence[Constraint], algorithm: str = "proportional"
) -> dict[str, Allocation]:
    """Current per charger. Feasible by construction: every constraint holds for the result."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")
    result: dict[str, Allocation] = {}
    caps: dict[str, tuple[float, LimitSource]] = {}
    candidates = []
    for charger in chargers:
        if not charger.wants_power:
            result[charger.id] = Allocation(0.0, reasons.no_car_wants_power(), LimitSource.IDLE)
            continue
        cap, cap_source = demand_cap_a(charger)
        # A car's draw never caps it below the minimum: this is the charger's own maximum.
        if cap < charger.min_current_a:
            reason = reasons.charger_below_car_minimum(cap, charger.min_current_a)
            result[charger.id] = Allocation(0.0, reason, LimitSource.CHARGER)
            continue
        caps[charger.id] = (cap, cap_source)
        candidates.append(charger)

    # By position: several constraints may share a name (a cap per charger, say).
    remaining = [c.capacity for c in constraints]
    switched_on: list[ChargerDemand] = []
    for charger in _precedence(candidates, algorithm):
        blocking = [
            c
            for i, c in enumerate(constraints)
            if remaining[i] < c.coefficients.get(charger.id, 0.0) * charger.min_current_a
        ]
        if blocking:
            first = blocking[0]
            need = first.coefficients.get(charger.id, 0.0) * charger.min_current_a
            result[charger.id] = Allocation(0.0, _paused_reason(first, need), first.source)
            continue
        for i, c in enumerate(constraints):
            remaining[i] -= c.coefficients.get(charger.id, 0.0) * charger.min_current_a
        switched_on.append(charger)

    current = _progressive_fill(switched_on, caps, constraints, remaining, algorithm)

    for charger in switched_on:
        amps = current[charger.id]
        cap, cap_source = caps[charger.id]
        if amps + STEP_A > cap + 1e-9:
            result[charger.id] = Allocation(amps, _cap_reason(charger, cap_source), cap_source)
            continue
        full = [
            c
            for i, c in enumerate(constraints)
            if c.coefficients.get(charger.id) and remaining[i] < c.coefficients[charger.id] * STEP_A - 1e-9
        ]
        # A cap of this charger's own (a manual limit, one set on the charger) names the limit
        # before a fuse that filled up with it: more room on the fuse would not raise it.
        binding = next((c for c in full if len(c.coefficients) == 1), full[0] if full else None)
        if binding is None:  # only possible for rounding leftovers
            result[charger.id] = Allocation(amps, reasons.shared_fairly(), LimitSource.CIRCUIT)
        else:
            result[charger.id] = Allocation(amps, binding.reason, binding.source)
    return result


def _progressive_fill(
    switched_on: list[ChargerDemand],
    caps: dict[str, tuple[float, LimitSource]],
    constraints: Sequence[Constraint],
    remaining: list[float],
    algorithm: str,
) -> dict[str, float]:
    """Raise the switched-on chargers from their minimum in steps of STEP_A: each step goes to
    the lowest charger (current / weight, then precedence; for `priority` the first in
    precedence), and a charger stops at its cap or when a constraint has no room for its step.
    Far from every limit the steps are taken in bulk (_bulk_steps): a home's car on a 63 A fuse
    would otherwise take 260 of them, twice per control run. `remaining` is used up in place."""
    current = {c.id: c.min_current_a for c in switched_on}
    weight = {c.id: (c.max_current_a if algorithm == "proportional" else 1.0) for c in switched_on}
    order = {c.id: i for i, c in enumerate(switched_on)}
    # Only the constraints a charger counts in: (index, what one step of it uses).
    needs = {
        c.id: [(i, k.coefficients[c.id] * STEP_A) for i, k in enumerate(constraints) if k.coefficients.get(c.id)]
        for c in switched_on
    }
    growing = {c.id for c in switched_on if current[c.id] + STEP_A <= caps[c.id][0] + 1e-9}
    # A minimum such as 6.05 A is off the 0.1 A grid until its first step; bulk steps need the grid.
    off_grid = {cid for cid in growing if _tenths(current[cid]) is None}
    try_bulk = True
    while growing:
        if try_bulk:
            if not off_grid & growing:
                _bulk_steps(growing, current, weight, order, needs, caps, remaining, algorithm)
            try_bulk = False
        if algorithm == "priority":
            chosen = min(growing, key=lambda cid: order[cid])
        else:
            chosen = min(growing, key=lambda cid: (current[cid] / weight[cid], order[cid]))
        step = needs[chosen]
        if any(remaining[i] < need - 1e-9 for i, need in step):
            growing.discard(chosen)
            try_bulk = True
            continue
        for i, need in step:
            remaining[i] -= need
        if chosen in off_grid:
            off_grid.discard(chosen)
            try_bulk = True
        current[chosen] = round(current[chosen] + STEP_A, 1)
        if current[chosen] + STEP_A > caps[chosen][0] + 1e-9:
            growing.discard(chosen)
            try_bulk = True
    return current


def _tenths(amps: float) -> int | None:
    """amps as a whole number of tenths, or None when it is not on that grid."""
    tenths = round(amps * 10)
    return tenths if round(amps, 1) == amps and abs(amps * 10 - tenths) < 1e-6 else None


def _bulk_steps(
    growing: set[str],
    current: dict[str, float],
    weight: dict[str, float],
    order: dict[str, int],
    needs: dict[str, list[tuple[int, float]]],
    caps: dict[str, tuple[float, LimitSource]],
    remaining: list[float],
    algorithm: str,
) -> None:
    """Take at once the steps the one-by-one filling would take next, as long as every one of
    them fits in every constraint and leaves its charger below its cap: the loop would have
    taken the same steps, so the result is the same, step for step. The loop then takes the
    step that meets a limit."""
    tenths = {cid: round(current[cid] * 10) for cid in growing}
    # The most steps each charger may take in bulk: two short of its cap (one that takes none
    # is not held to it).
    most = {cid: math.floor(caps[cid][0] * 10 + 1e-6) - 2 - tenths[cid] for cid in growing}
    # Every step uses some constraint (each charger is under a fuse), so this bounds what is
    # left; with only a few steps left, one by one is cheaper than searching.
    smallest_need: dict[int, float] = {}
    for cid in growing:
        for i, need in needs[cid]:
            smallest_need[i] = min(need, smallest_need.get(i, need))
    steps_left = min(
        sum(max(0, n) for n in most.values()),
        sum(max(0.0, remaining[i]) / need for i, need in smallest_need.items()) if smallest_need else math.inf,
    )
    if steps_left < 4 * len(growing) + 8:
        return

    def fits(steps: dict[str, int]) -> bool:
        used = [0.0] * len(remaining)
        for cid, n in steps.items():
            if n > 0 and n > most[cid]:
                return False
            for i, need in needs[cid]:
                used[i] += need * n
        return all(used[i] <= remaining[i] - 1e-6 for i in range(len(remaining)) if used[i])

    if algorithm == "priority":
        # The first charger takes every step until it stops; the others wait.
        first = min(growing, key=lambda cid: order[cid])
        low, high = 0, max(0, most[first])
        while low < high:
            mid = (low + high + 1) // 2
            low, high = (mid, high) if fits({first: mid}) else (low, mid - 1)
        steps = {first: low}
    else:
        # Steps are taken lowest level (current / weight) first, so the steps below any level
        # all come before the others: they are a prefix of the one-by-one order.
        def below(level: float) -> dict[str, int]:
            steps = {}
            for cid in growing:
                n = max(0, math.ceil(level * weight[cid] * 10 - tenths[cid]) - 1)
                while (tenths[cid] + n) / 10 / weight[cid] < level:
                    n += 1
                while n > 0 and (tenths[cid] + n - 1) / 10 / weight[cid] >= level:
                    n -= 1
                steps[cid] = n
            return steps

        low = min(current[cid] / weight[cid] for cid in growing)
        high = max((tenths[cid] + max(0, most[cid]) + 1) / 10 / weight[cid] for cid in growing)
        # Close enough once no charger has more than one step between the two.
        finest = min(STEP_A / weight[cid] for cid in growing)
        while high - low > finest:
            mid = (low + high) / 2
            low, high = (mid, high) if fits(below(mid)) else (low, mid)
        steps = below(low)
    for cid, n in steps.items():
        if n > 0:
            for i, need in needs[cid]:
                remaining[i] -= need * n
            current[cid] = (tenths[cid] + n) / 10
