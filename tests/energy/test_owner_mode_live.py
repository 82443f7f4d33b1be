"""A mode set over HTTP steers a connected charger: the live server, with a charger that is not
the server's own library (tests/chargepoint_sim.py), reading what it lets the car draw."""

import asyncio

import pytest
from rest_framework.authtoken.models import Token

from energy.models import ChargerControl, LimitDecision
from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim import sim_charger
from tests.factories import make_charger, make_id_tag, make_site
from tests.ocpp_client import in_a_thread

PASSWORD = "pw-123456"


@pytest.mark.django_db(transaction=True)
def test_mode_off_over_http_pauses_a_car_and_now_gives_it_its_fuse_share_again(ocpp_server):
    site = make_site(circuit_limit_a=16)
    charger = make_charger(site=site, password=PASSWORD, max_power_w=22000, phases=3)
    make_id_tag(id_tag="RFID1")
    token = Token.objects.create(user=make_user(sites=(site,))).key
    path = f"/api/v1/chargers/{charger.charge_point_id}/mode"

    async def scenario():
        async with sim_charger(ocpp_server, charger.charge_point_id, password=PASSWORD, phases=3) as cp:
            await cp.start()
            first = await in_a_thread(http_json, ocpp_server, "PUT", path, token=token, body={"mode": "now"})
            await cp.wait_for(lambda: cp.effective_limit_a() == 16, timeout=15, what="the fuse share")
            off = await in_a_thread(http_json, ocpp_server, "PUT", path, token=token, body={"mode": "off"})
            await cp.wait_for(lambda: cp.effective_limit_a() == 0, timeout=30, what="the pause")
            now = await in_a_thread(http_json, ocpp_server, "PUT", path, token=token, body={"mode": "now"})
            await cp.wait_for(lambda: cp.effective_limit_a() == 16, timeout=30, what="the fuse share again")
            return first, off, now

    (first_status, _), (off_status, off_body), (now_status, now_body) = asyncio.run(scenario())

    assert first_status == 200
    assert (off_status, off_body["mode"], now_status, now_body["mode"]) == (200, "off", 200, "now")
    assert ChargerControl.objects.get(pk=charger.pk).mode == "now"
    # The pause is the mode's, in the decision record the admin timeline shows.
    assert LimitDecision.objects.filter(charger=charger, limit_w=0, source="mode").exists()
