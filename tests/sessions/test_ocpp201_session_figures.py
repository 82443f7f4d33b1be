"""An OCPP 2.0.1 session reaches the homeowner like a 1.6 one: its energy, cost under the site's
tariff and solar share from the site's meter, over the REST API and on the homeowner's pages.
The station is tests/chargepoint_sim201.py (frames checked against the official schemas)."""

import asyncio
import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from sessions.models import ChargingSession
from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim201 import energy_register, meter_value, sim_station, utc_now
from tests.factories import make_charger, make_site, make_tariff

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "figures-station-201"
TX = "0d3c9a51-7a44-4e0b-8f61-3e5d2c1b0a99"


def power(w: float) -> dict:
    return {"value": w, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}}


def test_a_201_session_has_its_energy_cost_and_solar_share_in_the_api_and_the_pages(ocpp_server):
    # What an installer and a homeowner set up: a site with a flat tariff, the station, an owner.
    site = make_site(name="Home", time_zone="Europe/London")
    make_tariff(site=site, periods=[("flat", None, None, "0.30", 1)])
    make_charger(site=site, charge_point_id="ST201-FIGURES", password=PASSWORD, protocol="ocpp2.0.1")
    owner = make_user(sites=(site,))
    token = Token.objects.create(user=owner).key
    t0 = utc_now().replace(microsecond=0) - dt.timedelta(minutes=20)
    # The site meter exported all along: every Wh the car took was solar surplus.
    for minutes in (-1, 5, 10, 14):
        at = (t0 + dt.timedelta(minutes=minutes)).isoformat()
        status, body = http_json(
            ocpp_server, "POST", "/api/v1/energy/readings", body={"grid_w": -500, "measured_at": at}, token=token
        )
        assert status in (200, 201), body

    async def scenario():
        async with sim_station(ocpp_server, "ST201-FIGURES", password=PASSWORD) as st:
            begin = [meter_value(t0, energy_register(1000, "Transaction.Begin"), power(0))]
            await st.transaction_event("Started", TX, 0, timestamp=t0, evse_id=1, meter_values=begin)
            for seq_no, minutes, wh in ((1, 5, 1600), (2, 10, 2200)):
                at = t0 + dt.timedelta(minutes=minutes)
                values = [meter_value(at, energy_register(wh), power(7200))]
                await st.transaction_event("Updated", TX, seq_no, timestamp=at, meter_values=values)
            end = t0 + dt.timedelta(minutes=15)
            await st.transaction_event(
                "Ended",
                TX,
                3,
                timestamp=end,
                charging_state="Idle",
                stoppedReason="EVDisconnected",
                meter_values=[meter_value(end, energy_register(2800, "Transaction.End"))],
            )

    asyncio.run(scenario())

    session = ChargingSession.objects.get(charger__charge_point_id="ST201-FIGURES")
    assert session.energy_wh == 1800
    assert (session.cost, session.cost_currency) == (Decimal("0.54"), "GBP")  # 1.8 kWh at 0.30
    assert session.solar_percent == pytest.approx(100.0)

    status, body = http_json(ocpp_server, "GET", "/api/v1/chargers/ST201-FIGURES/sessions", token=token)
    assert status == 200
    listed = body["sessions"][0]
    assert (listed["energy_wh"], Decimal(str(listed["cost"])), round(listed["solar_percent"])) == (
        1800,
        Decimal("0.54"),
        100,
    )

    client = Client()
    client.force_login(owner)
    history = client.get("/sessions/")
    assert history.status_code == 200
    assert f'data-session="{session.pk}"' in history.content.decode()
    page = client.get(f"/sessions/{session.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "0.54" in text and "1.8" in text
