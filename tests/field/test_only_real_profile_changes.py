"""What a charger holds matches what the product wants: a purpose whose reason went away is
cleared, identical limits are not sent again, and a rebooted charger is checked and mended. The
charger is the independent simulator (tests/chargepoint_sim.py), not the server's library."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from django.db.models import Q
from rest_framework.authtoken.models import Token

from chargers.models import ChargerEvent
from energy.models import ChargerControl, LimitDecision, Site, TimeOfUse
from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim import sim_charger
from tests.factories import make_charger, make_site, make_tariff

pytestmark = pytest.mark.django_db(transaction=True)


def a_site_on_time_of_use(charge_point_id: str):
    """The spec's tariff and time-of-use block, switched on as an installer does in the admin;
    min_interval_s 0 so that every reading runs control (spec: rebalance.min_interval_seconds)."""
    site = make_site(circuit_limit_a=32, min_interval_s=0)
    make_tariff(site=site)
    TimeOfUse.objects.update_or_create(site=site, defaults={"enabled": True})
    make_charger(site=site, charge_point_id=charge_point_id, password="pw-123456", max_power_w=11000, phases=3)
    return site, Token.objects.create(user=make_user(sites=(site,))).key


async def post_reading(server, token: str, grid_w: float) -> None:
    status, body = await sync_to_async(http_json)(
        server, "POST", "/api/v1/energy/readings", token=token, body={"grid_w": grid_w}
    )
    assert status in (200, 201), body


async def control_ran_after(site_pk: int, since) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        site = await Site.objects.aget(pk=site_pk)
        if site.last_rebalanced_at and site.last_rebalanced_at > since:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no control run after the reading")


def test_switching_time_of_use_off_clears_its_profile_from_the_charger(ocpp_server):
    site, token = a_site_on_time_of_use("TOU-OFF")

    async def scenario():
        async with sim_charger(ocpp_server, "TOU-OFF", password="pw-123456") as cp:
            await cp.plug_in()
            await cp.wait_for(lambda: cp.profile_of("TxDefaultProfile") is not None, what="the time-of-use plan")
            await TimeOfUse.objects.filter(site=site).aupdate(enabled=False)
            await post_reading(ocpp_server, token, 500)
            await cp.wait_for(lambda: cp.profile_of("TxDefaultProfile") is None, what="the plan cleared")
            [cleared] = cp.sent("ClearChargingProfile")
            assert cleared == {"chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 1}
            assert cp.profile_of("ChargePointMaxProfile") is not None  # the fuse limit stays
            deadline = time.monotonic() + 5
            while await ChargerControl.objects.filter(
                Q(tou_periods__isnull=False) | Q(tou_unknown=True), charger__charge_point_id="TOU-OFF"
            ).aexists():
                assert time.monotonic() < deadline, "the server still thinks the charger holds the plan"
                await asyncio.sleep(0.05)
            await post_reading(ocpp_server, token, 500)
            await asyncio.sleep(1)
            assert len(cp.sent("ClearChargingProfile")) == 1  # cleared once, not at every run

    asyncio.run(scenario())


def test_ten_identical_readings_send_no_profile_again_and_record_no_new_decision(ocpp_server):
    site, token = a_site_on_time_of_use("TOU-SAME")

    async def scenario():
        async with sim_charger(ocpp_server, "TOU-SAME", password="pw-123456") as cp:
            await cp.plug_in()
            await cp.wait_for(lambda: cp.profile_of("TxDefaultProfile") is not None, what="the time-of-use plan")
            await post_reading(ocpp_server, token, 500)
            await asyncio.sleep(1.5)  # startSchedule moves by the second: the next runs see "now" later
            sent_before = len(cp.sent("SetChargingProfile"))
            decisions_before = await LimitDecision.objects.filter(charger__charge_point_id="TOU-SAME").acount()
            for _ in range(10):
                since = (await Site.objects.aget(pk=site.pk)).last_rebalanced_at
                await post_reading(ocpp_server, token, 500)
                await control_ran_after(site.pk, since)
                await asyncio.sleep(0.1)
            assert len(cp.sent("SetChargingProfile")) == sent_before, cp.calls[-5:]
            decisions_after = await LimitDecision.objects.filter(charger__charge_point_id="TOU-SAME").acount()
            assert decisions_after == decisions_before

    asyncio.run(scenario())


def test_a_rebooted_charger_that_lost_its_limit_gets_it_again(ocpp_server):
    site = make_site(circuit_limit_a=16)
    make_charger(site=site, charge_point_id="REBOOT", password="pw-123456", max_power_w=22000, phases=3)

    async def scenario():
        async with sim_charger(ocpp_server, "REBOOT", password="pw-123456") as cp:
            # The boot's last step: the server checks what the charger holds.
            await cp.wait_for(lambda: cp.sent("GetCompositeSchedule"), what="the check after the first boot")
            assert cp.profile_of("ChargePointMaxProfile") is not None
            cp.profiles.clear()  # a factory reset: the charger forgot every profile, then boots
            await cp.boot()
            await cp.wait_for(lambda: cp.profile_of("ChargePointMaxProfile") is not None, what="the limit again")
            await cp.wait_for(lambda: len(cp.sent("GetCompositeSchedule")) == 2, what="the check after the boot")
            # Its share or 0 A (a boot is decided before its connector's status is known), within the fuse.
            assert cp.limit_a(floor=False) <= 16

    asyncio.run(scenario())


def test_a_charger_that_ignores_its_limit_is_reported_to_the_installer(ocpp_server):
    site = make_site(circuit_limit_a=16)
    make_charger(site=site, charge_point_id="IGNORES", password="pw-123456", max_power_w=22000, phases=3)

    async def scenario():
        async with sim_charger(ocpp_server, "IGNORES", password="pw-123456") as cp:
            # It says Accepted and keeps nothing: its composite schedule shows its full 32 A.
            cp._on_SetChargingProfile = lambda payload: {"status": "Accepted"}
            await cp.boot()
            deadline = time.monotonic() + 10
            while not await ChargerEvent.objects.filter(
                charge_point_id="IGNORES", kind=ChargerEvent.Kind.PROFILE_MISMATCH
            ).aexists():
                assert time.monotonic() < deadline, cp.calls
                await asyncio.sleep(0.1)

    asyncio.run(scenario())


def test_a_charger_that_reconnects_without_its_limit_gets_it_again(ocpp_server):
    site = make_site(circuit_limit_a=16)
    make_charger(site=site, charge_point_id="RECONNECT", password="pw-123456", max_power_w=22000, phases=3)

    async def scenario():
        async with sim_charger(ocpp_server, "RECONNECT", password="pw-123456") as cp:
            await cp.wait_for(lambda: cp.sent("GetCompositeSchedule"), what="the check that ends the boot")
            await cp.wait_for(lambda: cp.profile_of("ChargePointMaxProfile") is not None, what="the fuse limit")
            limit = cp.limit_a(floor=False)
        assert limit <= 16
        # Back on the network without a boot, having lost what it held (a firmware fault).
        async with sim_charger(ocpp_server, "RECONNECT", password="pw-123456", boot=False) as cp:
            await cp.wait_for(lambda: cp.sent("GetCompositeSchedule"), timeout=15, what="the check after reconnect")
            # What the site's decision is now may differ from the boot's (a boot is decided
            # before the charger's connector status is known: its share, 16 A; later, no car
            # wanting power, 0 A): what counts is that a limit within the fuse comes back.
            await cp.wait_for(lambda: cp.profile_of("ChargePointMaxProfile") is not None, what="a fuse limit again")
            assert cp.limit_a(floor=False) <= 16

    asyncio.run(scenario())
