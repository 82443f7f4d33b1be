"""The owner's controls over MQTT, through the real Mosquitto on 127.0.0.1:1883 and the live
server: a charger's mode and target (whole, or in halves as Home Assistant's entities send
them), a site's prices and solar forecast, the charger's state with its plan, current per phase
and state of charge, and Home Assistant discovery of the controls, reset and unlock. Bad
payloads are answered and store nothing. (With CI=true an unreachable broker fails the tests.)"""

import asyncio
import datetime as dt
import json
import math

import pytest
from django.utils import timezone

from chargers.models import Charger, ChargerCommand
from energy.models import ChargerControl, PriceSlot, SolarForecastSlot
from tests.chargepoint_sim import iso, sim_charger
from tests.chargepoint_sim201 import sim_station
from tests.factories import make_charger, make_id_tag, make_site
from tests.ocpp_client import eventually, in_a_thread
from tests.test_mqtt import prefix, stack  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-123456"


def control_of(charger: Charger) -> ChargerControl:
    return ChargerControl.objects.get(pk=charger.pk)


def answered(live, charger: Charger, topic_rest: tuple[str, ...], payload, request_id) -> dict:
    """Publish on the charger's topic and wait for the result that echoes the request_id."""
    live.mqtt.publish(live.topic(charger, *topic_rest), payload)
    result_topic = live.topic(charger, "command", "result")
    return live.mqtt.wait_for(result_topic, lambda r: r.get("request_id") == request_id).json


def newest_result(live, charger: Charger, check) -> dict:
    return live.mqtt.wait_for(live.topic(charger, "command", "result"), check).json


