"""A car's own target (OCPP 2.0.1 NotifyEVChargingNeeds) over the site's time-of-use target, for
its charger only (energy/tou.py charger_target, the planner's deadline, energy/control.py
plan_by_charger). Pure table tests: no database."""

import datetime as dt
import zoneinfo

import pytest

from energy.allocation import Fuse
from energy.control import ChargerState, SiteInputs, site_decisions
from energy.tou import CarNeed, Target, charger_target

UTC = zoneinfo.ZoneInfo("UTC")
NOW = dt.datetime(2026, 3, 2, 18, 0, tzinfo=dt.UTC)
READY_BY = NOW.replace(hour=7) + dt.timedelta(days=1)
SITE = Target(deadline=READY_BY, energy_wh=None)
SITE_20_KWH = Target(deadline=READY_BY, energy_wh=20000)


def at(hours: float) -> dt.datetime:
    return NOW + dt.timedelta(hours=hours)


@pytest.mark.parametrize(
    ("case", "site", "cars", "target"),
    [
        ("no car told anything: the site's target", SITE_20_KWH, [], SITE_20_KWH),
        (
            "the car's departure and energy take precedence",
            SITE_20_KWH,
            [CarNeed(departure_at=at(2), energy_wh=8000)],
            Target(at(2), 8000),
        ),
        (
            "a departure after the site's ready-by still wins: the car knows when it leaves",
            SITE,
            [CarNeed(departure_at=at(20), energy_wh=None)],
            Target(at(20), None),
        ),
        (
            "energy only: the site's ready-by stays",
            SITE,
            [CarNeed(departure_at=None, energy_wh=6000)],
            Target(READY_BY, 6000),
        ),
        (
            "what the session delivered so far is taken off",
            SITE,
            [CarNeed(departure_at=at(3), energy_wh=6000, delivered_wh=2500)],
            Target(at(3), 3500),
        ),
        (
            "more delivered than asked: nothing left to plan for",
            SITE_20_KWH,
            [CarNeed(departure_at=None, energy_wh=6000, delivered_wh=7000)],
            Target(READY_BY, 0.0),
        ),
        (
            "a departure already past says nothing: the site's ready-by",
            SITE_20_KWH,
            [CarNeed(departure_at=at(-1), energy_wh=None)],
            SITE_20_KWH,
        ),
        (
            "two cars on one station (two EVSEs): the first to leave, both needs",
            SITE,
            [CarNeed(departure_at=at(5), energy_wh=4000), CarNeed(departure_at=at(2), energy_wh=3000)],
            Target(at(2), 7000),
        ),
    ],
)
def test_the_cars_target_over_the_sites(case, site, cars, target):
    assert charger_target(site, cars, now=NOW) == target, case


def car(cid: str) -> ChargerState:
    return ChargerState(id=cid, fuse_id="main", phases=3, max_power_w=11000, wants_power=True)


@pytest.mark.parametrize(
    ("case", "inputs", "limits"),
    [
        (
            "the site waits; the car that leaves soon charges, the other waits",
            {"plan_by_charger": {"a": (True, "charging now"), "b": (False, "waiting")}},
            {"a": (10971, "charger"), "b": (0, "plan")},
        ),
        (
            "the site charges; a car whose need is met waits",
            {"plan_by_charger": {"a": (True, ""), "b": (False, "the target is reached")}},
            {"a": (10971, "charger"), "b": (0, "plan")},
        ),
        (
            "solar surplus while one car waits: that car alone is held to the surplus, the other charges in full",
            {
                "plan_by_charger": {"a": (True, ""), "b": (False, "waiting")},
                "solar_budget_w": 30000,
                "solar_surplus_w": 5000,
            },
            {"a": (10971, "charger"), "b": (4968, "plan")},
        ),
    ],
)
def test_a_chargers_own_time_of_use_over_the_sites(case, inputs, limits):
    decisions = site_decisions(SiteInputs(fuses=[Fuse("main", 63)], chargers=[car("a"), car("b")], **inputs))
    assert {cid: (d.limit_w, d.source) for cid, d in decisions.items()} == limits, case
    assert decisions["b"].inputs["grid_allowed"] is False, case
