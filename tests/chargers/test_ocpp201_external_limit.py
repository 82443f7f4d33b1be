"""A limit set on an OCPP 2.0.1 station outside this server (an EMS, the grid operator), which
the station obeys and tells with NotifyChargingLimit: energy control counts it, so the power that
car cannot take goes to the other car on the fuse, until ClearedChargingLimit. The stations are
tests/chargepoint_sim201.py's CarStation: frames checked against the official schemas, cars
drawing what the station allows."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from energy.models import ChargerControl, LimitDecision
from tests.chargepoint_sim import SiteMeter
from tests.chargepoint_sim201 import CarStation, sim_station
from tests.factories import make_charger, make_site
from tests.ocpp_client import eventually

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "outside-limit-201"
FUSE_A = 32


def external_decision(charge_point_id: str) -> LimitDecision | None:
    """The charger's newest decision once it names the limit set outside (decisions are
    recorded after the chargers answered their profiles)."""

    def newest_external():
        newest = LimitDecision.objects.filter(charger__charge_point_id=charge_point_id).first()
        return newest if newest is not None and newest.source == "external" else None

    return eventually(newest_external, timeout_s=10)


def test_a_limit_the_grid_operator_sets_on_one_station_gives_the_rest_of_the_fuse_to_the_other(ocpp_server):
    site = make_site(circuit_limit_a=FUSE_A)
    for n in (1, 2):
        make_charger(
            site=site, charge_point_id=f"OUT-{n}", password=PASSWORD, max_power_w=22000, phases=3, protocol="ocpp2.0.1"
        )

    async def scenario():
        meter = SiteMeter(fuse_a=FUSE_A)
        async with (
            sim_station(ocpp_server, "OUT-1", password=PASSWORD, station_class=CarStation) as limited,
            sim_station(ocpp_server, "OUT-2", password=PASSWORD, station_class=CarStation) as other,
        ):
            meter.attach(limited, other)
            for n, station in enumerate((limited, other), start=1):
                await station.plug_in()
                await station.transaction_event("Started", f"tx-out-{n}", 0, evse_id=1, charging_state="Charging")
            for station in (limited, other):
                await station.wait_for(lambda s=station: s.draw_a == 16, timeout=15, what="an even share")

            await limited.limit_from_outside("SO", 10)
            await other.wait_for(lambda: other.draw_a == 22, timeout=15, what="the rest of the fuse")
            assert limited.draw_a == 10
            decision = await sync_to_async(external_decision)("OUT-1")
            assert decision is not None, "no decision names the limit set on the charger"
            assert decision.reason == "the grid operator limits this charger to 6,900 W"
            control = await sync_to_async(ChargerControl.objects.get)(charger__charge_point_id="OUT-1")
            assert (control.external_limit_w, control.external_limit_source) == (6900, "SO")

            await limited.limit_from_outside_cleared("SO")
            await other.wait_for(lambda: other.draw_a == 16, timeout=15, what="an even share again")
            await limited.wait_for(lambda: limited.draw_a == 16, timeout=15, what="an even share again")
            assert meter.peak_a <= FUSE_A, "\n".join(map(str, meter.moments))

    asyncio.run(scenario())
    assert ChargerControl.objects.get(charger__charge_point_id="OUT-1").external_limit_w is None


def test_a_negative_limit_is_refused_and_nothing_is_kept(ocpp_server):
    make_charger(charge_point_id="OUT-BAD", password=PASSWORD, max_power_w=22000, phases=3, protocol="ocpp2.0.1")

    async def scenario():
        async with sim_station(ocpp_server, "OUT-BAD", password=PASSWORD, station_class=CarStation) as station:
            with pytest.raises(AssertionError, match="PropertyConstraintViolation"):
                await station.notify_charging_limit("EMS", limit=-5)

    asyncio.run(scenario())
    assert ChargerControl.objects.get(charger__charge_point_id="OUT-BAD").external_limit_w is None