def quarter(hours_ahead: float) -> dt.datetime:
    when = timezone.now() + dt.timedelta(hours=hours_ahead)
    return when.replace(minute=when.minute // 15 * 15, second=0, microsecond=0)


def z(when: dt.datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def test_mode_and_target_over_mqtt_reach_the_charger_control_and_its_state(stack):  # noqa: F811
    charger = make_charger(max_power_w=11000, phases=3)

    mode = answered(stack, charger, ("mode", "set"), {"mode": "solar", "request_id": "m1"}, "m1")
    assert (mode["action"], mode["status"], mode["mode"]) == ("set_mode", "accepted", "solar")
    assert control_of(charger).mode == "solar"
    # A plain word, as Home Assistant's select sends it.
    stack.mqtt.publish(stack.topic(charger, "mode", "set"), "now")
    assert eventually(lambda: control_of(charger).mode == "now", timeout_s=10)

    target = answered(
        stack, charger, ("target", "set"), {"ready_by": "07:00", "energy_wh": 20000, "request_id": "t1"}, "t1"
    )
    assert (target["action"], target["status"]) == ("set_target", "accepted")
    assert target["target"] == {
        "ready_by": "07:00",
        "energy_wh": 20000,
        "soc_percent": None,
        "battery_capacity_wh": None,
    }
    control = control_of(charger)
    assert (control.target_ready_by, control.target_energy_wh, control.target_set_by) == (dt.time(7), 20000, "mqtt")

    # The state carries the mode, the target and the plan (none yet: "").
    state = stack.state(charger, lambda s: s.get("mode") == "now" and s.get("target") is not None)
    assert state["target"]["ready_by"] == "07:00"
    assert (state["plan_summary"], state["plan_next"], state["plan_cost"]) == ("", [], None)

    # One field at a time (Home Assistant's time and energy entities) changes that field only.
    answered(stack, charger, ("target", "set"), {"ready_by": "06:15", "request_id": "t2"}, "t2")
    answered(stack, charger, ("target", "set"), {"energy_wh": 15000, "request_id": "t3"}, "t3")
    control = control_of(charger)
    assert (control.target_ready_by, control.target_energy_wh) == (dt.time(6, 15), 15000)

    # null clears it.
    stack.mqtt.publish(stack.topic(charger, "target", "set"), "null")
    assert eventually(lambda: control_of(charger).target_ready_by is None, timeout_s=10)
    cleared = stack.state(charger, lambda s: s.get("target") is None and s.get("mode") == "now")
    assert cleared["charger_id"] == charger.charge_point_id


def test_modes_sent_one_after_another_are_applied_in_their_order(stack):  # noqa: F811
    """Home Assistant's select sends each change at once; the last one sent is the mode kept."""
    charger = make_charger(max_power_w=11000, phases=3)
    modes = ["now", "off", "solar", "now", "smart", "off"] * 3
    for number, mode in enumerate(modes):
        stack.mqtt.publish(stack.topic(charger, "mode", "set"), {"mode": mode, "request_id": f"m{number}"})
    newest_result(stack, charger, lambda r: r.get("request_id") == f"m{len(modes) - 1}")
    assert control_of(charger).mode == "off"


def test_home_assistants_halves_of_a_first_target_make_it_whole_once_both_came(stack):  # noqa: F811
    charger = make_charger()

    first = answered(stack, charger, ("target", "set"), {"ready_by": "07:30", "request_id": "h1"}, "h1")

    assert (first["status"], first["message"]) == (
        "invalid",
        "give either the energy to add (energy_wh) or the state of charge (soc_percent)",
    )
    assert control_of(charger).target_ready_by is None, "half a target is not stored"
    second = answered(stack, charger, ("target", "set"), {"energy_wh": 12500, "request_id": "h2"}, "h2")
    assert second["status"] == "accepted", second
    control = control_of(charger)
    assert (control.target_ready_by, control.target_energy_wh) == (dt.time(7, 30), 12500)


@pytest.mark.parametrize(
    ("topic_rest", "payload", "status", "message"),
    [
        (("mode", "set"), "turbo", "invalid", "mode must be one of off, now, solar, smart, not 'turbo'"),
        (("mode", "set"), {"mode": 3}, "invalid", "mode must be one of off, now, solar, smart, not 3"),
        (("target", "set"), {"ready_by": "7 o'clock", "energy_wh": 9000}, "invalid", "ready_by: Time has wrong format"),
        (("target", "set"), {"ready_by": "07:00", "energy_wh": "9000"}, "invalid", "energy_wh: A valid integer"),
        (("target", "set"), {"ready_by": "07:00", "energy_wh": -1}, "invalid", "energy_wh must be between 1 and"),
        (("target", "set"), {"ready_by": "07:00", "energy_kwh": 9}, "invalid", "unknown field(s) energy_kwh"),
        (("target", "set"), "[1, 2]", "invalid", "payload must be a JSON object (null clears the target)"),
        (("target", "set"), "{not json", "invalid", "payload is not JSON"),
    ],
)
def test_a_bad_mode_or_target_is_answered_and_changes_nothing(stack, topic_rest, payload, status, message):  # noqa: F811
    charger = make_charger()
    ChargerControl.objects.filter(pk=charger.pk).update(mode="solar", target_ready_by=dt.time(6), target_energy_wh=5000)

    stack.mqtt.publish(stack.topic(charger, *topic_rest), payload)
    result = newest_result(stack, charger, lambda r: True)

    assert result["action"] == ("set_mode" if topic_rest[0] == "mode" else "set_target")
    assert result["status"] == status
    assert result["message"].startswith(message), result
    control = control_of(charger)
    assert (control.mode, control.target_ready_by, control.target_energy_wh) == ("solar", dt.time(6), 5000)


def test_an_unknown_charger_is_answered_unknown_charger(stack):  # noqa: F811
    stack.mqtt.publish(f"{stack.prefix}/charger/nobody-here/mode/set", {"mode": "off", "request_id": 5})
    result = stack.mqtt.wait_for(f"{stack.prefix}/charger/nobody-here/command/result").json
    assert (result["status"], result["request_id"]) == ("unknown_charger", 5)


def test_prices_and_a_solar_forecast_posted_over_mqtt_are_stored_for_the_site(stack):  # noqa: F811
    site = make_site(name="garage")
    first = quarter(1)
    hour, quarter_hour = dt.timedelta(hours=1), dt.timedelta(minutes=15)
    prices = [
        {"start": z(first + i * hour), "end": z(first + (i + 1) * hour), "price_per_kwh": p}
        for i, p in enumerate([0.31, 0.12, -0.05])
    ]
    forecast = [
        {"start": z(first + i * quarter_hour), "end": z(first + (i + 1) * quarter_hour), "solar_w": w}
        for i, w in enumerate([0, 1200, 3400.5])
    ]

    stack.mqtt.publish(f"{stack.prefix}/site/garage/prices", {"slots": prices})
    stack.mqtt.publish(f"{stack.prefix}/site/{site.pk}/solar_forecast", {"slots": forecast})

    assert eventually(lambda: PriceSlot.objects.filter(site=site).count() == 3, timeout_s=10)
    assert eventually(lambda: SolarForecastSlot.objects.filter(site=site).count() == 3, timeout_s=10)
    stored = PriceSlot.objects.filter(site=site).order_by("start")
    assert [(s.start, float(s.price_per_kwh), s.source) for s in stored] == [
        (first, 0.31, "mqtt"),
        (first + dt.timedelta(hours=1), 0.12, "mqtt"),
        (first + dt.timedelta(hours=2), -0.05, "mqtt"),
    ]
    assert [s.solar_w for s in SolarForecastSlot.objects.filter(site=site).order_by("start")] == [0, 1200, 3400.5]


def bad_series(case: str) -> tuple[str, str, str]:
    """(series, raw payload, what the refusal says) of each bad case."""
    first = quarter(1)
    slot = {"start": z(first), "end": z(first + dt.timedelta(minutes=15)), "solar_w": 100}
    price = {"start": slot["start"], "end": slot["end"], "price_per_kwh": 0.2}
    far = first + dt.timedelta(days=8)
    cases = {
        "not a time": ("prices", {"slots": [{**price, "start": "NOW"}]}, "slots.0.start: Datetime has wrong format"),
        "slots not a list": ("prices", {"slots": "cheap"}, "slots: Expected a list of items"),
        "price as a string": ("prices", {"slots": [{**price, "price_per_kwh": "0.2"}]}, "slots.0.price_per_kwh"),
        "no slots": ("prices", {"slots": []}, "give at least one price_per_kwh slot"),
        "not an object": ("prices", [price], "payload must be a JSON object"),
        "overlapping": ("solar_forecast", {"slots": [slot, {**slot, "solar_w": 200}]}, "overlaps the one before it"),
        "no zone": (
            "solar_forecast",
            {"slots": [{**slot, "start": slot["start"][:-1], "end": slot["end"][:-1]}]},
            "give times with their zone (ISO 8601 with an offset)",
        ),
        "8 days ahead": (
            "solar_forecast",
            {"slots": [{**slot, "start": z(far), "end": z(far + dt.timedelta(minutes=15))}]},
            "is more than 7 days ahead",
        ),
        "NaN": ("solar_forecast", {"slots": [{**slot, "solar_w": math.nan}]}, "payload is not JSON: NaN is not"),
    }
    series, payload, error = cases[case]
    return series, json.dumps(payload), error


@pytest.mark.parametrize(
    "case",
    [
        "not a time",
        "slots not a list",
        "price as a string",
        "no slots",
        "not an object",
        "overlapping",
        "no zone",
        "8 days ahead",
        "NaN",
    ],
)
def test_a_bad_series_is_refused_on_the_errors_topic_and_stores_nothing(stack, case):  # noqa: F811
    site = make_site(name="garage")
    series, raw, error = bad_series(case)
    topic = f"{stack.prefix}/site/garage/{series}"

    stack.mqtt.publish(topic, raw)
    refused = stack.mqtt.wait_for(f"{stack.prefix}/bridge/errors", lambda e: e["topic"] == topic).json

    assert error in refused["error"], refused
    assert not PriceSlot.objects.filter(site=site).exists()
    assert not SolarForecastSlot.objects.filter(site=site).exists()


def test_home_assistant_discovers_the_controls_and_they_work_on_a_charging_car(stack):  # noqa: F811
    site = make_site(circuit_limit_a=16)
    charger = make_charger(site=site, password=PASSWORD, max_power_w=22000, phases=3, charge_point_id="cp-ha")
    make_id_tag(id_tag="RFID1")
    discovery = f"{stack.prefix}/homeassistant"
    node = f"{stack.prefix}_cp-ha"
    state_topic = stack.topic(charger, "state")

    def config(component: str, key: str) -> dict:
        return stack.mqtt.wait_for(f"{discovery}/{component}/{node}/{key}/config").json

    async def scenario():
        async with sim_charger(stack.server, charger.charge_point_id, password=PASSWORD, phases=3) as cp:
            await cp.plug_in()
            await cp.start()
            await cp.wait_for(lambda: cp.effective_limit_a() == 16, timeout=15, what="the fuse share")
            await cp.call(
                "MeterValues",
                {
                    "connectorId": 1,
                    "transactionId": cp.transaction.id,
                    "meterValue": [
                        {
                            "timestamp": iso(dt.datetime.now(dt.UTC)),
                            "sampledValue": [
                                {"value": "15.9", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
                                {"value": "15.7", "measurand": "Current.Import", "unit": "A", "phase": "L2"},
                                {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": "L3"},
                                {"value": "64", "measurand": "SoC", "unit": "Percent", "location": "EV"},
                            ],
                        }
                    ],
                },
            )
            # A state read while the samples were being written may have some of them: the next has all.
            state = await in_a_thread(
                stack.state, charger, lambda s: s.get("soc_percent") == 64 and s.get("current_l1_a") is not None
            )
            soc = await in_a_thread(config, "sensor", "soc")

            # The mode select's command, as Home Assistant sends it: the option as a plain word.
            select = await in_a_thread(config, "select", "mode")
            await in_a_thread(stack.mqtt.publish, select["command_topic"], "now")
            await in_a_thread(stack.state, charger, lambda s: s.get("mode") == "now")

            # The buttons: reset and unlock reach the charger through the command topic.
            for key in ("reset", "unlock"):
                button = await in_a_thread(config, "button", key)
                await in_a_thread(stack.mqtt.publish, button["command_topic"], button["payload_press"])
            await cp.wait_for(lambda: cp.sent("Reset") and cp.sent("UnlockConnector"), what="reset and unlock")
            return state, soc, select

    state, soc, select = asyncio.run(scenario())

    assert (state["current_l1_a"], state["current_l2_a"], state["current_l3_a"]) == (15.9, 15.7, 16.0)
    assert (soc["state_topic"], soc["device_class"], soc["unit_of_measurement"]) == (state_topic, "battery", "%")
    assert select["options"] == ["off", "now", "solar", "smart"]
    assert select["command_topic"] == stack.topic(charger, "mode", "set")
    assert control_of(charger).mode == "now"
    for action in ("reset", "unlock"):
        result = newest_result(stack, charger, lambda r, action=action: r["action"] == action)
        assert result["status"] == "accepted", result
    sent = ChargerCommand.objects.filter(charger=charger, requested_by="mqtt")
    assert eventually(lambda: {"Reset", "UnlockConnector"} <= set(sent.values_list("action", flat=True)))

    ready_by = config("text", "target_ready_by")
    assert ready_by["command_topic"] == stack.topic(charger, "target", "set")
    assert ready_by["command_template"] == '{"ready_by": "{{ value }}"}'
    assert ready_by["pattern"] == r"^(([01][0-9]|2[0-3]):[0-5][0-9])?$"
    energy = config("number", "target_energy")
    assert (energy["unit_of_measurement"], energy["command_topic"]) == ("kWh", stack.topic(charger, "target", "set"))
    assert energy["command_template"] == '{"energy_wh": {{ (value * 1000) | round | int }}}'
    plan = config("sensor", "plan")
    assert plan["value_template"] == "{{ value_json.plan_summary or 'no plan yet' }}"
    for phase in ("l1", "l2", "l3"):
        current = config("sensor", f"current_{phase}")
        assert (current["unit_of_measurement"], current["device_class"]) == ("A", "current")
        assert current["availability_mode"] == "all"
        assert [a["topic"] for a in current["availability"]] == [f"{stack.prefix}/bridge/status", state_topic]


def test_reset_and_unlock_reach_a_201_station_in_its_own_terms_and_a_bad_type_is_refused(stack):  # noqa: F811
    charger = make_charger(charge_point_id="station-201-buttons", password="garage-secret-201")

    async def press(payload: dict) -> dict:
        return await in_a_thread(answered, stack, charger, ("command",), payload, payload["request_id"])

    async def scenario():
        async with sim_station(stack.server, charger.charge_point_id, password="garage-secret-201") as st:
            reset = await press({"action": "reset", "request_id": "r"})
            unlock = await press({"action": "unlock", "connector_id": 1, "request_id": "u"})
            wrong = await press({"action": "reset", "type": "Soft", "request_id": "w"})
            return st, reset, unlock, wrong

    st, reset, unlock, wrong = asyncio.run(scenario())

    assert (reset["status"], unlock["status"]) == ("accepted", "accepted")
    assert st.sent("Reset") == [{"type": "OnIdle"}], "one Reset: the refused one was never sent"
    assert st.sent("UnlockConnector") == [{"evseId": 1, "connectorId": 1}]
    assert (wrong["status"], wrong["action"]) == ("invalid", "reset")
    assert wrong["message"].startswith("type: Select a valid choice. Soft is not one of"), wrong
