"""MQTT against the real Mosquitto on 127.0.0.1:1883 and the live server: what a charger does
appears on its topics, commands reach it, readings and grid levels steer energy control, the
bridge survives a broker restart, and runs as its own process when scaled out."""

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid

import pytest
import redis
from ocpp.v16 import call

from chargers.models import Charger, ChargerCommand
from energy.models import EnergyReading, GridResponse, SolarCharging
from integrations.mqtt.topics import TopicPattern
from sessions.models import ChargingSession
from tests.chargepoint_sim201 import sim_station
from tests.conftest import ROOT, _database_url, start_server, stop_server
from tests.energy.test_control_end_to_end import AMPS_ONLY, profiles
from tests.factories import make_charger, make_site
from tests.mqtt_client import Recorder, broker_start, broker_stop, clear_retained
from tests.ocpp_client import RECENT_DAY, AnsweringCharger, eventually, in_a_thread, library_charger
from tests.services import require_service

pytestmark = pytest.mark.django_db(transaction=True)

STATE_KEYS = {
    "charger_id",
    "connection_status",
    "connector_status",
    "power_w",
    "energy_session_wh",
    "limit_w",
    "limit_source",
    "limit_reason",
    # The owner's mode, target and plan; the current per phase and the car's state of charge.
    "mode",
    "target",
    "plan_summary",
    "plan_next",
    "plan_cost",
    "current_l1_a",
    "current_l2_a",
    "current_l3_a",
    "soc_percent",
    "timestamp",
}


class Stack:
    """A live server with MQTT on, under a topic prefix of its own, and a recorder of it."""

    def __init__(self, server, prefix: str, recorder: Recorder):
        self.server, self.prefix, self.mqtt = server, prefix, recorder

    def topic(self, charger: Charger, *rest: str) -> str:
        return "/".join((self.prefix, "charger", charger.charge_point_id, *rest))

    def state(self, charger: Charger, check=lambda s: True, timeout_s: float = 15.0) -> dict:
        return self.mqtt.wait_for(self.topic(charger, "state"), check, timeout_s).json


def mqtt_env(prefix: str) -> dict[str, str]:
    return {
        "MQTT_URL": "mqtt://127.0.0.1:1883",
        "MQTT_PREFIX": prefix,
        # Under the prefix too, so the run leaves nothing in the broker's real discovery tree.
        "MQTT_HA_DISCOVERY_PREFIX": f"{prefix}/homeassistant",
        "MQTT_REFRESH_INTERVAL": "5",
    }


@pytest.fixture
def prefix():
    require_service("Mosquitto", "127.0.0.1", 1883)
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    yield prefix
    broker_start()
    clear_retained(f"{prefix}/#")


@pytest.fixture
def stack(django_db_setup, tmp_path, prefix):
    process, server = start_server(tmp_path, mqtt_env(prefix))
    with Recorder(f"{prefix}/#") as recorder:
        recorder.wait_for(f"{prefix}/bridge/status", lambda p: p == "online")
        yield Stack(server, prefix, recorder)
    stop_server(process)


def iso_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def wait_until(check, timeout_s: float = 15.0):
    return await in_a_thread(eventually, check, timeout_s)


async def boot(cp, *, vendor="Wallbox", model="Pulsar Plus"):
    await cp.call(call.BootNotification(charge_point_vendor=vendor, charge_point_model=model, firmware_version="5.2.1"))


