"""A mixed site: an OCPP 1.6 charger and an OCPP 2.0.1 station on one small main fuse are
balanced as one. Both are independent of the server's library (tests/chargepoint_sim.py,
tests/chargepoint_sim201.py: frames checked against the official schemas) and their cars draw
what each one's profiles allow, from the moment their transaction starts; the site meter sums
the phases after every change."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from rest_framework.authtoken.models import Token

from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim import SiteMeter, sim_charger
from tests.chargepoint_sim201 import CarStation, sim_station
from tests.factories import make_charger, make_site

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "mixed-site-secret"
FUSE_A = 16


def a_16a_site_with_a_16_and_a_201_charger() -> str:
    """What an installer types: the site's main fuse, two 22 kW chargers (one of them set to
    OCPP 2.0.1, as its firmware speaks), an owner; returns the owner's API token."""
    site = make_site(circuit_limit_a=FUSE_A)
    make_charger(site=site, charge_point_id="MIX-16", password=PASSWORD, max_power_w=22000, phases=3)
    make_charger(
        site=site, charge_point_id="MIX-201", password=PASSWORD, max_power_w=22000, phases=3, protocol="ocpp2.0.1"
    )
    return Token.objects.create(user=make_user(sites=(site,))).key


def start(server, token: str, charger_id: str):
    return sync_to_async(http_json)(server, "POST", f"/api/v1/chargers/{charger_id}/start", token=token)


def test_a_16_and_a_201_car_started_together_share_the_fuse_and_never_exceed_it(ocpp_server):
    token = a_16a_site_with_a_16_and_a_201_charger()

    async def scenario():
        meter = SiteMeter(fuse_a=FUSE_A)
        async with (
            sim_charger(ocpp_server, "MIX-16", password=PASSWORD) as old,
            sim_station(ocpp_server, "MIX-201", password=PASSWORD, station_class=CarStation) as new,
        ):
            meter.attach(old, new)
            await old.plug_in()
            await new.plug_in()
            answers = await asyncio.gather(start(ocpp_server, token, "MIX-16"), start(ocpp_server, token, "MIX-201"))
            assert [status for status, _ in answers] == [200, 200], answers
            await old.wait_for(lambda: old.draw_a >= 6, timeout=15, what="the 1.6 car charging")
            await new.wait_for(lambda: new.draw_a >= 6, timeout=15, what="the 2.0.1 car charging")
            await asyncio.sleep(1)
            assert old.draw_a + new.draw_a <= FUSE_A
            assert meter.peak_a <= FUSE_A, "\n".join(map(str, meter.moments))

    asyncio.run(scenario())


@pytest.mark.parametrize("first", ["MIX-16", "MIX-201"])
def test_a_car_arriving_on_a_busy_mixed_site_gets_a_share_without_tripping_the_fuse(ocpp_server, first):
    token = a_16a_site_with_a_16_and_a_201_charger()

    async def scenario():
        meter = SiteMeter(fuse_a=FUSE_A)
        async with (
            sim_charger(ocpp_server, "MIX-16", password=PASSWORD) as old,
            sim_station(ocpp_server, "MIX-201", password=PASSWORD, station_class=CarStation) as new,
        ):
            meter.attach(old, new)
            busy, arriving = (old, new) if first == "MIX-16" else (new, old)
            await old.wait_for(lambda: old.sent("GetCompositeSchedule"), what="the 1.6 boot's end")
            await new.wait_for(lambda: new.sent("GetCompositeSchedule"), what="the 2.0.1 boot's end")
            await busy.plug_in()
            assert (await start(ocpp_server, token, busy.id))[0] == 200
            await busy.wait_for(lambda: busy.draw_a == FUSE_A, timeout=15, what="the first car on the whole fuse")
            await arriving.plug_in()
            assert (await start(ocpp_server, token, arriving.id))[0] == 200
            await arriving.wait_for(lambda: arriving.draw_a >= 6, timeout=15, what="the second car charging")
            await busy.wait_for(lambda: busy.draw_a + arriving.draw_a <= FUSE_A, timeout=15, what="a shared fuse")
            assert busy.draw_a >= 6, "the first car was paused instead of sharing"
            assert meter.peak_a <= FUSE_A, "\n".join(map(str, meter.moments))

    asyncio.run(scenario())
