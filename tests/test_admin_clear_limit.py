"""The admin's Clear power limit button, on the live server with a charger that is not the
server's own library: a limit set with the button next to it is lifted, and the charger gets
its share of the fuse again."""

import asyncio

import pytest

from tests.chargepoint_sim import sim_charger
from tests.factories import make_charger, make_site
from tests.ocpp_client import in_a_thread
from tests.test_admin_commands import admin_session, press

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-123456"


def test_clear_power_limit_lifts_the_manual_limit_and_the_charger_gets_its_fuse_share(ocpp_server):
    charger = make_charger(site=make_site(circuit_limit_a=16), password=PASSWORD, max_power_w=22000, phases=3)
    session = admin_session(ocpp_server)

    async def scenario():
        async with sim_charger(ocpp_server, charger.charge_point_id, password=PASSWORD, phases=3) as cp:
            await cp.plug_in()
            await cp.wait_for(lambda: cp.effective_limit_a() == 16, timeout=15, what="the fuse share")
            await in_a_thread(press, session, ocpp_server, charger, "set-limit", {"limit_w": "4200"})
            await cp.wait_for(lambda: cp.effective_limit_a() == 6.0, what="the manual limit")
            page = await in_a_thread(press, session, ocpp_server, charger, "clear-limit")
            await cp.wait_for(lambda: cp.effective_limit_a() == 16, what="the limit lifted")
            return page

    page = asyncio.run(scenario())

    assert "Clear power limit" in page
    assert "The charger answered Accepted" in page
    charger.refresh_from_db()
    assert (charger.control.manual_limit_w, charger.control.limit_w, charger.control.limit_source) == (
        None,
        11040,
        "circuit",
    )