def test_a_charger_that_boots_and_charges_appears_on_its_topics(stack):
    charger = make_charger(charge_point_id="charger-garage", name="Garage Charger", max_power_w=7400)
    state_topic = stack.topic(charger, "state")

    async def scenario():
        async with library_charger(stack.server, charger.charge_point_id, charge_point_class=AnsweringCharger) as cp:
            await boot(cp)
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))
            started = await cp.call(
                call.StartTransaction(
                    connector_id=1, id_tag="RFID1", meter_start=12345, timestamp=f"{RECENT_DAY}T09:00:00Z"
                )
            )
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
            await cp.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=started.transaction_id,
                    meter_value=[
                        {
                            "timestamp": f"{RECENT_DAY}T10:30:00Z",
                            "sampled_value": [
                                {"value": "15678", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                                {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
                                {"value": "31.3", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
                            ],
                        }
                    ],
                )
            )
            # Each state is read as the events come: the one after the meter values has both.
            state = await in_a_thread(
                stack.state, charger, lambda s: (s["connector_status"], s["energy_session_wh"]) == ("Charging", 3333)
            )

            # A state change reaches MQTT within a second.
            sent = time.monotonic()
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="SuspendedEV"))
            suspended = await in_a_thread(
                stack.mqtt.wait_for, state_topic, lambda s: s["connector_status"] == "SuspendedEV"
            )
            assert suspended.at - sent < 1.0, f"took {suspended.at - sent:.2f} s"

            await cp.call(
                call.StopTransaction(
                    meter_stop=15678,
                    timestamp=f"{RECENT_DAY}T10:45:00Z",
                    transaction_id=started.transaction_id,
                    reason="EVDisconnected",
                )
            )
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Finishing"))
            return started.transaction_id, state

    transaction_id, state = asyncio.run(scenario())

    # The spec's state payload, exactly.
    assert set(state) == STATE_KEYS
    assert state["timestamp"].endswith("Z")
    # What energy control decides and plans is its own tests' business.
    decided = ("timestamp", "limit_w", "limit_source", "limit_reason", "plan_summary", "plan_next", "plan_cost")
    assert {k: v for k, v in state.items() if k not in decided} == {
        "charger_id": "charger-garage",
        "connection_status": "connected",
        "connector_status": "Charging",
        "power_w": 7200,
        "energy_session_wh": 3333,
        "mode": "smart",
        "target": None,
        # The meter values are dated RECENT_DAY, not the last half hour: no current or SoC now.
        "current_l1_a": None,
        "current_l2_a": None,
        "current_l3_a": None,
        "soc_percent": None,
    }
    # Gone from the socket: disconnected, no session running.
    final = stack.state(charger, lambda s: s["connection_status"] == "disconnected")
    assert (final["connector_status"], final["power_w"], final["energy_session_wh"]) == ("Finishing", 0, 0)

    # The limit energy control put in force, as the API shows it. Eventually: the runs the
    # charger's events asked for may still have been deciding when it closed its socket.
    def limit_in_force_published() -> bool:
        charger.refresh_from_db()
        published = {(m.json["limit_w"], m.json["limit_source"]) for m in stack.mqtt.on(state_topic)}
        return (
            charger.control.limit_w is not None and (charger.control.limit_w, charger.control.limit_source) in published
        )

    assert eventually(limit_in_force_published, timeout_s=15)

    connector = stack.mqtt.wait_for(stack.topic(charger, "connector", "1"), lambda c: c["status"] == "Finishing")
    assert connector.json["error_code"] == "NoError" and connector.json["connector_id"] == 1

    events = [m for m in stack.mqtt.on(stack.topic(charger, "transaction"))]
    assert [m.json["event"] for m in events] == ["started", "stopped"]
    assert all(m.qos == 1 and not m.retain for m in events)
    assert events[0].json == {
        "event": "started",
        "charger_id": "charger-garage",
        "transaction_id": transaction_id,
        "connector_id": 1,
        "id_tag": "RFID1",
        "meter_start_wh": 12345,
        "started": f"{RECENT_DAY}T09:00:00Z",
        "timestamp": f"{RECENT_DAY}T09:00:00Z",
    }
    stopped = events[1].json
    assert (stopped["energy_wh"], stopped["meter_stop_wh"], stopped["reason"]) == (3333, 15678, "EVDisconnected")
    assert stopped["stopped"] == stopped["timestamp"] == f"{RECENT_DAY}T10:45:00Z"

    meter = stack.mqtt.wait_for(stack.topic(charger, "meter")).json
    assert meter["timestamp"] == f"{RECENT_DAY}T10:30:00Z"
    assert (meter["transaction_id"], meter["power_w"], meter["energy_register_wh"]) == (transaction_id, 7200, 15678)
    assert {v["measurand"] for v in meter["sampled_value"]} == {
        "Energy.Active.Import.Register",
        "Power.Active.Import",
        "Current.Import",
    }

    # Retained: a client that subscribes later gets the state and the connector at once.
    with Recorder(f"{stack.prefix}/charger/#") as late:
        retained = late.wait_for(state_topic, lambda s: s["connection_status"] == "disconnected")
        assert retained.retain
        assert late.wait_for(stack.topic(charger, "connector", "1")).retain
        assert not late.on(stack.topic(charger, "transaction")), "events are not retained"

    # Home Assistant discovery: the charger is a device with sensors and a limit number.
    discovery = f"{stack.prefix}/homeassistant"
    node = f"{stack.prefix}_charger-garage"
    power = stack.mqtt.wait_for(
        f"{discovery}/sensor/{node}/power/config", lambda c: c["device"]["manufacturer"] == "Wallbox"
    ).json
    assert (power["state_topic"], power["unit_of_measurement"], power["device_class"]) == (state_topic, "W", "power")
    assert power["device"]["manufacturer"] == "Wallbox" and power["device"]["model"] == "Pulsar Plus"
    assert power["availability_topic"] == f"{stack.prefix}/bridge/status"
    limit = stack.mqtt.wait_for(f"{discovery}/number/{node}/limit/config").json
    assert limit["command_topic"] == stack.topic(charger, "command")
    assert (limit["min"], limit["max"]) == (0, 7400)
    for key in ("session_energy", "status"):
        stack.mqtt.wait_for(f"{discovery}/sensor/{node}/{key}/config")


