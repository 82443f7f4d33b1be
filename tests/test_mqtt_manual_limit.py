"""A manual limit over MQTT, through the real Mosquitto on 127.0.0.1:1883 and the live server,
with a charger that is not the server's own library: set_limit caps it and clear_limit lifts it;
results and the state say why the limit is what it is."""

import asyncio

import pytest

from chargers.models import Charger, ChargerCommand
from tests.chargepoint_sim import sim_charger
from tests.factories import make_charger, make_site
from tests.ocpp_client import in_a_thread
from tests.test_mqtt import prefix, stack  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-123456"


def test_clear_limit_lifts_a_limit_set_over_mqtt_and_the_results_say_why(stack):  # noqa: F811
    site = make_site(circuit_limit_a=16)
    charger = make_charger(site=site, password=PASSWORD, max_power_w=22000, phases=3)
    command_topic = stack.topic(charger, "command")
    result_topic = stack.topic(charger, "command", "result")

    async def command(payload: dict) -> dict:
        await in_a_thread(stack.mqtt.publish, command_topic, payload)
        found = await in_a_thread(
            stack.mqtt.wait_for, result_topic, lambda r: r.get("request_id") == payload["request_id"]
        )
        return found.json

    async def scenario():
        async with sim_charger(stack.server, charger.charge_point_id, password=PASSWORD, phases=3) as cp:
            await cp.plug_in()
            await cp.wait_for(lambda: cp.effective_limit_a() == 16, timeout=15, what="the fuse share")
            paused = await command({"action": "set_limit", "limit_w": 3000, "request_id": "low"})
            await cp.wait_for(lambda: cp.effective_limit_a() == 0, what="the pause")
            limited = await command({"action": "set_limit", "limit_w": 4200, "request_id": "set"})
            await cp.wait_for(lambda: cp.effective_limit_a() == 6.0, what="the manual limit")
            state = await in_a_thread(stack.state, charger, lambda s: s["limit_w"] == 4200)
            cleared = await command({"action": "clear_limit", "request_id": "clear"})
            await cp.wait_for(lambda: cp.effective_limit_a() == 16, what="the limit lifted")
            return paused, limited, state, cleared

    paused, limited, state, cleared = asyncio.run(scenario())

    assert (paused["status"], paused["limit_w"], paused["limit_source"]) == ("accepted", 0, "manual")
    assert paused["limit_reason"] == "3,000 W is below this charger's minimum of 4,140 W (6 A on 3 phases): paused"
    assert (limited["status"], limited["limit_w"], limited["limit_reason"]) == (
        "accepted",
        4200,
        "limited by hand to 4,200 W",
    )
    assert (state["limit_source"], state["limit_reason"]) == ("manual", "limited by hand to 4,200 W")
    assert cleared["action"] == "clear_limit"
    assert (cleared["status"], cleared["limit_w"], cleared["limit_source"]) == ("accepted", 11040, "circuit")
    assert "by hand" not in cleared["limit_reason"]
    assert stack.state(charger, lambda s: s["limit_source"] == "circuit")["limit_w"] == 11040
    assert Charger.objects.get(pk=charger.pk).control.manual_limit_w is None
    assert ChargerCommand.objects.filter(charger=charger, requested_by="energy:manual limit cleared by mqtt").exists()


def test_clear_limit_on_an_offline_charger_says_offline_and_keeps_the_limit(stack):  # noqa: F811
    charger = make_charger(max_power_w=7400, manual_limit_w=3000)
    result_topic = stack.topic(charger, "command", "result")

    stack.mqtt.publish(stack.topic(charger, "command"), {"action": "clear_limit", "request_id": 7})
    result = stack.mqtt.wait_for(result_topic, lambda r: r.get("request_id") == 7).json

    assert (result["action"], result["status"]) == ("clear_limit", "offline")
    assert Charger.objects.get(pk=charger.pk).control.manual_limit_w == 3000
