"""Solar and time-of-use together (issue 24, item 7): surplus solar is always used; time-of-use
decides only what comes from the grid. Pure table: SiteInputs in, limits out."""

import pytest

from energy.allocation import Fuse
from energy.control import ChargerState, SiteInputs, site_decisions

MAIN = Fuse("main", 63)


def three_phase_car(**extra) -> ChargerState:
    return ChargerState(id="car", fuse_id="main", phases=3, max_power_w=22000, wants_power=True, **extra)


@pytest.mark.parametrize(
    ("case", "inputs", "limit_w", "source"),
    [
        (
            "8 kW of export in a peak period: the car takes the surplus, not 0 W",
            {"solar_budget_w": 8000, "solar_surplus_w": 8000, "tou_allows": False},
            7935,
            "solar",
        ),
        (
            "mixed mode's grid top-up is not taken while time-of-use says wait",
            {"solar_budget_w": 8000 + 3000, "solar_surplus_w": 8000, "tou_allows": False},
            7935,
            "tou",
        ),
        (
            "no surplus in a peak period: paused by time-of-use",
            {"solar_budget_w": 1400, "solar_surplus_w": 0, "tou_allows": False},
            0,
            "tou",
        ),
        (
            "off-peak: solar's own mode decides (here mixed: surplus and grid)",
            {"solar_budget_w": 11000, "solar_surplus_w": 8000, "tou_allows": True},
            10971,
            "solar",
        ),
        (
            "time-of-use without solar still pauses the car outside its slots",
            {"tou_allows": False},
            0,
            "tou",
        ),
    ],
)
def test_solar_surplus_is_used_whatever_time_of_use_says(case, inputs, limit_w, source):
    decision = site_decisions(SiteInputs(fuses=[MAIN], chargers=[three_phase_car()], **inputs))["car"]
    assert (decision.limit_w, decision.source) == (limit_w, source), case