def test_the_periodic_refresh_publishes_new_chargers_and_clears_deleted_ones(stack):
    charger = make_charger(charge_point_id="added-in-the-admin")
    state_topic = stack.topic(charger, "state")
    config_topic = f"{stack.prefix}/homeassistant/sensor/{stack.prefix}_added-in-the-admin/power/config"
    state = stack.mqtt.wait_for(state_topic, timeout_s=15).json
    assert (state["connection_status"], state["connector_status"], state["power_w"]) == ("disconnected", None, 0)
    stack.mqtt.wait_for(config_topic)

    charger.delete()
    for topic in (state_topic, config_topic):
        assert stack.mqtt.wait_for(topic, lambda payload: payload == "", timeout_s=15).raw == b""


def test_a_set_limit_command_reaches_the_charger_and_the_result_says_accepted(stack):
    charger = make_charger(max_power_w=7400, phases=1)
    result_topic = stack.topic(charger, "command", "result")

    async def scenario():
        async with library_charger(stack.server, charger.charge_point_id, charge_point_class=AnsweringCharger) as cp:
            await boot(cp)
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
            start = {"action": "start", "request_id": "start-1"}
            await in_a_thread(stack.mqtt.publish, stack.topic(charger, "command"), start)
            started = await in_a_thread(stack.mqtt.wait_for, result_topic, lambda r: r.get("request_id") == "start-1")
            # The charger does as it was told; energy control then gives the car its limit.
            await cp.call(call.StartTransaction(connector_id=1, id_tag="GrayLogic", meter_start=0, timestamp=iso_now()))
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
            assert await wait_until(lambda: Charger.objects.get(pk=charger.pk).control.limit_source == "charger")

            command = {"action": "set_limit", "limit_w": 3000, "reason": "Load balancing", "duration_seconds": None}
            await in_a_thread(stack.mqtt.publish, stack.topic(charger, "command"), {**command, "request_id": 1})
            result = await in_a_thread(stack.mqtt.wait_for, result_topic, lambda r: r.get("request_id") == 1)
            return cp, result, started

    cp, result, started = asyncio.run(scenario())
    assert result.qos == 1
    assert result.json["status"] == "accepted", result.json
    assert result.json["charger_response"] == {"status": "Accepted"}
    assert (result.json["limit_w"], result.json["limit_source"]) == (3000, "manual")
    # 3000 W on one phase at 230 V, in amps (rounded down to 0.1 A).
    assert profiles(cp, "ChargePointMaxProfile")[-1] == 13.0
    assert started.json["status"] == "accepted"
    assert [p for a, p in cp.received if a == "RemoteStartTransaction"] == [{"connector_id": 1, "id_tag": "GrayLogic"}]

    state = stack.state(charger, lambda s: s["limit_w"] == 3000)
    assert state["limit_source"] == "manual"
    charger.refresh_from_db()
    assert (charger.control.manual_limit_w, charger.control.manual_limit_reason) == (3000, "Load balancing")
    assert ChargerCommand.objects.filter(charger=charger, requested_by="mqtt").exists()


