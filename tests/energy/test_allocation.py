"""Load balancing over the fuse tree: tables of cases and a property test, no database."""

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy.allocation import (
    PHASES,
    ChargerDemand,
    Constraint,
    Fuse,
    allocate,
    fuse_constraints,
    power_budget,
)

THREE = PHASES


def charger(id, fuse="garage", phases=THREE, max_a=32.0, **extra) -> ChargerDemand:
    return ChargerDemand(id=id, fuse_id=fuse, phases=phases, max_current_a=max_a, **extra)


def run(fuses, chargers, algorithm="proportional", extra_constraints=()):
    constraints = fuse_constraints(fuses, chargers) + list(extra_constraints)
    return {cid: (a.current_a, a.source) for cid, a in allocate(chargers, constraints, algorithm).items()}


SITE = Fuse("site", 63)
GARAGE_32 = Fuse("garage", 32, parent_id="site")

CASES = [
    # (name, fuses, chargers, algorithm, expected {id: (amps, source)})
    (
        "the spec's two 32 A chargers on a 32 A 3-phase circuit share it",
        [SITE, GARAGE_32],
        [charger("charger-garage"), charger("charger-driveway")],
        "proportional",
        {"charger-garage": (16.0, "circuit"), "charger-driveway": (16.0, "circuit")},
    ),
    (
        "one charger alone gets its maximum",
        [SITE, GARAGE_32],
        [charger("charger-garage"), charger("charger-driveway", wants_power=False)],
        "proportional",
        {"charger-garage": (32.0, "charger"), "charger-driveway": (0.0, "idle")},
    ),
    (
        "single-phase chargers on different phases do not compete",
        [SITE, GARAGE_32],
        [charger("a", phases=("L1",)), charger("b", phases=("L2",))],
        "proportional",
        {"a": (32.0, "charger"), "b": (32.0, "charger")},
    ),
    (
        "single-phase chargers on the same phase share it",
        [SITE, GARAGE_32],
        [charger("a", phases=("L1",)), charger("b", phases=("L1",))],
        "proportional",
        {"a": (16.0, "circuit"), "b": (16.0, "circuit")},
    ),
    (
        "a single-phase charger beside a three-phase one takes only its phase",
        [SITE, GARAGE_32],
        [charger("one", phases=("L1",), max_a=16), charger("three")],
        "proportional",
        {"one": (10.7, "circuit"), "three": (21.3, "circuit")},
    ),
    (
        "proportional shares by maximum current",
        [SITE, GARAGE_32],
        [charger("big", max_a=32), charger("small", max_a=16)],
        "proportional",
        {"big": (21.3, "circuit"), "small": (10.7, "circuit")},
    ),
    (
        "priority fills the first charger before the next",
        [SITE, GARAGE_32],
        [charger("second", priority=2), charger("first", priority=1)],
        "priority",
        {"first": (26.0, "circuit"), "second": (6.0, "circuit")},
    ),
    (
        "below 6 A each, the latecomer is paused, not trickled",
        [SITE, Fuse("garage", 10, parent_id="site")],
        [charger("early", turn=1), charger("late", turn=2)],
        "round_robin",
        {"early": (10.0, "circuit"), "late": (0.0, "circuit")},
    ),
    (
        "round robin rotates: the one paused longest goes first",
        [SITE, Fuse("garage", 10, parent_id="site")],
        [charger("early", turn=5), charger("late", turn=2)],
        "round_robin",
        {"early": (0.0, "circuit"), "late": (10.0, "circuit")},
    ),
    (
        "exactly 6 A each fits",
        [SITE, Fuse("garage", 12, parent_id="site")],
        [charger("a"), charger("b")],
        "proportional",
        {"a": (6.0, "circuit"), "b": (6.0, "circuit")},
    ),
    (
        "a car drawing less than its limit frees the rest",
        [SITE, GARAGE_32],
        [charger("slow", measured_current_a=6.0, current_limit_a=16.0), charger("fast")],
        "proportional",
        {"slow": (8.0, "demand"), "fast": (24.0, "circuit")},
    ),
    (
        "house load at the main meter leaves less for the cars",
        [Fuse("site", 40, other_load_a={"L1": 20, "L2": 5, "L3": 5}), Fuse("garage", 32, parent_id="site")],
        [charger("car")],
        "proportional",
        {"car": (20.0, "circuit")},
    ),
    (
        "house load that leaves under 6 A pauses the car",
        [Fuse("site", 25, other_load_a={"L2": 20}), Fuse("garage", 32, parent_id="site")],
        [charger("car")],
        "proportional",
        {"car": (0.0, "circuit")},
    ),
    (
        "the main fuse binds above two circuits",
        [Fuse("site", 40), Fuse("garage", 32, parent_id="site"), Fuse("drive", 32, parent_id="site")],
        [charger("a", fuse="garage"), charger("b", fuse="drive")],
        "proportional",
        {"a": (20.0, "circuit"), "b": (20.0, "circuit")},
    ),
    (
        "a charger whose maximum is below 6 A never charges",
        [SITE, GARAGE_32],
        [charger("tiny", max_a=5)],
        "proportional",
        {"tiny": (0.0, "charger")},
    ),
]


