"""A person's manual limit over the REST API: set, below the charger's minimum, lifted. Live tests
run the real server with a charger that is not the server's own library (tests/chargepoint_sim.py)
and read what it lets the car draw."""

import asyncio

import pytest
import yaml
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from chargers.models import Charger, ChargerCommand
from tests.api.helpers import http_json, make_user, token_client
from tests.chargepoint_sim import sim_charger
from tests.factories import make_charger, make_site
from tests.ocpp_client import in_a_thread

PASSWORD = "pw-123456"
# 16 A on each phase of the main fuse: a 3-phase 22 kW charger gets 16 A, 11,040 W.
FUSE_SHARE_A = 16.0
FUSE_SHARE_W = 11040


def garage(**overrides) -> tuple[Charger, str]:
    """What an installer types: a site with a 16 A main fuse, a 3-phase 22 kW charger, an owner."""
    site = make_site(circuit_limit_a=16)
    charger = make_charger(site=site, password=PASSWORD, max_power_w=22000, phases=3, **overrides)
    return charger, Token.objects.create(user=make_user(sites=(site,))).key


def limit_path(charger: Charger) -> str:
    return f"/api/v1/chargers/{charger.charge_point_id}/limit"


async def request(server, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    """HTTP from a worker thread: the simulated charger must keep answering meanwhile."""
    return await in_a_thread(http_json, server, method, path, token=token, body=body)


def twenty_two_kw(server, charger: Charger):
    return sim_charger(server, charger.charge_point_id, password=PASSWORD, phases=3, max_current_a=32)


async def plug_in(cp) -> None:
    """A car arrives: energy control gives the charger its share of the fuse."""
    await cp.plug_in()
    await cp.wait_for(lambda: cp.effective_limit_a() == FUSE_SHARE_A, timeout=15, what="the fuse share")


@pytest.mark.django_db(transaction=True)
def test_a_limit_set_over_http_caps_the_charger_and_delete_gives_it_its_fuse_share_again(ocpp_server):
    charger, token = garage()

    async def scenario():
        async with twenty_two_kw(ocpp_server, charger) as cp:
            await plug_in(cp)
            set_answer = await request(ocpp_server, "POST", limit_path(charger), token, {"limit_w": 4200})
            # 4,200 W on 3 phases: 6.08 A, sent rounded down to 0.1 A.
            await cp.wait_for(lambda: cp.effective_limit_a() == 6.0, what="the manual limit")
            detail = await request(ocpp_server, "GET", f"/api/v1/chargers/{charger.charge_point_id}", token)

            cleared = await request(ocpp_server, "DELETE", limit_path(charger), token)
            await cp.wait_for(lambda: cp.effective_limit_a() == FUSE_SHARE_A, what="the limit lifted")
            return set_answer, detail, cleared

    (set_status, set_body), (_, detail), (clear_status, clear_body) = asyncio.run(scenario())

    assert set_status == 200, set_body
    manual = {
        "max_power_w": 22000,
        "current_limit_w": 4200,
        "limit_source": "manual",
        "reason": "limited by hand to 4,200 W",
    }
    assert set_body["limits"] == manual
    assert detail["limits"] == manual
    assert clear_status == 200, clear_body
    assert clear_body["status"] == "Accepted"
    assert clear_body["limits"]["current_limit_w"] == FUSE_SHARE_W
    assert clear_body["limits"]["limit_source"] == "circuit"
    assert "by hand" not in clear_body["limits"]["reason"]
    charger.refresh_from_db()
    assert (
        charger.control.manual_limit_w,
        charger.control.manual_limit_reason,
        charger.control.manual_limit_expires_at,
    ) == (None, "", None)


@pytest.mark.django_db(transaction=True)
def test_a_limit_below_a_three_phase_chargers_minimum_answers_that_it_pauses_and_why(ocpp_server):
    charger, token = garage()

    async def scenario():
        async with twenty_two_kw(ocpp_server, charger) as cp:
            await plug_in(cp)
            answer = await request(ocpp_server, "POST", limit_path(charger), token, {"limit_w": 3000})
            await cp.wait_for(lambda: cp.effective_limit_a() == 0, what="the pause")
            return answer

    status, body = asyncio.run(scenario())

    assert status == 200, body
    assert body["limits"] == {
        "max_power_w": 22000,
        "current_limit_w": 0,
        "limit_source": "manual",
        "reason": "3,000 W is below this charger's minimum of 4,140 W (6 A on 3 phases): paused",
    }


@pytest.mark.django_db(transaction=True)
def test_a_charger_that_can_switch_phases_takes_a_low_limit_on_one_phase(ocpp_server):
    charger, token = garage(can_switch_phases=True)

    async def scenario():
        async with twenty_two_kw(ocpp_server, charger) as cp:
            await plug_in(cp)
            answer = await request(ocpp_server, "POST", limit_path(charger), token, {"limit_w": 3000})
            await cp.wait_for(lambda: cp.effective_limit_a() == 13.0, what="13 A on one phase")
            return answer, cp.profile_of("ChargePointMaxProfile")

    (status, body), profile = asyncio.run(scenario())

    assert status == 200, body
    assert body["limits"] == {
        "max_power_w": 22000,
        "current_limit_w": 3000,
        "limit_source": "manual",
        "reason": "3,000 W is below this charger's minimum of 4,140 W (6 A on 3 phases): charging on 1 phase at 13 A",
    }
    assert profile["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 13.0, "numberPhases": 1}
    ]
    assert Charger.objects.get(pk=charger.pk).control.active_phases == 1


@pytest.mark.django_db(transaction=True)
def test_a_null_limit_removes_the_limit_as_delete_does(ocpp_server):
    charger, token = garage()

    async def scenario():
        async with twenty_two_kw(ocpp_server, charger) as cp:
            await plug_in(cp)
            await request(ocpp_server, "POST", limit_path(charger), token, {"limit_w": 0})
            await cp.wait_for(lambda: cp.effective_limit_a() == 0, what="the pause")
            answer = await request(ocpp_server, "POST", limit_path(charger), token, {"limit_w": None})
            await cp.wait_for(lambda: cp.effective_limit_a() == FUSE_SHARE_A, what="the limit lifted")
            return answer

    status, body = asyncio.run(scenario())

    assert status == 200, body
    assert (body["limits"]["current_limit_w"], body["limits"]["limit_source"]) == (FUSE_SHARE_W, "circuit")
    assert Charger.objects.get(pk=charger.pk).control.manual_limit_w is None


# --- Without a live charger ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_deleting_the_limit_of_an_offline_charger_is_a_409_and_keeps_the_limit():
    charger = make_charger(is_connected=False, manual_limit_w=3000, manual_limit_reason="night")
    client = token_client(make_user(is_staff=True))

    response = client.delete(limit_path(charger))

    assert response.status_code == 409
    assert response.json() == {"error": "charger_offline", "detail": f"charger {charger.charge_point_id} is offline"}
    charger.refresh_from_db()
    assert (charger.control.manual_limit_w, charger.control.manual_limit_reason) == (3000, "night")


@pytest.mark.django_db
def test_nobody_can_delete_the_limit_of_a_charger_they_do_not_see():
    bob_charger = make_charger(site=make_site(), is_connected=True, manual_limit_w=3000)
    alice = token_client(make_user(sites=(make_site(),)))

    assert alice.delete(limit_path(bob_charger)).status_code == 404
    assert APIClient().delete(limit_path(bob_charger)).status_code == 401
    assert Charger.objects.get(pk=bob_charger.pk).control.manual_limit_w == 3000
    assert not ChargerCommand.objects.exists()


@pytest.mark.django_db
def test_the_schema_documents_delete_and_the_reason_of_every_limit():
    schema = yaml.safe_load(Client().get("/api/v1/schema").content)

    delete = schema["paths"]["/api/v1/chargers/{charger_id}/limit"]["delete"]
    assert set(delete["responses"]) == {"200", "401", "403", "404", "409", "502", "504"}
    limits = schema["components"]["schemas"]["ChargerLimits"]
    assert "reason" in limits["properties"] and "reason" in limits["required"]
