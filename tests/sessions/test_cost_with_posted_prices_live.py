"""A dynamic tariff reaches a session's cost through the real entry points: the owner posts the
prices over HTTP, a charger that is not the server's own library (tests/chargepoint_sim.py)
charges across a price change, and the API and the session's page show energy x those prices."""

import asyncio
import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from sessions.models import ChargingSession
from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim import iso, sim_charger, utc_now
from tests.factories import make_charger, make_id_tag, make_site, make_tariff
from tests.ocpp_client import in_a_thread

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "posted-prices-1"
CHEAP, DEAR = Decimal("0.10"), Decimal("0.40")  # the posted prices, either side of the change
FLAT = "0.30"  # the tariff's rate: what the session would cost without the posted prices


def test_a_session_across_a_posted_price_change_costs_its_energy_at_each_price(ocpp_server):
    # What an owner sets up: a site with its tariff and a charger; the supplier's prices come later.
    site = make_site(name="Home", time_zone="Europe/London", circuit_limit_a=16)
    make_tariff(site=site, periods=[("flat", None, None, FLAT, 1)])
    charger = make_charger(site=site, password=PASSWORD, max_power_w=11000, phases=3)
    make_id_tag(id_tag="RFID1")
    owner = make_user(sites=(site,))
    token = Token.objects.create(user=owner).key

    def post_prices(change: dt.datetime) -> None:
        """The supplier's prices, as the owner posts them: cheap until `change`, dear after (slots
        need not start on the quarter hour, and may have started already)."""
        quarter = dt.timedelta(minutes=15)
        slots = [
            {"start": iso(change - quarter), "end": iso(change), "price_per_kwh": float(CHEAP)},
            {"start": iso(change), "end": iso(change + quarter), "price_per_kwh": float(DEAR)},
        ]
        status, body = http_json(ocpp_server, "POST", "/api/v1/energy/prices", token=token, body={"slots": slots})
        assert status == 200, body

    async def scenario() -> tuple[int, int, int]:
        async with sim_charger(ocpp_server, charger.charge_point_id, password=PASSWORD, phases=3) as cp:
            start_wh = round(cp.energy_wh)
            await cp.start()
            await cp.wait_for(lambda: cp.draw_a >= 6, what="the car drawing")
            # Ten minutes' worth of energy before the change, then a sample just after it with
            # nothing more (the stretch across the change holds no energy), then ten more minutes'.
            await cp.send_meter_values(seconds=600)
            before = round(cp.energy_wh)
            change = utc_now().replace(microsecond=0) + dt.timedelta(seconds=2)  # samples carry whole seconds
            await in_a_thread(post_prices, change)
            while utc_now() < change + dt.timedelta(seconds=1.2):
                await asyncio.sleep(0.2)
            await cp.send_meter_values(seconds=0)
            await cp.wait_for(lambda: cp.draw_a >= 6, what="the car drawing after the change")
            await cp.send_meter_values(seconds=600)
            await cp.stop()
            return start_wh, before, round(cp.energy_wh)

    start_wh, before_wh, stop_wh = asyncio.run(scenario())

    cheap_wh, dear_wh = before_wh - start_wh, stop_wh - before_wh
    assert cheap_wh > 0 and dear_wh > 0
    expected = (CHEAP * cheap_wh / 1000 + DEAR * dear_wh / 1000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    flat = (Decimal(FLAT) * (cheap_wh + dear_wh) / 1000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert expected != flat  # the check below tells the posted prices from the tariff's rate
    session = ChargingSession.objects.get(charger=charger)
    assert (session.energy_wh, session.cost, session.cost_currency) == (cheap_wh + dear_wh, expected, "GBP")

    status, body = http_json(ocpp_server, "GET", f"/api/v1/chargers/{charger.charge_point_id}/sessions", token=token)
    assert status == 200
    listed = body["sessions"][0]
    assert (listed["energy_wh"], Decimal(str(listed["cost"]))) == (cheap_wh + dear_wh, expected)

    client = Client()
    client.force_login(owner)
    page = client.get(f"/sessions/{session.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert f"{expected:.2f}" in text
    # The breakdown has a row per posted price, with its rate and energy.
    rows = re.findall(r'<th scope="row">posted price</th><td>([^<]*)</td><td>([^<]*)</td>', text)
    assert rows == [("£0.10", f"{cheap_wh / 1000:.2f}"), ("£0.40", f"{dear_wh / 1000:.2f}")]
