"""The planner end to end: prices and a target posted over HTTP become a plan the charger holds
(a TxDefaultProfile that waits for the cheap hours), said in words by the API. The charger is
tests/chargepoint_sim.py, not the server's own library."""

import asyncio
import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from energy.models import ChargerControl, LimitDecision
from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim import sim_charger
from tests.factories import make_charger, make_id_tag, make_site
from tests.ocpp_client import in_a_thread

PASSWORD = "pw-123456"


def quarter(at: dt.datetime) -> dt.datetime:
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


@pytest.mark.django_db(transaction=True)
def test_a_target_and_posted_prices_make_a_plan_the_charger_holds_and_the_api_tells(ocpp_server):
    site = make_site(circuit_limit_a=32)
    charger = make_charger(site=site, password=PASSWORD, max_power_w=7360, phases=1)
    make_id_tag(id_tag="RFID1")
    token = Token.objects.create(user=make_user(sites=(site,))).key
    start = quarter(timezone.now())
    # Dear for the next two hours, then an hour cheap enough for the whole target.
    slots = [
        {
            "start": (start + dt.timedelta(minutes=15 * i)).isoformat(),
            "end": (start + dt.timedelta(minutes=15 * (i + 1))).isoformat(),
            "price_per_kwh": 0.40 if i < 8 else 0.05,
        }
        for i in range(16)
    ]
    ready_by = (start + dt.timedelta(hours=4)).astimezone(site.zone)
    cheap_from = start + dt.timedelta(hours=2)
    target_path = f"/api/v1/chargers/{charger.charge_point_id}/target"

    async def scenario():
        async with sim_charger(ocpp_server, charger.charge_point_id, password=PASSWORD, phases=1) as cp:
            await cp.start()
            posted = await in_a_thread(
                http_json, ocpp_server, "POST", "/api/v1/energy/prices", token=token, body={"slots": slots}
            )
            target = await in_a_thread(
                http_json,
                ocpp_server,
                "PUT",
                target_path,
                token=token,
                body={"ready_by": f"{ready_by:%H:%M}", "energy_wh": 7000},
            )
            await cp.wait_for(
                lambda: (cp.profile_of("TxDefaultProfile") or {}).get("chargingSchedule") is not None,
                timeout=30,
                what="the plan",
            )
            await cp.wait_for(lambda: cp.effective_limit_a() == 0, timeout=30, what="waiting for the cheap hour")
            for _ in range(60):
                told = await in_a_thread(http_json, ocpp_server, "GET", target_path, token=token)
                if told[1].get("plan_summary"):
                    break
                await asyncio.sleep(0.5)
            return posted, target, cp.profile_of("TxDefaultProfile"), told

    (posted_status, _), (target_status, _), profile, (_, told) = asyncio.run(scenario())

    assert (posted_status, target_status) == (200, 200)
    # The charger holds a schedule: nothing now, full power from the cheap hour.
    schedule = profile["chargingSchedule"]
    periods = schedule["chargingSchedulePeriod"]
    begins = dt.datetime.fromisoformat(schedule["startSchedule"].replace("Z", "+00:00"))
    assert periods[0]["limit"] == 0
    charging = [p for p in periods if p["limit"] > 0]
    assert charging, periods
    assert abs((begins + dt.timedelta(seconds=charging[0]["startPeriod"]) - cheap_from).total_seconds()) < 60 * 61
    assert begins + dt.timedelta(seconds=charging[0]["startPeriod"]) >= cheap_from
    # In words, for the homeowner, and in the why-this-limit timeline.
    assert told["plan_summary"].startswith("charging ")
    assert f"ready by {ready_by:%H:%M}" in told["plan_summary"]
    control = ChargerControl.objects.get(pk=charger.pk)
    assert control.plan and control.plan_cost == pytest.approx(7.0 * 0.05, abs=0.01)
    decision = LimitDecision.objects.filter(charger=charger, source="plan").latest("decided_at")
    assert decision.limit_w == 0
    assert decision.reason.startswith("waiting for the planned hours at ")
    assert "7.0 kWh still needed by" in decision.reason
