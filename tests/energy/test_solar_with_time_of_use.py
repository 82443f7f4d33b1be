"""Solar and the plan together (issue 24, item 7; issue 28): surplus solar is always used; the
plan decides only what comes from the grid. Pure table: SiteInputs in, limits out."""

import pytest

from energy.allocation import Fuse
from energy.control import ChargerState, SiteInputs, site_decisions

MAIN = Fuse("main", 63)


def three_phase_car(**extra) -> ChargerState:
    return ChargerState(id="car", fuse_id="main", phases=3, max_power_w=22000, wants_power=True, **extra)


WAIT = {"car": (False, "waiting for the off peak rate at 00:00")}
CHARGE = {"car": (True, "charging at the off peak rate")}


@pytest.mark.parametrize(
    ("case", "inputs", "limit_w", "source"),
    [
        (
            "8 kW of export while the plan waits: the car takes the surplus, not 0 W",
            {"solar_budget_w": 8000, "solar_surplus_w": 8000, "plan_by_charger": WAIT},
            7935,
            "plan",
        ),
        (
            "mixed mode's grid top-up is not taken while the plan says wait",
            {"solar_budget_w": 8000 + 3000, "solar_surplus_w": 8000, "plan_by_charger": WAIT},
            7935,
            "plan",
        ),
        (
            "no surplus while the plan waits: paused by the plan",
            {"solar_budget_w": 1400, "solar_surplus_w": 0, "plan_by_charger": WAIT},
            0,
            "plan",
        ),
        (
            "the plan's grid hours: in full, whatever the solar mode would give",
            {"solar_budget_w": 11000, "solar_surplus_w": 8000, "plan_by_charger": CHARGE},
            21942,  # 31.8 A, the charger's 22 kW in tenths of an amp
            "charger",
        ),
        (
            "a car nobody planned: the solar mode decides (here mixed: surplus and grid)",
            {"solar_budget_w": 11000, "solar_surplus_w": 8000},
            10971,
            "solar",
        ),
        (
            "a plan without solar still pauses the car outside its hours",
            {"plan_by_charger": WAIT},
            0,
            "plan",
        ),
    ],
)
def test_solar_surplus_is_used_whatever_the_plan_says(case, inputs, limit_w, source):
    decision = site_decisions(SiteInputs(fuses=[MAIN], chargers=[three_phase_car()], **inputs))["car"]
    assert (decision.limit_w, decision.source) == (limit_w, source), case
