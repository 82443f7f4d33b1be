"""MQTT against hostile input and broken data, through the real Mosquitto on 127.0.0.1:1883
(issue 25, item 9): a flood of commands each gets a result, carried out or refused "busy" at
once (7,213 of 10,000 QoS-1 commands once got none); numbers no meter shows are never
published (a negative power, a 309-digit energy). Bounded: 3,000 commands."""

import datetime as dt
import json
import time

import pytest

from integrations.mqtt.bridge import MAX_PENDING_INBOUND
from integrations.mqtt.payloads import meter_payloads
from sessions.models import ChargingSession, MeterSample
from tests.conftest import start_server, stop_server
from tests.factories import make_charger
from tests.mqtt_client import Recorder
from tests.test_mqtt import mqtt_env, prefix  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db(transaction=True)

COMMANDS = 3000
WINDOW = 2 * MAX_PENDING_INBOUND


def test_every_command_of_a_flood_gets_a_result_busy_or_carried_out(django_db_setup, tmp_path, prefix):  # noqa: F811
    charger = make_charger(charge_point_id="flooded", is_connected=False)
    topic = f"{prefix}/charger/{charger.charge_point_id}/command"
    process, _ = start_server(tmp_path, mqtt_env(prefix))
    try:
        with Recorder(f"{prefix}/bridge/status") as status, Recorder(f"{topic}/result") as mqtt:
            status.wait_for(f"{prefix}/bridge/status", lambda p: p == "online")
            deadline = time.monotonic() + 90
            for n in range(COMMANDS):
                # A window of unanswered commands a little over the bridge's queue: enough to
                # overflow it, never so many that Mosquitto's own per-client queue (1,000 by
                # default) drops them before the bridge reads them.
                while n - len(mqtt.on(f"{topic}/result")) >= WINDOW and time.monotonic() < deadline:
                    time.sleep(0.005)
                payload = {"action": "set_limit", "limit_w": 3000, "request_id": n}
                mqtt.client.publish(topic, json.dumps(payload), qos=1)
            while len(mqtt.on(f"{topic}/result")) < COMMANDS and time.monotonic() < deadline:
                time.sleep(0.2)
            results = [m.json for m in mqtt.on(f"{topic}/result")]
    finally:
        stop_server(process)

    answered = sorted(r["request_id"] for r in results)
    assert answered == list(range(COMMANDS)), f"{len(set(answered))} of {COMMANDS} answered"
    statuses = {r["status"] for r in results}
    assert statuses <= {"offline", "busy"}, statuses
    busy = [r for r in results if r["status"] == "busy"]
    assert busy, "the flood went past the queue: some commands were answered busy"
    assert all(r["action"] == "set_limit" and "send the command again later" in r["message"] for r in busy)


def sampled(measurand: str, value: float, unit: str = "", phase: str = "") -> dict:
    return {"measurand": measurand, "value": value, "unit": unit, "phase": phase, "context": "", "location": ""}


@pytest.mark.parametrize(
    ("values", "power_w", "energy_wh", "kept"),
    [
        (
            [sampled("Power.Active.Import", 7.2, "kW"), sampled("Energy.Active.Import.Register", 15678, "Wh")],
            7200,
            15678,
            2,
        ),
        (
            [sampled("Power.Active.Import", -5000, "W"), sampled("Energy.Active.Import.Register", 1e308, "Wh")],
            None,
            None,
            0,
        ),
        (
            [sampled("Power.Active.Import", 1e15, "W"), sampled("Energy.Active.Import.Register", 12.5, "kWh")],
            None,
            12500,
            1,
        ),
        ([sampled("Power.Active.Import", float("inf")), sampled("SoC", 250, "Percent")], None, None, 0),
    ],
)
def test_a_meter_payload_leaves_out_values_no_meter_shows(values, power_w, energy_wh, kept):
    event = {
        "charge_point_id": "cp",
        "connector_id": 1,
        "transaction_id": 1,
        "sets": [{"timestamp": "t", "sampled_value": values}],
    }

    [payload] = meter_payloads(event)

    assert (payload["power_w"], payload["energy_register_wh"], len(payload["sampled_value"])) == (
        power_w,
        energy_wh,
        kept,
    )
    assert "1e+308" not in json.dumps(payload) and "Infinity" not in json.dumps(payload)


def test_a_session_stored_with_absurd_samples_publishes_no_absurd_state(django_db_setup, tmp_path, prefix):  # noqa: F811
    """Rows an old version stored before samples were bounded at the door."""
    charger = make_charger(charge_point_id="broken-meter")
    session = ChargingSession.objects.create(
        charger=charger, connector_id=1, started_at=dt.datetime.now(dt.UTC), meter_start_wh=0
    )
    at = dt.datetime.now(dt.UTC)
    for measurand, value in (("Power.Active.Import", -1e300), ("Energy.Active.Import.Register", 1e300)):
        MeterSample.objects.create(
            charger=charger, connector_id=1, session=session, timestamp=at, measurand=measurand, unit="W", value=value
        )
    process, _ = start_server(tmp_path, mqtt_env(prefix))
    try:
        with Recorder(f"{prefix}/#") as mqtt:
            state = mqtt.wait_for(f"{prefix}/charger/broken-meter/state").json
    finally:
        stop_server(process)

    assert (state["power_w"], state["energy_session_wh"]) == (None, None)
