"""Every limit combined for a site: a table of cases, no database."""

import pytest

from energy.allocation import Fuse
from energy.control import ChargerState, SiteInputs, apply_order, site_decisions

MAIN = Fuse("main", 63)
GARAGE = Fuse("garage", 32, parent_id="main")  # a 7.4 kW charger (32.2 A) is held at 32 A by it


def car(id="a", phases=1, max_power_w=7400, **extra) -> ChargerState:
    return ChargerState(id=id, fuse_id="garage", phases=phases, max_power_w=max_power_w, wants_power=True, **extra)


def decide(chargers, **inputs):
    result = site_decisions(SiteInputs(fuses=[MAIN, GARAGE], chargers=chargers, **inputs))
    return {cid: (d.limit_w, d.source, d.protection_limit_w, d.phases) for cid, d in result.items()}


CASES = [
    ("nothing but the circuit", [car()], {}, {"a": (7360, "circuit", 7360, 1)}),
    ("nothing but the charger's own maximum", [car(max_power_w=3680)], {}, {"a": (3680, "charger", 3680, 1)}),
    ("a manual limit is kept to the watt", [car(manual_limit_w=3000)], {}, {"a": (3000, "manual", 3000, 1)}),
    ("a manual limit under 6 A pauses", [car(manual_limit_w=1000)], {}, {"a": (0, "manual", 0, 1)}),
    (
        "grid moderate halves the maximum",
        [car(phases=3, max_power_w=22000)],
        {"grid_percent": 50, "grid_reason": "grid moderate"},
        {"a": (10971, "grid", 10971, 3)},
    ),
    ("grid high stops", [car()], {"grid_percent": 0}, {"a": (0, "grid", 0, 1)}),
    (
        "solar limits what the car is meant to get, not the fuse protection",
        [car()],
        {"solar_budget_w": 3000, "solar_reason": "3000 W solar surplus"},
        {"a": (2990, "solar", 7360, 1)},
    ),
    (
        "a charger that can switch drops to one phase when solar is short",
        [car(phases=3, max_power_w=11000, can_switch_phases=True, active_phases=3)],
        {"solar_budget_w": 3000},
        {"a": (2990, "solar", 7360, 1)},
    ),
    (
        "and uses three phases when there is plenty",
        [car(phases=3, max_power_w=11000, can_switch_phases=True, active_phases=1)],
        {"solar_budget_w": 9000},
        {"a": (8970, "solar", 10971, 3)},
    ),
    (
        "time of use outside the plan pauses, protection stays",
        [car()],
        {"plan_by_charger": {"a": (False, "waiting for the off peak rate at 00:00")}},
        {"a": (0, "plan", 7360, 1)},
    ),
    (
        "the plan's grid hours charge in full",
        [car()],
        {"plan_by_charger": {"a": (True, "")}},
        {"a": (7360, "circuit", 7360, 1)},
    ),
    (
        "a silent meter holds every charger at the fail-safe current",
        [car("a"), car("b", connected_phase="L2")],
        {"failsafe_current_a": 6.0, "failsafe_reason": "meter silent"},
        {"a": (1380, "failsafe", 1380, 1), "b": (1380, "failsafe", 1380, 1)},
    ),
    (
        "the smallest limit wins and names its source",
        [car(manual_limit_w=5000)],
        {"grid_percent": 50, "solar_budget_w": 9000},
        {"a": (3680, "grid", 3680, 1)},
    ),
    (
        "a limit set on the charger outside (EMS, grid operator) caps it and names itself",
        [car(external_limit_w=2300, external_limit_reason="the grid operator limits this charger to 2,300 W")],
        {},
        {"a": (2300, "external", 2300, 1)},
    ),
    (
        "what a charger limited outside cannot take goes to the other car on the fuse",
        [car("a", external_limit_w=2300), car("b")],
        {},
        {"a": (2300, "external", 2300, 1), "b": (5060, "circuit", 5060, 1)},
    ),
    (
        "a limit set outside above the fuse share changes nothing",
        [car("a", external_limit_w=7000), car("b")],
        {},
        {"a": (3680, "circuit", 3680, 1), "b": (3680, "circuit", 3680, 1)},
    ),
    (
        "an idle charger gets nothing",
        [ChargerState(id="a", fuse_id="garage", phases=1, max_power_w=7400, wants_power=False)],
        {},
        {"a": (0, "idle", 0, 1)},
    ),
]


@pytest.mark.parametrize(("name", "chargers", "inputs", "expected"), CASES, ids=[c[0] for c in CASES])
def test_site_decisions(name, chargers, inputs, expected):
    assert decide(chargers, **inputs) == expected


@pytest.mark.parametrize(
    ("current", "new", "order"),
    [
        ({"a": 7000, "b": 3000}, {"a": 3000, "b": 7000}, ["a", "b"]),  # lower a before raising b
        ({"a": 3000, "b": 7000}, {"a": 7000, "b": 3000}, ["b", "a"]),
        ({"a": None, "b": 3000}, {"a": 3000, "b": 5000}, ["a", "b"]),  # unknown counts as unlimited
        ({"a": 3000, "b": 3000}, {"a": 3000, "b": 3000}, []),  # nothing changed, nothing sent
    ],
)
def test_lowered_limits_go_first(current, new, order):
    assert apply_order(current, new) == order
