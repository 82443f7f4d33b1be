"""A limit set on an OCPP 2.0.1 station outside this server (NotifyChargingLimit): the period in
force in watts and when it ends. A table, no database."""

import datetime as dt

import pytest

from chargers.device_notices import external_limit_ends, external_limit_w

T0 = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


def schedule(unit="A", periods=((0, 10.0),), **fields) -> dict:
    return {
        "id": 1,
        "charging_rate_unit": unit,
        "charging_schedule_period": [{"start_period": s, "limit": limit} for s, limit in periods],
        **fields,
    }


@pytest.mark.parametrize(
    ("case", "given", "now", "phases", "expected_w"),
    [
        ("amps on a 1-phase charger", schedule(), T0, 1, 2300),
        ("amps on a 3-phase charger", schedule(), T0, 3, 6900),
        ("watts as they are", schedule("W", ((0, 4200),)), T0, 3, 4200),
        ("the period in force now", schedule(periods=((0, 16), (600, 8))), T0 + dt.timedelta(minutes=11), 1, 1840),
        (
            "before the first period starts: the first",
            schedule(periods=((0, 16),)),
            T0 - dt.timedelta(minutes=1),
            1,
            3680,
        ),
        ("periods out of order", schedule(periods=((600, 8), (0, 16))), T0 + dt.timedelta(minutes=5), 1, 3680),
        ("zero stops the car", schedule(periods=((0, 0),)), T0, 1, 0),
        ("a negative limit is no limit", schedule(periods=((0, -5),)), T0, 1, None),
        ("an infinite one neither", schedule(periods=((0, float("inf")),)), T0, 1, None),
    ],
)
def test_the_limit_in_force_in_watts(case, given, now, phases, expected_w):
    assert external_limit_w(schedule=given, start=T0, now=now, phases=phases) == expected_w


def test_a_periods_number_of_phases_wins_over_the_wiring():
    given = {
        "id": 1,
        "charging_rate_unit": "A",
        "charging_schedule_period": [{"start_period": 0, "limit": 10, "number_phases": 1}],
    }
    assert external_limit_w(schedule=given, start=T0, now=T0, phases=3) == 2300


def test_it_ends_after_its_duration_else_when_cleared():
    assert external_limit_ends(schedule=schedule(duration=3600), start=T0) == T0 + dt.timedelta(hours=1)
    assert external_limit_ends(schedule=schedule(), start=T0) is None