def test_bad_commands_get_an_error_result_and_change_nothing(stack):
    online = make_charger(max_power_w=7400)
    offline = make_charger(max_power_w=7400)
    commands = [
        (online, b"not json {", "invalid", "not JSON"),
        (online, b"[1, 2]", "invalid", "JSON object"),
        (online, b'{"limit_w": NaN, "action": "set_limit"}', "invalid", "not JSON"),
        (online, {"action": "explode"}, "invalid", "unknown action"),
        (online, {"limit_w": 3000}, "invalid", "unknown action"),
        (online, {"action": "set_limit", "limit_w": -5}, "invalid", "limit_w"),
        (online, {"action": "set_limit", "limit_w": 10**12}, "invalid", "limit_w"),
        (online, {"action": "set_limit", "limit_w": "3000"}, "invalid", "limit_w"),
        (online, {"action": "set_limit", "limit_w": 3000.5}, "invalid", "limit_w"),
        (online, {"action": "set_limit"}, "invalid", "limit_w"),
        (online, {"action": "set_limit", "limit_w": 3000, "duration_seconds": -1}, "invalid", "duration_seconds"),
        (online, {"action": "start", "connector_id": 0}, "invalid", "connector_id"),
        (online, {"action": "start", "id_tag": "TAG\u0000"}, "invalid", "NUL (U+0000)"),
        (online, {"action": "stop"}, "busy", "no charging session"),
        (online, b"x" * 100_000, "invalid", "larger than"),
        (offline, {"action": "set_limit", "limit_w": 3000}, "offline", "offline"),
        (None, {"action": "set_limit", "limit_w": 3000}, "unknown_charger", "no charger"),
    ]

    async def scenario():
        async with library_charger(stack.server, online.charge_point_id, charge_point_class=AnsweringCharger) as cp:
            await boot(cp)
            assert await wait_until(lambda: profiles(cp, "ChargePointMaxProfile"))
            # The boot's last step: the server checks what the charger holds.
            assert await wait_until(lambda: any(action == "GetCompositeSchedule" for action, _ in cp.received))
            received_before = len(cp.received)
            results = []
            for charger, payload, *_ in commands:
                topic = stack.topic(charger, "command") if charger else f"{stack.prefix}/charger/nobody-here/command"
                result_topic = topic + "/result"
                count = len(stack.mqtt.on(result_topic))
                await in_a_thread(stack.mqtt.publish, topic, payload)
                await wait_until(lambda t=result_topic, n=count: len(stack.mqtt.on(t)) > n)
                results.append(stack.mqtt.on(result_topic)[count].json)
            return results, cp.received[received_before:]

    results, received = asyncio.run(scenario())
    for (_, payload, status, message), result in zip(commands, results, strict=True):
        assert result["status"] == status, (payload, result)
        text = result["message"] + json.dumps(result.get("fields", {}))
        assert message in text, (payload, result)
    assert [action for action, _ in received if action != "SetChargingProfile"] == []
    for charger in (online, offline):
        charger.refresh_from_db()
        assert charger.control.manual_limit_w is None
    assert not ChargerCommand.objects.filter(requested_by__contains="mqtt").exists(), "nothing reached a charger"


