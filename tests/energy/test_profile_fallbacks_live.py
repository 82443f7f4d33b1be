"""A charger that announces watts only, refuses them and takes amps (issue 29): the fuse limit
sent in watts is rejected, energy control learns to send it in amps, the charger takes it and the
car's draw follows. The charger is not the server's own library (tests/chargepoint_sim.py)."""

import asyncio

import pytest

from chargers.models import Charger, ChargerEvent
from energy.models import LimitDecision
from tests.chargepoint_sim import sim_charger
from tests.factories import make_charger, make_id_tag, make_site

pytestmark = pytest.mark.django_db(transaction=True)

FUSE_A = 10


def units_sent(cp, purpose: str) -> list[str]:
    return [
        payload["csChargingProfiles"]["chargingSchedule"]["chargingRateUnit"]
        for payload in cp.sent("SetChargingProfile")
        if payload["csChargingProfiles"]["chargingProfilePurpose"] == purpose
    ]


@pytest.mark.timeout(120)
def test_a_limit_refused_in_watts_goes_in_amps_and_the_car_follows_it(ocpp_server):
    # What an installer types: a 10 A main fuse, a 3-phase 22 kW charger, the household's card.
    site = make_site(circuit_limit_a=FUSE_A)
    make_charger(site=site, charge_point_id="FALLBACK-1", password="pw-123456", max_power_w=22000, phases=3)
    make_id_tag(id_tag="RFID1")

    async def scenario():
        async with sim_charger(
            ocpp_server,
            "FALLBACK-1",
            password="pw-123456",
            phases=3,
            configuration={"ChargingScheduleAllowedChargingRateUnit": "Power"},
            rejected_units=("W",),
            unannounced_units=("A",),
        ) as cp:
            await cp.wait_for(
                lambda: cp.profile_of("ChargePointMaxProfile") is not None, what="a fuse limit the charger takes"
            )
            held = cp.profile_of("ChargePointMaxProfile")["chargingSchedule"]
            assert held["chargingRateUnit"] == "A"
            assert units_sent(cp, "ChargePointMaxProfile")[:2] == ["W", "A"]
            await cp.plug_in()
            await cp.start("RFID1")
            await cp.wait_for(lambda: cp.draw_a >= 6, what="the car charging")
            return cp.draw_a, cp.limit_a(floor=False), units_sent(cp, "ChargePointMaxProfile")

    draw_a, limit_a, units = asyncio.run(scenario())

    assert draw_a <= limit_a <= FUSE_A
    assert "W" not in units[1:]  # learned once: watts are not tried again
    charger = Charger.objects.get(charge_point_id="FALLBACK-1")
    assert charger.limit_fallbacks["rate_unit"] == "A"
    assert [step["why"] for step in charger.limit_fallbacks["steps"]] == ["ChargePointMaxProfile Rejected"]
    assert charger.limit_rate_unit == "A"
    learned = ChargerEvent.objects.filter(
        charger=charger, kind=ChargerEvent.Kind.PROFILE_MISMATCH, message__contains="from now on"
    )
    assert [event.message for event in learned] == ["ChargePointMaxProfile Rejected: from now on limits in amps."]
    outcomes = list(LimitDecision.objects.filter(charger=charger).order_by("pk").values_list("outcome", flat=True))
    assert outcomes[0] == "ChargePointMaxProfile Rejected"
    assert "ChargePointMaxProfile Accepted" in outcomes[1:]
