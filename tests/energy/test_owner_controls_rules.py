"""The owner's inputs refused by energy.owner_controls before anything is read or written (no
database here: a refusal that touched one would fail), and the plan's slots the API and MQTT
show: table tests."""

import datetime as dt
import math

import pytest
from django.utils import timezone

from chargers.models import Charger
from energy.apis_owner import PlanSlot, plan_slots
from energy.models import Site
from energy.owner_controls import (
    OwnerInputError,
    SeriesSlot,
    charger_mode_set,
    charger_target_set,
    site_prices_store,
    site_solar_forecast_store,
)

SEVEN = dt.time(7, 0)


@pytest.mark.parametrize(
    ("mode", "sentence"),
    [
        ("fast", "mode must be one of off, now, solar, smart, not 'fast'"),
        ("OFF", "mode must be one of off, now, solar, smart, not 'OFF'"),
        ("", "mode must be one of off, now, solar, smart, not ''"),
        (None, "mode must be one of off, now, solar, smart, not None"),
        (3, "mode must be one of off, now, solar, smart, not 3"),
    ],
)
def test_an_unknown_mode_is_refused_with_the_modes_there_are(mode, sentence):
    with pytest.raises(OwnerInputError) as refused:
        charger_mode_set(charger=Charger(), mode=mode, set_by="test")
    assert str(refused.value) == sentence


@pytest.mark.parametrize(
    ("target", "sentence"),
    [
        ({"energy_wh": 20000}, "say by when the car must be ready (ready_by, HH:MM)"),
        ({"ready_by": SEVEN}, "give either the energy to add (energy_wh) or the state of charge (soc_percent)"),
        (
            {"ready_by": SEVEN, "energy_wh": 20000, "soc_percent": 80},
            "give either the energy to add (energy_wh) or the state of charge (soc_percent)",
        ),
        ({"ready_by": SEVEN, "energy_wh": 0}, "energy_wh must be between 1 and 500,000 Wh, not 0"),
        ({"ready_by": SEVEN, "energy_wh": -5}, "energy_wh must be between 1 and 500,000 Wh, not -5"),
        ({"ready_by": SEVEN, "energy_wh": 500_001}, "energy_wh must be between 1 and 500,000 Wh, not 500001"),
        (
            {"ready_by": SEVEN, "soc_percent": 101, "battery_capacity_wh": 60000},
            "soc_percent must be between 1 and 100, not 101",
        ),
        ({"ready_by": SEVEN, "soc_percent": 80}, "a state of charge needs the battery's size (battery_capacity_wh)"),
        (
            {"ready_by": SEVEN, "soc_percent": 80, "battery_capacity_wh": 0},
            "battery_capacity_wh must be between 1 and 500,000 Wh, not 0",
        ),
        (
            {"ready_by": SEVEN, "energy_wh": 1000, "battery_capacity_wh": 10**9},
            "battery_capacity_wh must be between 1 and 500,000 Wh, not 1000000000",
        ),
    ],
)
def test_an_incomplete_or_out_of_range_target_is_refused_with_what_to_give(target, sentence):
    with pytest.raises(OwnerInputError) as refused:
        charger_target_set(charger=Charger(), set_by="test", **{"ready_by": None, **target})
    assert str(refused.value) == sentence


def slot(start_h: float, minutes: int = 15, value: float = 0.25, *, zone=dt.UTC) -> SeriesSlot:
    """A slot `start_h` hours from now (whole minutes), `minutes` long."""
    start = (timezone.now() + dt.timedelta(hours=start_h)).replace(second=0, microsecond=0, tzinfo=None)
    start = start.replace(tzinfo=zone) if zone else start
    return SeriesSlot(start=start, end=start + dt.timedelta(minutes=minutes), value=value)


@pytest.mark.parametrize(
    ("slots", "sentence_ends"),
    [
        ([], "give at least one price_per_kwh slot"),
        ([slot(1, zone=None)], "give times with their zone (ISO 8601 with an offset)"),
        ([slot(1, minutes=30)], "a slot is 15 minutes or an hour long"),
        ([slot(1, value=math.nan)], "price_per_kwh must be between -100 and 100"),
        ([slot(1, value=math.inf)], "price_per_kwh must be between -100 and 100"),
        ([slot(1, value=100.5)], "price_per_kwh must be between -100 and 100"),
        ([slot(1, value=-101)], "price_per_kwh must be between -100 and 100"),
        ([slot(1, minutes=60), slot(1.5)], "overlaps the one before it"),
        ([slot(24 * 7 + 1)], "is more than 7 days ahead"),
        ([slot(-24 * 3)], "is more than 2 days in the past"),
        ([slot(h / 4) for h in range(7 * 96 + 1)], "at most 672 price_per_kwh slots at a time, not 673"),
    ],
    ids=[
        "none",
        "no zone",
        "30 minutes long",
        "NaN",
        "infinite",
        "over 100 per kWh",
        "under -100 per kWh",
        "overlapping",
        "over 7 days ahead",
        "3 days old",
        "over a week of slots",
    ],
)
def test_a_price_series_with_one_wrong_slot_is_refused_whole(slots, sentence_ends):
    with pytest.raises(OwnerInputError) as refused:
        site_prices_store(site=Site(), slots=slots, source="test")
    assert str(refused.value).endswith(sentence_ends)


@pytest.mark.parametrize(
    ("slots", "sentence_ends"),
    [
        ([slot(1, zone=None)], "give times with their zone (ISO 8601 with an offset)"),
        ([slot(1, minutes=20, value=1000)], "a slot is 15 minutes or an hour long"),
        ([slot(1, value=-1)], "solar_w must be between 0 and 1e+06"),
        ([slot(1, value=2e6)], "solar_w must be between 0 and 1e+06"),
        ([slot(1, value=100), slot(1, value=200)], "overlaps the one before it"),
        ([slot(24 * 8, value=100)], "is more than 7 days ahead"),
    ],
)
def test_a_solar_forecast_is_refused_with_the_slot_and_the_reason(slots, sentence_ends):
    with pytest.raises(OwnerInputError) as refused:
        site_solar_forecast_store(site=Site(), slots=slots, source="test")
    assert str(refused.value).endswith(sentence_ends)


def utc(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, 6, hour, minute, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("plan", "slots"),
    [
        (None, []),
        ([], []),
        ([[utc(0).timestamp(), 7400]], [PlanSlot(utc(0), utc(0, 15), 7400)]),
        (
            [[utc(0).timestamp(), 7400], [utc(0, 15).timestamp(), 3680.4], [utc(1).timestamp(), 0]],
            [
                PlanSlot(utc(0), utc(0, 15), 7400),
                PlanSlot(utc(0, 15), utc(1), 3680),
                PlanSlot(utc(1), utc(1, 15), 0),
            ],
        ),
    ],
    ids=["no plan yet", "empty plan", "one slot", "a slot ends where the next starts"],
)
def test_a_stored_plan_reads_as_slots_with_their_ends(plan, slots):
    assert plan_slots(plan) == slots
