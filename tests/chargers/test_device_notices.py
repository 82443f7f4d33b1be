"""What an OCPP 2.0.1 station's notices say (chargers/device_notices.py): which NotifyEvent is a
fault of which EVSE, and the event log's sentences. Pure table tests: payloads as the ocpp
library hands them to the handlers (snake_case), no database."""

import pytest

from chargers.device_notices import (
    FaultChange,
    charging_limit_text,
    event_text,
    fault_change,
    limit_cleared_text,
    profiles_text,
)


def event(component: str, variable: str, value: str, evse: dict | None = None, **fields) -> dict:
    item = {"component": {"name": component}, "variable": {"name": variable}, "actual_value": value, **fields}
    if evse is not None:
        item["component"]["evse"] = evse
    return item


@pytest.mark.parametrize(
    ("case", "item", "change"),
    [
        (
            "a connector's Problem: the EVSE faults, the station's code kept",
            event("Connector", "Problem", "true", {"id": 2, "connector_id": 1}, tech_code="GroundFailure"),
            FaultChange(evse_id=2, faulted=True, error_code="GroundFailure", vendor_error_code="GroundFailure"),
        ),
        (
            "without a techCode the variable names the error; techInfo is the info",
            event("EVSE", "Problem", "True", {"id": 1}, tech_info="contactor welded"),
            FaultChange(evse_id=1, faulted=True, error_code="Problem", info="contactor welded"),
        ),
        (
            "a Problem of the whole station is EVSE 0's",
            event("ChargingStation", "Problem", "true"),
            FaultChange(evse_id=0, faulted=True, error_code="Problem"),
        ),
        (
            "Problem false ends the fault",
            event("Connector", "Problem", "false", {"id": 1}),
            FaultChange(evse_id=1, faulted=False),
        ),
        (
            "cleared ends it whatever the value says",
            event("Connector", "Problem", "true", {"id": 1}, cleared=True),
            FaultChange(evse_id=1, faulted=False),
        ),
        (
            "AvailabilityState Faulted is a fault",
            event("Connector", "AvailabilityState", "Faulted", {"id": 3}),
            FaultChange(evse_id=3, faulted=True, error_code="AvailabilityState"),
        ),
        (
            "AvailabilityState back to Occupied ends it, and says what the EVSE is",
            event("Connector", "AvailabilityState", "Occupied", {"id": 3}),
            FaultChange(evse_id=3, faulted=False, status="Occupied"),
        ),
        (
            "an AvailabilityState no connector has is no fault",
            event("Connector", "AvailabilityState", "Broken", {"id": 3}),
            None,
        ),
        ("another variable is no fault", event("Connector", "Temperature", "80", {"id": 1}), None),
        ("another component's Problem is no connector's", event("Controller", "Problem", "true"), None),
        (
            "codes cut to their columns",
            event("Connector", "Problem", "true", {"id": 1}, tech_code="X" * 50, tech_info="Y" * 500),
            FaultChange(evse_id=1, faulted=True, error_code="X" * 30, vendor_error_code="X" * 50, info="Y" * 50),
        ),
    ],
)
def test_which_events_fault_which_evse(case, item, change):
    assert fault_change(item) == change, case


@pytest.mark.parametrize(
    ("item", "text"),
    [
        (
            event("Connector", "Problem", "true", {"id": 1, "connector_id": 2}, tech_code="E12", tech_info="RCD"),
            "Connector on EVSE 1 connector 2: Problem = 'true' (E12: RCD)",
        ),
        (
            event("EVSE", "Problem", "false", {"id": 1}, cleared=True),
            "EVSE on EVSE 1: Problem = 'false', cleared",
        ),
        (
            {
                "component": {"name": "TempSensor", "instance": "inlet"},
                "variable": {"name": "Temperature", "instance": "max"},
                "actual_value": "71.5",
            },
            "TempSensor inlet: Temperature max = '71.5'",
        ),
    ],
)
def test_an_event_in_a_line(item, text):
    assert event_text(item) == text


def schedule(unit: str, *limits: float) -> dict:
    periods = [{"start_period": 600 * i, "limit": limit} for i, limit in enumerate(limits)]
    return {"id": 1, "charging_rate_unit": unit, "charging_schedule_period": list(reversed(periods))}


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (
            {"source": "SO", "evse_id": 1, "schedules": [schedule("A", 10)], "grid_critical": True},
            "SO limits EVSE 1 to 10 A (grid critical)",
        ),
        (
            {"source": "EMS", "evse_id": 0, "schedules": [schedule("W", 4200.5, 0, 11000)]},
            "EMS limits the whole station to 4200.5 W then 2 changes",
        ),
        (
            {"source": "Other", "evse_id": None, "schedules": [schedule("A", 16, 8)], "grid_critical": False},
            "Other limits the whole station to 16 A then 1 change",
        ),
        ({"source": "EMS", "evse_id": 2, "schedules": []}, "EMS set a limit on EVSE 2 (no schedule told)"),
    ],
)
def test_a_limit_set_outside_in_words(args, text):
    assert charging_limit_text(**args) == text


def test_a_cleared_limit_and_the_profiles_held_in_words():
    assert limit_cleared_text(source="SO", evse_id=None) == "SO's limit on the whole station cleared"
    profiles = [
        {
            "id": 1,
            "stack_level": 0,
            "charging_profile_purpose": "ChargingStationMaxProfile",
            "charging_schedule": [schedule("A", 16)],
        },
        {
            "id": 2,
            "stack_level": 1,
            "charging_profile_purpose": "TxDefaultProfile",
            "charging_schedule": [schedule("W", 0, 11000), schedule("A", 6)],
        },
    ]
    assert profiles_text(source="CSO", evse_id=0, profiles=profiles, request_id=3) == (
        "the whole station holds, set by CSO (request 3): ChargingStationMaxProfile #1 at stack level 0: 16 A; "
        "TxDefaultProfile #2 at stack level 1: 0 W then 1 change, 6 A"
    )