def test_bad_readings_and_grid_levels_are_refused_and_store_nothing(stack):
    site = make_site(name="home")
    errors = f"{stack.prefix}/bridge/errors"
    readings = f"{stack.prefix}/site/home/readings"
    inputs = [
        (readings, b"oops", "not JSON"),
        (readings, {"grid_w": "-3000"}, "grid_w"),
        (readings, {"solar_w": -1}, "solar_w"),
        (readings, {"frequency_hz": 1000}, "frequency_hz"),
        (readings, {}, "at least one"),
        (readings, {"grid_w": 100, "measured_at": "9999-01-01T00:00:00Z"}, "ahead of the server's clock"),
        (f"{stack.prefix}/site/elsewhere/readings", {"grid_w": 100}, "no site"),
        (f"{readings}/power", b"100", "unknown reading"),
        (f"{readings}/grid_w", b"lots", "not JSON"),
        (f"{readings}/grid_w", b'"100"', "must be a number"),
        (f"{stack.prefix}/site/home/grid_level", b"apocalyptic", "level must be"),
        (f"{stack.prefix}/site/home/grid_level", {"level": 3}, "level must be"),
    ]
    for number, (topic, payload, message) in enumerate(inputs, start=1):
        stack.mqtt.publish(topic, payload)
        eventually(lambda n=number: len(stack.mqtt.on(errors)) >= n, 10)
        error = stack.mqtt.on(errors)[number - 1].json
        assert error["topic"] == topic and message in error["error"], (payload, error)
    assert not EnergyReading.objects.filter(site=site).exists()
    assert not GridResponse.objects.filter(site=site).exclude(level="normal").exists()


def test_readings_on_the_configured_topic_change_the_solar_limit(stack):
    site = make_site(name="home", circuit_limit_a=63, min_interval_s=1)
    SolarCharging.objects.create(
        site=site, enabled=True, mode="solar_only", start_delay_s=0, update_interval_s=1, window_s=30
    )
    GridResponse.objects.create(site=site, enabled=True)
    charger = make_charger(site=site, phases=1, max_power_w=7400)

    async def scenario():
        async with library_charger(stack.server, charger.charge_point_id, charge_point_class=AnsweringCharger) as cp:
            cp.configuration = AMPS_ONLY
            await boot(cp)
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
            await cp.call(
                call.StartTransaction(
                    connector_id=1, id_tag="RFID1", meter_start=0, timestamp=f"{RECENT_DAY}T10:00:00Z"
                )
            )
            # No surplus reading yet: solar_only keeps the car paused.
            assert await wait_until(lambda: profiles(cp, "TxProfile")[-1:] == [0.0], 30)
            reading = {"grid_w": -3000, "measured_at": dt.datetime.now(dt.UTC).isoformat()}
            await in_a_thread(stack.mqtt.publish, f"{stack.prefix}/site/home/readings", reading)
            # 3000 W exported, on one phase at 230 V: 13.0 A.
            assert await wait_until(lambda: profiles(cp, "TxProfile")[-1:] == [13.0], 30)

            # The grid operator says high: every charger stops (grid response 0 %).
            await in_a_thread(stack.mqtt.publish, f"{stack.prefix}/site/home/grid_level", b"high")
            assert await wait_until(lambda: profiles(cp, "ChargePointMaxProfile")[-1:] == [0.0], 30)

    asyncio.run(scenario())
    stored = EnergyReading.objects.get(site=site)
    assert (stored.grid_w, stored.source) == (-3000, "mqtt")
    grid = GridResponse.objects.get(site=site)
    assert (grid.level, grid.level_source) == ("high", "mqtt")
    assert stack.state(charger, lambda s: s["limit_source"] == "grid")["limit_w"] == 0


def test_state_is_republished_after_the_broker_restarts(django_db_setup, tmp_path, prefix):
    process, server = start_server(tmp_path, mqtt_env(prefix))
    charger = make_charger(max_power_w=7400)
    stack = Stack(server, prefix, None)
    state_topic = stack.topic(charger, "state")
    try:

        async def scenario():
            async with library_charger(server, charger.charge_point_id, charge_point_class=AnsweringCharger) as cp:
                await boot(cp)
                await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
                with Recorder(f"{prefix}/#") as before:
                    await in_a_thread(before.wait_for, state_topic, lambda s: s["connector_status"] == "Available")
                await in_a_thread(broker_stop)
                # While the broker is away the car starts: the bridge cannot publish it now.
                await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
                await asyncio.sleep(0.5)
                await in_a_thread(broker_start)
                # "Charging" was never published before: only the republish can bring it.
                with Recorder(f"{prefix}/#") as after:
                    await in_a_thread(after.wait_for, state_topic, lambda s: s["connector_status"] == "Charging", 30)
                with Recorder(f"{prefix}/#") as late:
                    state = await in_a_thread(late.wait_for, state_topic)
                    status = await in_a_thread(late.wait_for, f"{prefix}/bridge/status")
                return state, status

        state, status = asyncio.run(scenario())
    finally:
        broker_start()
        stop_server(process)
    assert state.retain and (state.json["connection_status"], state.json["connector_status"]) == (
        "connected",
        "Charging",
    )
    assert status.retain and status.raw == b"online"
    log = server.log_path.read_text()
    assert "MQTT connection lost" in log and log.count("MQTT connected to") >= 2


