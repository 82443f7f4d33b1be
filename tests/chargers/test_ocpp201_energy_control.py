"""Energy control's limits by purpose on an OCPP 2.0.1 station (tests/chargepoint_sim201.py: an
independent station that checks every frame against the official schemas, rejects a TxProfile
that names no running transaction of its EVSE, as K01 says, and whose car draws what its
profiles allow): solar surplus lands as a TxProfile on the station's own transactionId."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from rest_framework.authtoken.models import Token

from energy.models import SolarCharging
from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim201 import CarStation, sim_station
from tests.factories import make_charger, make_site

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "solar-station-201"
TX = "b7e3c1d2-5f00-4c55-9b1e-201201201201"


def tx_profiles(station) -> list[dict]:
    """What the station was sent as TxProfile, in order: its evseId and the profile."""
    return [
        {"evseId": payload["evseId"], **payload["chargingProfile"]}
        for payload in station.sent("SetChargingProfile")
        if payload["chargingProfile"]["chargingProfilePurpose"] == "TxProfile"
    ]


def test_solar_surplus_lands_as_a_tx_profile_on_the_stations_own_transaction(ocpp_server):
    # What an installer sets: the site, solar charging on (no start delay for a test), a
    # 1-phase 7.4 kW station speaking OCPP 2.0.1, the owner who posts the meter's readings.
    site = make_site(circuit_limit_a=63, min_interval_s=1)
    SolarCharging.objects.create(
        site=site, enabled=True, mode="solar_only", start_delay_s=0, update_interval_s=1, window_s=30
    )
    make_charger(
        site=site, charge_point_id="ST201-SOLAR", password=PASSWORD, phases=1, max_power_w=7400, protocol="ocpp2.0.1"
    )
    token = Token.objects.create(user=make_user(sites=(site,))).key

    async def scenario():
        async with sim_station(
            ocpp_server, "ST201-SOLAR", password=PASSWORD, station_class=CarStation, phases=1
        ) as station:
            await station.plug_in()
            await station.transaction_event("Started", TX, 0, evse_id=1, charging_state="EVConnected")
            # No surplus yet: solar_only keeps the car paused, on its transaction.
            await station.wait_for(lambda: tx_profiles(station), timeout=15, what="a TxProfile")
            status, body = await sync_to_async(http_json)(
                ocpp_server, "POST", "/api/v1/energy/readings", body={"grid_w": -3000}, token=token
            )
            assert status in (200, 201), body
            # 3000 W exported on one phase is 13.0 A: the car charges on it.
            await station.wait_for(lambda: station.draw_a == 13.0, timeout=15, what="the car on the surplus")
            sent = tx_profiles(station)[-1]
            assert (sent["evseId"], sent["transactionId"]) == (1, TX)
            assert sent["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] == 13.0
            assert all(p["transactionId"] == TX for p in tx_profiles(station))

    asyncio.run(scenario())
