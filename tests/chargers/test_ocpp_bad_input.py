"""Malformed and hostile input over the real socket: the right CALLERROR, nothing lost, and
the server keeps serving this charger and others."""

import asyncio
import json

import pytest

from chargers.models import ChargerEvent
from sessions.models import ChargingSession, MeterSample
from tests.factories import make_charger
from tests.ocpp_client import RECENT_DAY, RawCharger, open_socket, raw_frames_then_heartbeat

pytestmark = pytest.mark.django_db(transaction=True)

STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
START = {"connectorId": 1, "idTag": "RFID1", "meterStart": 0, "timestamp": f"{RECENT_DAY}T10:00:00Z"}

BAD_FRAMES = [
    # (what, frame, expected unique id, expected error code)
    ("not JSON", "this is not json", "-1", "FormationViolation"),
    ("JSON but not a list", '{"hello": 1}', "-1", "FormationViolation"),
    ("a CALL missing its action", '[2, "m1"]', "m1", "FormationViolation"),
    ("an unknown message type", '[7, "m2", "Heartbeat", {}]', "m2", "PropertyConstraintViolation"),
    ("a payload that is not an object", '[2, "m3", "Heartbeat", []]', "m3", "FormationViolation"),
    ("an unknown action", '[2, "m4", "MakeCoffee", {}]', "m4", "NotImplemented"),
    ("a central-system action sent by a charger", '[2, "m5", "Reset", {"type": "Hard"}]', "m5", "NotSupported"),
    ("an unexpected field", '[2, "m6", "Heartbeat", {"extra": 1}]', "m6", "FormationViolation"),
    ("a missing required field", '[2, "m7", "BootNotification", {"chargePointVendor": "X"}]', "m7", "ProtocolError"),
    (
        "a wrong type",
        json.dumps([2, "m8", "StatusNotification", {**STATUS, "connectorId": "1"}]),
        "m8",
        "TypeConstraintViolation",
    ),
    (
        "a value outside the enum",
        json.dumps([2, "m9", "StatusNotification", {**STATUS, "status": "Sleeping"}]),
        "m9",
        "PropertyConstraintViolation",
    ),
    ("a too long idTag", json.dumps([2, "m10", "Authorize", {"idTag": "X" * 21}]), "m10", "TypeConstraintViolation"),
    (
        "a date-time without a zone",
        json.dumps([2, "m11", "StartTransaction", {**START, "timestamp": f"{RECENT_DAY}T10:00:00"}]),
        "m11",
        "TypeConstraintViolation",
    ),
    (
        "a date-time that is not one",
        json.dumps([2, "m12", "StartTransaction", {**START, "timestamp": "yesterday"}]),
        "m12",
        "TypeConstraintViolation",
    ),
    (
        "a transaction on connector 0",
        json.dumps([2, "m13", "StartTransaction", {**START, "connectorId": 0}]),
        "m13",
        "PropertyConstraintViolation",
    ),
    (
        "a meter value that is not a number",
        json.dumps(
            [
                2,
                "m14",
                "MeterValues",
                {
                    "connectorId": 1,
                    "meterValue": [{"timestamp": f"{RECENT_DAY}T10:00:00Z", "sampledValue": [{"value": "lots"}]}],
                },
            ]
        ),
        "m14",
        "PropertyConstraintViolation",
    ),
    (
        "an empty sampledValue list",
        json.dumps(
            [
                2,
                "m15",
                "MeterValues",
                {"connectorId": 1, "meterValue": [{"timestamp": f"{RECENT_DAY}T10:00:00Z", "sampledValue": []}]},
            ]
        ),
        "m15",
        "OccurenceConstraintViolation",
    ),
    (
        "a negative connector id",
        json.dumps([2, "m16", "StatusNotification", {**STATUS, "connectorId": -1}]),
        "m16",
        "PropertyConstraintViolation",
    ),
    (
        "an oversized frame",
        json.dumps([2, "m17", "DataTransfer", {"vendorId": "x", "data": "A" * 70_000}]),
        "m17",
        "FormationViolation",
    ),
]


@pytest.mark.parametrize(("what", "frame", "unique_id", "code"), BAD_FRAMES, ids=[b[0] for b in BAD_FRAMES])
def test_a_bad_frame_gets_the_right_callerror_and_the_connection_goes_on(ocpp_server, what, frame, unique_id, code):
    charger = make_charger()

    answer, after = raw_frames_then_heartbeat(ocpp_server, charger.charge_point_id, frame)
    assert answer[:3] == [4, unique_id, code], answer
    assert after[0] == 3, "the same connection still serves good frames"
    assert ChargerEvent.objects.filter(charger=charger, kind="protocol_error").count() == 1


def test_a_binary_frame_is_refused_with_a_callerror(ocpp_server):
    charger = make_charger()

    async def scenario():
        raw = RawCharger(await open_socket(ocpp_server, charger.charge_point_id))
        answer = await raw.send_frame(b'[2, "b1", "Heartbeat", {}]')
        await raw.ws.close()
        return answer

    assert asyncio.run(scenario())[:3] == [4, "-1", "FormationViolation"]


def test_garbage_from_one_charger_loses_nothing_and_does_not_disturb_another(ocpp_server):
    noisy = make_charger()
    quiet = make_charger()

    async def scenario():
        good = RawCharger(await open_socket(ocpp_server, quiet.charge_point_id))
        started = await good.call("StartTransaction", START)
        tx = started[2]["transactionId"]
        await good.call(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": tx,
                "meterValue": [{"timestamp": f"{RECENT_DAY}T10:01:00Z", "sampledValue": [{"value": "100"}]}],
            },
        )

        bad = RawCharger(await open_socket(ocpp_server, noisy.charge_point_id))
        for _, frame, *_ in BAD_FRAMES:
            await bad.send_frame(frame)
        # A replay of the good charger's messages in the middle of the noise changes nothing.
        again = await good.call("StartTransaction", START)
        await good.call(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": tx,
                "meterValue": [{"timestamp": f"{RECENT_DAY}T10:02:00Z", "sampledValue": [{"value": "200"}]}],
            },
        )
        heartbeat = await good.call("Heartbeat", {})
        await bad.ws.close()
        await good.ws.close()
        return tx, again[2]["transactionId"], heartbeat

    tx, replayed_tx, heartbeat = asyncio.run(scenario())
    assert replayed_tx == tx
    assert heartbeat[0] == 3
    assert ChargingSession.objects.filter(charger=quiet).count() == 1
    assert list(MeterSample.objects.filter(session_id=tx).values_list("value", flat=True)) == [100, 200]
    assert ChargerEvent.objects.filter(charger=noisy, kind="protocol_error").count() == len(BAD_FRAMES)
