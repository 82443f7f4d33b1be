"""The charger interface builds each call from typed values, in the charger's protocol: for OCPP
1.6 exactly the payloads energy control and remote control sent as hand-written dicts, each one
valid against the official schema."""

import datetime as dt

import pytest
from ocpp.messages import Call, _validate_payload

from chargers.link import (
    REMOTE_ID_TAG,
    LimitPeriod,
    LimitPurpose,
    composite_schedule_read_call,
    configuration_read_call,
    limit_clear_call,
    limit_set_call,
    schedule_set_call,
    start_call,
    stop_call,
)
from chargers.models import Charger

NOW = dt.datetime(2026, 1, 13, 10, 0, 0, 400_000, tzinfo=dt.UTC)


def charger(**overrides) -> Charger:
    fields = {"charge_point_id": "CP1", "max_power_w": 11000, "phases": 3, "connection_protocol": "ocpp1.6"}
    fields.update(overrides)
    return Charger(**fields)


def sent(call) -> tuple[str, dict]:
    _validate_payload(Call("1", call.action, call.payload), "1.6")
    return call.action, call.payload


def test_a_fuse_limit_goes_to_the_whole_charger_in_amps_at_the_lowest_stack_level():
    call = limit_set_call(charger=charger(), purpose=LimitPurpose.CHARGER_MAX, limit_w=11000, now=NOW)

    assert sent(call) == (
        "SetChargingProfile",
        {
            "connectorId": 0,
            "csChargingProfiles": {
                "chargingProfileId": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "ChargePointMaxProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "startSchedule": "2026-01-13T10:00:00Z",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 15.9}],
                },
            },
        },
    )


def test_a_solar_limit_rides_on_the_transaction_and_tells_a_switching_charger_its_phases():
    switching = charger(can_switch_phases=True, charging_rate_units="Power", max_stack_level=1)

    call = limit_set_call(
        charger=switching,
        purpose=LimitPurpose.TRANSACTION,
        limit_w=2300,
        now=NOW,
        duration_s=600,
        phases=1,
        number_phases=1,
        connector_id=2,
        transaction_id=7,
    )

    assert sent(call)[1] == {
        "connectorId": 2,
        "csChargingProfiles": {
            "chargingProfileId": 3,
            "stackLevel": 1,  # the charger accepts no higher
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Absolute",
            "transactionId": 7,
            "chargingSchedule": {
                "chargingRateUnit": "W",
                "startSchedule": "2026-01-13T10:00:00Z",
                "duration": 600,
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 2300.0, "numberPhases": 1}],
            },
        },
    }


def test_below_six_amps_a_limit_pauses_the_car():
    call = limit_set_call(charger=charger(phases=1), purpose=LimitPurpose.CHARGER_MAX, limit_w=1000, now=NOW)

    assert call.payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 0.0}
    ]


@pytest.mark.parametrize(
    ("max_periods", "duration_s", "kept", "expected_duration_s"),
    [
        (None, 14400, [0, 3600, 7200, 10800], 14400),  # not known: the whole plan
        (4, 14400, [0, 3600, 7200, 10800], 14400),
        (2, 14400, [0, 3600], 7200),  # cut where the third would start
        (2, None, [0, 3600], 7200),
        (2, 5000, [0, 3600], 5000),
        (0, 14400, [0, 3600, 7200, 10800], 14400),  # 0 holds nothing: taken as not known
    ],
)
def test_a_plan_longer_than_the_charger_holds_is_cut_to_its_periods(max_periods, duration_s, kept, expected_duration_s):
    plan = [LimitPeriod(start_s=s, limit_w=w) for s, w in ((0, 0), (3600, 11000), (7200, 0), (10800, 11000))]
    for protocol in ("ocpp1.6", "ocpp2.0.1"):
        call = schedule_set_call(
            charger=charger(max_periods_per_schedule=max_periods, connection_protocol=protocol),
            purpose=LimitPurpose.DEFAULT,
            periods=plan,
            start=NOW,
            duration_s=duration_s,
        )
        profile = call.payload.get("csChargingProfiles") or call.payload["chargingProfile"]
        schedule = profile["chargingSchedule"]
        schedule = schedule[0] if isinstance(schedule, list) else schedule
        assert [p["startPeriod"] for p in schedule["chargingSchedulePeriod"]] == kept
        assert schedule["duration"] == expected_duration_s


def test_a_time_of_use_plan_is_one_profile_of_several_periods_in_the_chargers_unit():
    start = NOW.replace(microsecond=0)
    periods = [LimitPeriod(start_s=0, limit_w=0), LimitPeriod(start_s=3600, limit_w=11000)]

    call = schedule_set_call(
        charger=charger(), purpose=LimitPurpose.DEFAULT, periods=periods, start=start, duration_s=7200
    )

    assert sent(call)[1] == {
        "connectorId": 0,
        "csChargingProfiles": {
            "chargingProfileId": 2,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "startSchedule": "2026-01-13T10:00:00Z",
                "duration": 7200,
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 0.0}, {"startPeriod": 3600, "limit": 15.9}],
            },
        },
    }


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (
            lambda c: limit_clear_call(charger=c, purpose=LimitPurpose.DEFAULT),
            ("ClearChargingProfile", {"chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 1}),
        ),
        (
            lambda c: start_call(charger=c, connector_id=1),
            ("RemoteStartTransaction", {"connectorId": 1, "idTag": REMOTE_ID_TAG}),
        ),
        (lambda c: stop_call(charger=c, transaction_id=7), ("RemoteStopTransaction", {"transactionId": 7})),
        (lambda c: configuration_read_call(charger=c), ("GetConfiguration", {})),
        (
            lambda c: configuration_read_call(charger=c, keys=["NumberOfConnectors"]),
            ("GetConfiguration", {"key": ["NumberOfConnectors"]}),
        ),
        (
            lambda c: composite_schedule_read_call(charger=c, connector_id=0, duration_s=60),
            ("GetCompositeSchedule", {"connectorId": 0, "duration": 60}),
        ),
    ],
    ids=["clear", "start", "stop", "every key", "some keys", "composite schedule"],
)
def test_the_other_calls_carry_what_the_charger_needs_and_nothing_more(build, expected):
    assert sent(build(charger())) == expected


def test_a_charger_not_connected_yet_is_spoken_to_in_the_protocol_configured_for_it():
    call = stop_call(charger=charger(connection_protocol="", protocol="ocpp1.6"), transaction_id=7)

    assert call.action == "RemoteStopTransaction"
