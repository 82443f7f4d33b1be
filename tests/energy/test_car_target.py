"""A car's own target (OCPP 2.0.1 NotifyEVChargingNeeds) over the site's time-of-use target, for
its charger only (energy/tou.py charger_target, plan_charging's deadline, energy/control.py
tou_by_charger). Pure table tests: no database."""

import datetime as dt
import zoneinfo

import pytest

from energy.allocation import Fuse
from energy.control import ChargerState, SiteInputs, site_decisions
from energy.tou import CarNeed, Period, Target, charger_target, plan_allows, plan_charging

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


# Cheap from 01:00 to 05:00, standard otherwise (UTC site).
PERIODS = [Period("cheap", 0.08, 1, dt.time(1), dt.time(5)), Period("standard", 0.30, 2)]


@pytest.mark.parametrize(
    ("case", "deadline", "energy_wh", "allowed_now"),
    [
        ("the site's ready-by, no amount: wait for the cheap hours", None, None, False),
        ("the site's ready-by, 10 kWh: the cheap hours hold it", None, 10000, False),
        ("the car leaves at 20:00 with 5 kWh to get: charge now", at(2), 5000, True),
        ("the car leaves at 20:00, no amount: every slot that is not peak", at(2), None, True),
        ("the car leaves at 04:00 with 5 kWh: the cheap hours before it do", at(10), 5000, False),
        ("the car got what it asked: nothing to plan", at(2), 0, False),
    ],
)
def test_a_deadline_replaces_the_ready_by_time(case, deadline, energy_wh, allowed_now):
    plan = plan_charging(
        now=NOW,
        ready_by=dt.time(7),
        tz=UTC,
        periods=PERIODS,
        power_w=11000,
        energy_needed_wh=energy_wh,
        deadline=deadline,
    )
    assert plan_allows(plan, NOW) is allowed_now, case
    assert all(s.end <= (deadline or READY_BY) for s in plan.slots), case


def test_a_plan_for_a_car_says_its_departure():
    plan = plan_charging(
        now=NOW, ready_by=dt.time(7), tz=UTC, periods=PERIODS, power_w=11000, energy_needed_wh=5000, deadline=at(2.5)
    )
    assert plan.reason.endswith("by 20:30")


def car(cid: str) -> ChargerState:
    return ChargerState(id=cid, fuse_id="main", phases=3, max_power_w=11000, wants_power=True)


@pytest.mark.parametrize(
    ("case", "inputs", "limits"),
    [
        (
            "the site waits; the car that leaves soon charges, the other waits",
            {"tou_allows": False, "tou_reason": "waiting", "tou_by_charger": {"a": (True, "charging now")}},
            {"a": (10971, "charger"), "b": (0, "tou")},
        ),
        (
            "the site charges; a car whose need is met waits",
            {"tou_allows": True, "tou_by_charger": {"b": (False, "the charging target is reached")}},
            {"a": (10971, "charger"), "b": (0, "plan")},
        ),
        (
            "solar surplus while one car waits: that car alone is held to the surplus, the other charges in full",
            {
                "tou_allows": True,
                "tou_by_charger": {"b": (False, "waiting")},
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
    assert decisions["b"].inputs["tou_allows"] is False, case