@pytest.fixture
def scaled_stack(django_db_setup, tmp_path, prefix):
    """A server on Redis and the bridge as its own process (`manage.py mqtt_bridge`)."""
    require_service("Redis", "127.0.0.1", 6379)
    redis_url = "redis://127.0.0.1:6379/11"
    redis.Redis.from_url(redis_url).flushdb()
    env = {**mqtt_env(prefix), "REDIS_URL": redis_url, "OCPP_COMMAND_TIMEOUT": "5"}
    server_process, server = start_server(tmp_path, env)
    log = (tmp_path / "mqtt-bridge.log").open("w")
    bridge = subprocess.Popen(
        [sys.executable, "manage.py", "mqtt_bridge"],
        cwd=ROOT,
        env={**os.environ, **env, "DATABASE_URL": _database_url(), "LOG_LEVEL": "INFO"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        with Recorder(f"{prefix}/#") as recorder:
            recorder.wait_for(f"{prefix}/bridge/status", lambda p: p == "online", 30)
            yield Stack(server, prefix, recorder)
    finally:
        for process in (bridge, server_process):
            stop_server(process)
        redis.Redis.from_url(redis_url).flushdb()


def test_scaled_out_the_bridge_process_publishes_the_same_state_and_commands_reach_the_charger(scaled_stack):
    stack = scaled_stack
    charger = make_charger(max_power_w=7400, phases=1)

    async def scenario():
        async with library_charger(stack.server, charger.charge_point_id, charge_point_class=AnsweringCharger) as cp:
            await boot(cp)
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
            # The bridge publishes as events reach it, from another process: wait for the state
            # that has both, not the first one carrying the connector's status.
            state = await in_a_thread(
                stack.state,
                charger,
                lambda s: (s["connector_status"], s["connection_status"]) == ("Charging", "connected"),
            )
            assert await wait_until(lambda: Charger.objects.get(pk=charger.pk).probed_at)
            await in_a_thread(
                stack.mqtt.publish, stack.topic(charger, "command"), {"action": "set_limit", "limit_w": 2300}
            )
            result = await in_a_thread(stack.mqtt.wait_for, stack.topic(charger, "command", "result"))
            return cp, state, result.json

    cp, state, result = asyncio.run(scenario())
    assert set(state) == STATE_KEYS
    assert result["status"] == "accepted", result
    assert profiles(cp, "ChargePointMaxProfile")[-1:] == [10.0]  # 2300 W / 230 V
    final = stack.state(charger, lambda s: s["connection_status"] == "disconnected")
    assert final["charger_id"] == charger.charge_point_id


def test_input_topics_take_placeholders_as_whole_levels():
    pattern = TopicPattern.parse("{prefix}/site/{site}/readings", prefix="home/ev", setting="X")
    assert pattern.subscription == "home/ev/site/+/readings"
    match = pattern.match("home/ev/site/garage/readings/grid_w", allow_rest=True)
    assert (match.site, match.rest) == ("garage", "grid_w")
    assert pattern.match("home/ev/site/garage/readings/grid_w") is None
    assert pattern.match("home/ev/other/garage/readings") is None
    from django.core.exceptions import ImproperlyConfigured

    for bad in ("{prefix}/site-{site}/readings", "{prefix}/+/readings", "{prefix}//readings", "{prefix}/{site2}"):
        with pytest.raises(ImproperlyConfigured):
            TopicPattern.parse(bad, prefix="graylogic", setting="X")


def test_a_reading_may_come_one_value_per_topic_in_the_forms_meters_publish():
    from integrations.mqtt.inbound import InputError, grid_level_store, reading_store

    site = make_site(name="home")
    for field, raw in [("grid_w", b"-1200.5"), ("solar_w", b' {"value": 2500} '), ("frequency_hz", b"50.02")]:
        reading_store(site=site, raw=raw, field=field)
    stored = list(
        EnergyReading.objects.filter(site=site).order_by("id").values_list("grid_w", "solar_w", "frequency_hz")
    )
    assert stored == [(-1200.5, None, None), (None, 2500, None), (None, None, 50.02)]
    for field, raw in [("grid_w", b"Infinity"), ("grid_w", b"true"), ("grid_w", b"2e6"), ("site", b"1")]:
        with pytest.raises(InputError):
            reading_store(site=site, raw=raw, field=field)

    for raw in (b"moderate", b'"HIGH"', b'{"level": "normal"}'):
        grid_level_store(site=site, raw=raw)
    assert GridResponse.objects.get(site=site).level == "normal"
    assert EnergyReading.objects.filter(site=site).count() == 3


def test_mqtt_settings_are_checked_at_start(settings):
    from django.core.exceptions import ImproperlyConfigured

    from integrations.mqtt.config import mqtt_config

    settings.MQTT_URL = "mqtts://bridge:s%40cret@broker.example:8884"
    settings.MQTT_READING_TOPICS = {"grid_w": "shellies/em3/power"}
    config = mqtt_config()
    assert (config.host, config.port, config.tls, config.username, config.password) == (
        "broker.example",
        8884,
        True,
        "bridge",
        "s@cret",
    )
    assert "s@cret" not in repr(config)
    assert "shellies/em3/power" in config.subscriptions()
    for name, value in [
        ("MQTT_URL", "http://broker:1883"),
        ("MQTT_URL", "mqtt://:1883"),
        ("MQTT_READING_TOPICS", {"watts": "a/b"}),
        ("MQTT_READING_TOPICS", {"grid_w": "meters/+/power"}),
        ("MQTT_READINGS_TOPIC", "{prefix}/site-{site}"),
        ("MQTT_PREFIX", "home/#"),
    ]:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(settings, name, value)
            with pytest.raises(ImproperlyConfigured):
                mqtt_config()


def test_the_server_says_the_bridge_is_offline_when_it_stops(django_db_setup, tmp_path, prefix):
    process, _server = start_server(tmp_path, mqtt_env(prefix))
    with Recorder(f"{prefix}/bridge/status") as recorder:
        recorder.wait_for(f"{prefix}/bridge/status", lambda p: p == "online")
        stop_server(process)
        recorder.wait_for(f"{prefix}/bridge/status", lambda p: p == "offline")


def test_a_start_and_a_stop_command_reach_a_201_station_in_its_own_calls(stack):
    charger = make_charger(charge_point_id="station-201", password="garage-secret-201")
    result_topic = stack.topic(charger, "command", "result")

    async def command(action: str) -> dict:
        await in_a_thread(stack.mqtt.publish, stack.topic(charger, "command"), {"action": action, "request_id": action})
        return (await in_a_thread(stack.mqtt.wait_for, result_topic, lambda r: r.get("request_id") == action)).json

    async def scenario():
        async with sim_station(stack.server, charger.charge_point_id, password="garage-secret-201") as st:
            started = await command("start")
            await st.follow_ups_done()
            stopped = await command("stop")
            await st.follow_ups_done()
            return st, started, stopped

    st, started, stopped = asyncio.run(scenario())
    assert (started["status"], stopped["status"]) == ("accepted", "accepted")
    [start] = st.sent("RequestStartTransaction")
    session = ChargingSession.objects.get(charger=charger)
    assert session.remote_start_id == start["remoteStartId"] and session.stop_reason == "Remote"
    assert st.sent("RequestStopTransaction") == [{"transactionId": session.charger_transaction_id}]