@pytest.mark.parametrize(("name", "fuses", "chargers", "algorithm", "expected"), CASES, ids=[c[0] for c in CASES])
def test_allocation(name, fuses, chargers, algorithm, expected):
    assert run(fuses, chargers, algorithm) == expected


@pytest.mark.parametrize(
    ("surplus_w", "expected"),
    [
        (7400, {"a": (16.1, "solar"), "b": (16.0, "solar")}),  # 7383 W; 0.1 A more would be over
        (2760, {"a": (6.0, "solar"), "b": (6.0, "solar")}),
        (2000, {"a": (8.6, "solar"), "b": (0.0, "solar")}),
        (1000, {"a": (0.0, "solar"), "b": (0.0, "solar")}),
    ],
)
def test_a_power_budget_is_shared_like_a_fuse(surplus_w, expected):
    chargers = [charger("a", phases=("L1",), turn=1), charger("b", phases=("L2",), turn=2)]
    budget = power_budget("solar surplus", "solar", surplus_w, chargers)
    assert run([SITE, GARAGE_32], chargers, extra_constraints=[budget]) == expected


def test_caps_with_the_same_name_stay_per_charger():
    chargers = [charger("a"), charger("b")]
    caps = [Constraint("grid response", "grid", 16, {"a": 1.0}), Constraint("grid response", "grid", 16, {"b": 1.0})]
    assert run([SITE, Fuse("garage", 63, parent_id="site")], chargers, extra_constraints=caps) == {
        "a": (16.0, "grid"),
        "b": (16.0, "grid"),
    }


def test_an_unknown_algorithm_is_refused():
    with pytest.raises(ValueError, match="unknown algorithm"):
        allocate([], [], "fastest-first")


@st.composite
def sites(draw):
    fuses = [Fuse("site", draw(st.integers(6, 100)), other_load_a={p: draw(st.integers(0, 30)) for p in PHASES})]
    for i in range(draw(st.integers(0, 4))):
        parent = draw(st.sampled_from([f.id for f in fuses]))
        phases = draw(st.sampled_from([PHASES, ("L1",), ("L2",), ("L3",)]))
        fuses.append(Fuse(f"c{i}", draw(st.integers(1, 63)), phases=phases, parent_id=parent))
    chargers = []
    for i in range(draw(st.integers(0, 6))):
        fuse = draw(st.sampled_from(fuses))
        phases = fuse.phases if len(fuse.phases) == 1 else draw(st.sampled_from([PHASES, ("L1",), ("L2",), ("L3",)]))
        measured = draw(st.none() | st.floats(0, 32))
        chargers.append(
            ChargerDemand(
                id=f"cp{i}",
                fuse_id=fuse.id,
                phases=phases,
                max_current_a=draw(st.integers(1, 63)),
                wants_power=draw(st.booleans()),
                priority=draw(st.integers(0, 3)),
                turn=draw(st.integers(0, 5)),
                measured_current_a=measured,
                current_limit_a=None if measured is None else draw(st.floats(0, 63)),
            )
        )
    budget_w = draw(st.none() | st.integers(0, 30000))
    return fuses, chargers, budget_w


