"""Share current among chargers without exceeding any limit. Plain data in, data out.

Every limit is a linear constraint: a fuse on one phase (each charger using that phase counts
its current once), or a power budget such as solar surplus (each charger counts its current ×
phases × 230 V). Chargers are switched on in order of precedence while every constraint can
still give each of them the 6 A a car needs (IEC 61851), then the remaining capacity is shared
by progressive filling: fair by weight for `proportional` and `round_robin`, in order for
`priority`. A charger never gets 0 < current < its minimum.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

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
    name: str
    source: str  # what a charger held back by it reports as limit source: circuit, solar, grid...
    capacity: float
    coefficients: dict[str, float]  # charger id -> how much one amp of it uses


@dataclass(frozen=True)
class Allocation:
    current_a: float
    reason: str
    source: str  # which limit holds it back: circuit, solar, grid, charger, demand, idle, paused


# A car that draws this much less than its limit is taken to want only what it draws + this.
DEMAND_MARGIN_A = 2.0


def demand_cap_a(charger: ChargerDemand) -> tuple[float, str]:
    """The most a charger can use: its maximum, or what its car really draws plus a margin."""
    cap = charger.max_current_a
    measured, limit = charger.measured_current_a, charger.current_limit_a
    if measured is not None and limit is not None and measured < limit - DEMAND_MARGIN_A:
        drawn_cap = max(charger.min_current_a, measured + DEMAND_MARGIN_A)
        if drawn_cap < cap:
            return drawn_cap, f"the car draws only {measured:.1f} A"
    return cap, "charger maximum"


def fuse_constraints(fuses: Sequence[Fuse], chargers: Sequence[ChargerDemand]) -> list[Constraint]:
    """One constraint per fuse and phase: every charger below the fuse that draws on that phase."""
    by_id = {f.id: f for f in fuses}
    constraints = []
    for fuse in fuses:
        for phase in fuse.phases:
            users = {c.id: 1.0 for c in chargers if phase in c.phases and _is_below(c.fuse_id, fuse.id, by_id)}
            capacity = max(0.0, fuse.limit_a - fuse.other_load_a.get(phase, 0.0))
            constraints.append(Constraint(f"{fuse.id} {phase}", "circuit", capacity, users))
    return constraints


def _is_below(fuse_id: str, ancestor_id: str, by_id: dict[str, Fuse]) -> bool:
    seen = set()
    while fuse_id is not None and fuse_id not in seen:
        if fuse_id == ancestor_id:
            return True
        seen.add(fuse_id)
        fuse_id = by_id[fuse_id].parent_id
    return False


def power_budget(name: str, source: str, budget_w: float, chargers: Iterable[ChargerDemand]) -> Constraint:
    """Total EV power under a budget (solar surplus, grid import cap), across phases."""
    return Constraint(name, source, max(0.0, budget_w), {c.id: NOMINAL_VOLTAGE_V * len(c.phases) for c in chargers})


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
    caps: dict[str, tuple[float, str]] = {}
    candidates = []
    for charger in chargers:
        if not charger.wants_power:
            result[charger.id] = Allocation(0.0, "no car wants to charge", "idle")
            continue
        cap, cap_reason = demand_cap_a(charger)
        if cap < charger.min_current_a:
            result[charger.id] = Allocation(0.0, f"{cap_reason} is below {charger.min_current_a:g} A", "charger")
            continue
        caps[charger.id] = (cap, cap_reason)
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
            result[charger.id] = Allocation(
                0.0, f"paused: {blocking[0].name} cannot give it {charger.min_current_a:g} A", blocking[0].source
            )
            continue
        for i, c in enumerate(constraints):
            remaining[i] -= c.coefficients.get(charger.id, 0.0) * charger.min_current_a
        switched_on.append(charger)

    current = {c.id: c.min_current_a for c in switched_on}
    weight = {c.id: (c.max_current_a if algorithm == "proportional" else 1.0) for c in switched_on}
    order = {c.id: i for i, c in enumerate(switched_on)}
    growing = {c.id for c in switched_on if current[c.id] + STEP_A <= caps[c.id][0] + 1e-9}
    while growing:
        if algorithm == "priority":
            chosen = min(growing, key=lambda cid: order[cid])
        else:
            chosen = min(growing, key=lambda cid: (current[cid] / weight[cid], order[cid]))
        needs = [c.coefficients.get(chosen, 0.0) * STEP_A for c in constraints]
        if any(remaining[i] < need - 1e-9 for i, need in enumerate(needs)):
            growing.discard(chosen)
            continue
        for i, need in enumerate(needs):
            remaining[i] -= need
        current[chosen] = round(current[chosen] + STEP_A, 1)
        if current[chosen] + STEP_A > caps[chosen][0] + 1e-9:
            growing.discard(chosen)

    for charger in switched_on:
        amps = current[charger.id]
        cap, cap_reason = caps[charger.id]
        if amps + STEP_A > cap + 1e-9:
            source = "charger" if cap_reason == "charger maximum" else "demand"
            result[charger.id] = Allocation(amps, cap_reason, source)
            continue
        binding = next(
            (
                c
                for i, c in enumerate(constraints)
                if c.coefficients.get(charger.id) and remaining[i] < c.coefficients[charger.id] * STEP_A - 1e-9
            ),
            None,
        )
        if binding is None:  # only possible for rounding leftovers
            result[charger.id] = Allocation(amps, "shared fairly", "circuit")
        else:
            result[charger.id] = Allocation(amps, f"{binding.name} is fully used", binding.source)
    return result
