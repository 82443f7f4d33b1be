"""Mode off from Home Assistant (a plain word on the charger's mode/set topic, through the real
Mosquitto on 127.0.0.1:1883 and the live server) pauses a car; mode now gives it the fuse share
again. The charger is not the server's own library (tests/chargepoint_sim.py)."""

import asyncio

import pytest

from energy.models import LimitDecision
from tests.chargepoint_sim import sim_charger
from tests.factories import make_charger, make_id_tag, make_site
from tests.ocpp_client import in_a_thread
from tests.test_mqtt import prefix, stack  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-123456"


def test_mode_off_from_home_assistant_pauses_a_car_and_now_gives_it_the_fuse_share_again(stack):  # noqa: F811
    site = make_site(circuit_limit_a=16)
    charger = make_charger(site=site, password=PASSWORD, max_power_w=22000, phases=3)
    make_id_tag(id_tag="RFID1")
    mode_topic = stack.topic(charger, "mode", "set")

    async def scenario():
        async with sim_charger(stack.server, charger.charge_point_id, password=PASSWORD, phases=3) as cp:
            await cp.start()
            await in_a_thread(stack.mqtt.publish, mode_topic, "now")
            await cp.wait_for(lambda: cp.effective_limit_a() == 16, timeout=15, what="the fuse share")
            await in_a_thread(stack.mqtt.publish, mode_topic, "off")
            await cp.wait_for(lambda: cp.effective_limit_a() == 0, timeout=30, what="the pause of mode off")
            paused = await in_a_thread(stack.state, charger, lambda s: s["mode"] == "off" and s["limit_w"] == 0)
            await in_a_thread(stack.mqtt.publish, mode_topic, "now")
            await cp.wait_for(lambda: cp.effective_limit_a() == 16, timeout=30, what="the fuse share again")
            return paused

    paused = asyncio.run(scenario())

    assert paused["limit_source"] == "mode", paused
    # The pause is the mode's, in the decision record the admin timeline shows.
    assert LimitDecision.objects.filter(charger=charger, limit_w=0, source="mode").exists()
