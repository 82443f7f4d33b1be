"""The compiled schemas on the hot path agree with the ocpp library's jsonschema validators."""

import pytest
from ocpp.messages import MessageType, get_validator

from graylogic.runtime.ocpp_routing import payload_is_valid

SAMPLE = {"value": "12.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"}
METER_VALUE = {"timestamp": "2026-01-13T10:00:00Z", "sampledValue": [SAMPLE]}

CASES = [
    ("Heartbeat", {}),
    ("BootNotification", {"chargePointVendor": "Wallbox", "chargePointModel": "Pulsar"}),
    ("BootNotification", {"chargePointVendor": "Wallbox"}),
    ("BootNotification", {"chargePointVendor": "W" * 21, "chargePointModel": "Pulsar"}),
    ("BootNotification", {"chargePointVendor": 7, "chargePointModel": "Pulsar"}),
    ("BootNotification", {"chargePointVendor": "Wallbox", "chargePointModel": "Pulsar", "extra": 1}),
    ("MeterValues", {"connectorId": 1, "meterValue": [METER_VALUE]}),
    ("MeterValues", {"connectorId": 1, "transactionId": 5, "meterValue": [METER_VALUE]}),
    ("MeterValues", {"connectorId": 1, "meterValue": []}),
    ("MeterValues", {"connectorId": "1", "meterValue": [METER_VALUE]}),
    ("MeterValues", {"connectorId": 1.5, "meterValue": [METER_VALUE]}),
    ("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": "2026-01-13T10:00:00Z", "sampledValue": []}]}),
    ("MeterValues", {"connectorId": 1, "meterValue": [{**METER_VALUE, "sampledValue": [{**SAMPLE, "unit": "MWh"}]}]}),
    ("MeterValues", {"connectorId": 1, "meterValue": [{**METER_VALUE, "sampledValue": [{**SAMPLE, "value": 12.5}]}]}),
    ("MeterValues", {"connectorId": 1, "meterValue": [{**METER_VALUE, "sampledValue": [{"unit": "Wh"}]}]}),
    ("MeterValues", {"connectorId": 1, "meterValue": [{**METER_VALUE, "timestamp": "yesterday"}]}),
    ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}),
    ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"}),
    ("StatusNotification", {"connectorId": 1, "errorCode": "NoError"}),
    ("StartTransaction", {"connectorId": 1, "idTag": "RFID", "meterStart": 0, "timestamp": "2026-01-13T10:00:00Z"}),
    ("StartTransaction", {"connectorId": 1, "idTag": "R" * 21, "meterStart": 0, "timestamp": "2026-01-13T10:00:00Z"}),
    ("StopTransaction", {"transactionId": 1, "meterStop": 10, "timestamp": "2026-01-13T10:00:00Z"}),
    ("StopTransaction", {"transactionId": 1, "meterStop": 10, "timestamp": "2026-01-13T10:00:00Z", "reason": "Bored"}),
    ("StopTransaction", {"transactionId": 1, "meterStop": 10, "timestamp": "x", "transactionData": [METER_VALUE]}),
    ("Authorize", {"idTag": "RFID123"}),
    ("Authorize", {"idTag": None}),
    ("DataTransfer", {"vendorId": "acme", "data": "anything"}),
    ("DataTransfer", {"vendorId": "acme", "data": {"not": "a string"}}),
    ("FirmwareStatusNotification", {"status": "Installed"}),
    ("DiagnosticsStatusNotification", {"status": "Done"}),
]


@pytest.mark.parametrize(("action", "payload"), CASES)
def test_the_compiled_schema_agrees_with_the_reference_validator(action, payload):
    reference = get_validator(MessageType.Call, action, "1.6")

    assert payload_is_valid(action, "1.6", payload) == reference.is_valid(payload)


def test_the_cases_cover_both_answers():
    answers = {get_validator(MessageType.Call, a, "1.6").is_valid(p) for a, p in CASES}
    assert answers == {True, False}