@settings(max_examples=300, deadline=None)
@given(sites(), st.sampled_from(["proportional", "priority", "round_robin"]))
def test_no_fuse_phase_is_ever_exceeded_and_no_car_gets_under_6_amps(site, algorithm):
    fuses, chargers, budget_w = site
    constraints = fuse_constraints(fuses, chargers)
    if budget_w is not None:
        constraints.append(power_budget("budget", "solar", budget_w, chargers))
    result = allocate(chargers, constraints, algorithm)

    for constraint in constraints:
        used = sum(coef * result[cid].current_a for cid, coef in constraint.coefficients.items())
        assert used <= constraint.capacity + 1e-6, constraint.name
    for c in chargers:
        amps = result[c.id].current_a
        assert amps == 0 or c.min_current_a <= amps <= c.max_current_a
        if not c.wants_power:
            assert amps == 0


def _one_step_at_a_time(chargers, constraints, algorithm):
    """The filling as first written, one 0.1 A step per loop: the reference the bulk steps
    (energy/allocation.py::_bulk_steps) must match exactly."""
    from energy.allocation import STEP_A, _precedence, demand_cap_a

    caps = {c.id: demand_cap_a(c)[0] for c in chargers if c.wants_power}
    candidates = [c for c in chargers if c.wants_power and caps[c.id] >= c.min_current_a]
    remaining = [c.capacity for c in constraints]
    switched_on = []
    for charger in _precedence(candidates, algorithm):
        uses = [k.coefficients.get(charger.id, 0.0) * charger.min_current_a for k in constraints]
        if any(remaining[i] < use for i, use in enumerate(uses)):
            continue
        for i, use in enumerate(uses):
            remaining[i] -= use
        switched_on.append(charger)
    current = {c.id: c.min_current_a for c in switched_on}
    weight = {c.id: (c.max_current_a if algorithm == "proportional" else 1.0) for c in switched_on}
    order = {c.id: i for i, c in enumerate(switched_on)}
    growing = {c.id for c in switched_on if current[c.id] + STEP_A <= caps[c.id] + 1e-9}
    while growing:
        if algorithm == "priority":
            chosen = min(growing, key=lambda cid: order[cid])
        else:
            chosen = min(growing, key=lambda cid: (current[cid] / weight[cid], order[cid]))
        needs = [k.coefficients.get(chosen, 0.0) * STEP_A for k in constraints]
        if any(remaining[i] < need - 1e-9 for i, need in enumerate(needs)):
            growing.discard(chosen)
            continue
        for i, need in enumerate(needs):
            remaining[i] -= need
        current[chosen] = round(current[chosen] + STEP_A, 1)
        if current[chosen] + STEP_A > caps[chosen] + 1e-9:
            growing.discard(chosen)
    return {c.id: current.get(c.id, 0.0) for c in chargers}


@settings(max_examples=500, deadline=None)
@given(
    sites(),
    st.sampled_from(["proportional", "priority", "round_robin"]),
    st.lists(st.sampled_from([6.0, 6.0, 6.05, 7.3, 10.0]), min_size=6, max_size=6),
)
def test_bulk_steps_give_exactly_what_one_step_at_a_time_gives(site, algorithm, minimums):
    fuses, chargers, budget_w = site
    chargers = [dataclasses.replace(c, min_current_a=low) for c, low in zip(chargers, minimums, strict=False)]
    constraints = fuse_constraints(fuses, chargers)
    if budget_w is not None:
        constraints.append(power_budget("budget", "solar", budget_w, chargers))
    result = allocate(chargers, constraints, algorithm)
    assert {cid: a.current_a for cid, a in result.items()} == _one_step_at_a_time(chargers, constraints, algorithm)


@pytest.mark.parametrize("algorithm", ["proportional", "priority", "round_robin"])
def test_a_lone_car_on_a_big_fuse_fills_in_bulk_to_the_same_amps(algorithm):
    chargers = [
        charger("home", fuse="site", phases=("L1",), max_a=32),
        charger("van", fuse="site", max_a=16.55, min_current_a=6.05),
    ]
    constraints = [*fuse_constraints([Fuse("site", 100)], chargers), Constraint("manual", "manual", 27.35, {"home": 1})]
    result = allocate(chargers, constraints, algorithm)
    assert {cid: a.current_a for cid, a in result.items()} == _one_step_at_a_time(chargers, constraints, algorithm)
    assert result["home"].current_a == 27.3 and result["van"].current_a == 16.5
