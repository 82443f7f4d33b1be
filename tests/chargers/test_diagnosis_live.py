"""Troubleshooting that answers (issue 29), on the live server with a charger that misbehaves on
purpose (tests/chargepoint_sim.py): each refused handshake, a reconnect loop, a refused start and
tag, a charger that ignores its limit and one that rejects every profile, as
GET /api/v1/chargers/{id}/diagnosis says them."""

import asyncio
import base64
import time

import pytest
import websockets
from rest_framework.authtoken.models import Token

from chargers.models import Charger, ChargerEvent
from energy.tasks import limits_ignored_check
from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim import SimCharger, sim_charger
from tests.conftest import start_server, stop_server
from tests.factories import make_charger, make_id_tag, make_site
from tests.ocpp_client import in_a_thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

PASSWORD = "diagnosis-pw-1"
WAIT_S = 20


@pytest.fixture
def household():
    site = make_site(circuit_limit_a=16)
    owner = make_user(sites=(site,))
    return {"site": site, "token": Token.objects.create(user=owner).key}


def diagnosis(server, household, charger: Charger) -> dict:
    status, body = http_json(
        server, "GET", f"/api/v1/chargers/{charger.charge_point_id}/diagnosis", token=household["token"]
    )
    assert status == 200, body
    return {f["symptom"]: f for f in body["findings"]} | {"status": body["status"]}


async def finding_says(server, household, charger: Charger, symptom: str, words: str) -> dict:
    """The symptom's finding once it says `words` (refusals reach the log a moment after the
    handshake is answered)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        found = (await in_a_thread(diagnosis, server, household, charger))[symptom]
        if words in found["finding"] or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def refused(server, path: str, *, password: str | None = None, user: str = "", subprotocols=("ocpp1.6",)):
    """A handshake the server refuses: the HTTP status it answered."""
    headers = {}
    if password is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    with pytest.raises(websockets.InvalidStatus) as refusal:
        async with websockets.connect(
            f"{server.ws_url}{path}", subprotocols=list(subprotocols), additional_headers=headers, open_timeout=10
        ):
            pass
    return refusal.value.response.status_code


def test_each_refused_handshake_is_named_with_its_fix(ocpp_server, household):
    charger = make_charger(site=household["site"], charge_point_id="GARAGE-1", password=PASSWORD)
    cp_id = charger.charge_point_id

    async def scenario():
        said = {}
        assert await refused(ocpp_server, f"/ws/{cp_id}", password=PASSWORD, user=cp_id) == 404
        said["path"] = await finding_says(ocpp_server, household, charger, "connection_refused", "wrong URL path")
        assert await refused(ocpp_server, "/ocpp/GARAGE_1", password=PASSWORD, user="GARAGE_1") == 403
        said["id"] = await finding_says(ocpp_server, household, charger, "connection_refused", "GARAGE_1")
        assert await refused(ocpp_server, f"/ocpp/{cp_id}", password="not-it", user=cp_id) == 403
        said["password"] = await finding_says(ocpp_server, household, charger, "connection_refused", "wrong password")
        assert await refused(ocpp_server, f"/ocpp/{cp_id}", password=PASSWORD, user=cp_id, subprotocols=["ocpp1.5"])
        said["subprotocol"] = await finding_says(ocpp_server, household, charger, "connection_refused", "protocol")
        await in_a_thread(Charger.objects.filter(pk=charger.pk).update, security_profile=2)
        assert await refused(ocpp_server, f"/ocpp/{cp_id}", password=PASSWORD, user=cp_id) == 403
        said["tls"] = await finding_says(ocpp_server, household, charger, "connection_refused", "TLS")
        return said

    said = asyncio.run(scenario())

    assert said["path"]["status"] == "problem"
    assert "the charger connects to the wrong URL path (/ws/GARAGE-1)" in said["path"]["finding"]
    assert "/ocpp/GARAGE-1" in said["path"]["fix"]
    assert "connects with the id GARAGE_1, which no charger here has" in said["id"]["finding"]
    assert "identity (ChargePointId) to GARAGE-1" in said["id"]["fix"]
    assert said["password"]["finding"].endswith("the charger sends a wrong password.")
    assert "Set the same password" in said["password"]["fix"]
    assert "does not speak (unsupported subprotocol ocpp1.5" in said["subprotocol"]["finding"]
    assert "ocpp1.6" in said["subprotocol"]["fix"]
    assert "connects without TLS (ws://)" in said["tls"]["finding"]
    assert "wss://" in said["tls"]["fix"]
    assert said["tls"]["evidence"] and said["tls"]["seen_at"]


def test_a_reconnect_loop_is_counted(ocpp_server, household):
    charger = make_charger(site=household["site"], password=PASSWORD)

    async def scenario():
        for _ in range(4):
            cp = SimCharger(charger.charge_point_id, password=PASSWORD)
            await cp.connect(ocpp_server)
            await cp.close()
        return await finding_says(ocpp_server, household, charger, "connects_then_disconnects", "4 connections")

    found = asyncio.run(scenario())

    assert found["status"] == "problem"
    assert found["finding"].startswith("The charger reconnects in a loop: 4 connections in 1 minute; likely cause: ")
    assert "the charger closes the connection itself" in found["finding"]
    assert found["fix"]


def test_a_refused_remote_start_and_a_refused_tag(ocpp_server, household):
    refuses = make_charger(site=household["site"], password=PASSWORD)
    stranger = make_charger(site=household["site"], password=PASSWORD)

    async def scenario():
        async with sim_charger(
            ocpp_server, refuses.charge_point_id, password=PASSWORD, rejects_remote_start=True
        ) as cp:
            await cp.plug_in()
            start = await in_a_thread(
                http_json, ocpp_server, "POST", f"/api/v1/chargers/{refuses.charge_point_id}/start",
                token=household["token"], body={},
            )  # fmt: skip
            start_found = await finding_says(ocpp_server, household, refuses, "charging_wont_start", "refused")
        async with sim_charger(ocpp_server, stranger.charge_point_id, password=PASSWORD) as cp:
            answer = await cp.start(id_tag="STRANGER")
            tag_found = await finding_says(ocpp_server, household, stranger, "charging_wont_start", "STRANGER")
        return start, start_found, answer, tag_found

    (start_status, _), start_found, answer, tag_found = asyncio.run(scenario())

    assert start_status == 502
    assert start_found["status"] == "problem"
    assert "The charger refused the start: it answered Rejected to RemoteStartTransaction" in start_found["finding"]
    assert start_found["homeowner"] == "Your car is plugged in but the charger refused to start charging."
    assert answer["idTagInfo"]["status"] == "Invalid"
    assert "asked to start with tag STRANGER" in tag_found["finding"]
    assert "the tag is Invalid here" in tag_found["finding"]
    assert "Accept the tag in the admin" in tag_found["fix"]


@pytest.fixture(scope="module")
def quick_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """The live server with the time above a limit that counts as ignoring it at 2 s, not a minute."""
    process, server = start_server(tmp_path_factory.mktemp("diagnosis"), {"DIAGNOSIS_OVER_LIMIT_S": "2"})
    yield server
    stop_server(process)


def test_a_charger_that_ignores_its_limit(quick_server, household, settings):
    settings.DIAGNOSIS_OVER_LIMIT_S = 2  # as the server has it, for the periodic check run here
    charger = make_charger(site=household["site"], password=PASSWORD, max_power_w=22000, phases=3)
    make_id_tag(id_tag="RFID1")

    async def scenario():
        async with sim_charger(quick_server, charger.charge_point_id, password=PASSWORD, ignores_limits=True) as cp:
            await cp.start()
            await cp.wait_for(lambda: cp.effective_limit_a() == 16, timeout=WAIT_S, what="the fuse limit")
            await asyncio.sleep(1)  # samples after the limit was taken
            await cp.send_meter_values()
            before = (await in_a_thread(diagnosis, quick_server, household, charger))["power_limit_not_applied"]
            await asyncio.sleep(2.5)
            await cp.send_meter_values()
            after = await finding_says(quick_server, household, charger, "power_limit_not_applied", "above")
            stepped = [await in_a_thread(limits_ignored_check), await in_a_thread(limits_ignored_check)]
            return cp.draw_a, before, after, stepped

    draw_a, before, after, stepped = asyncio.run(scenario())

    assert draw_a == 32  # the car draws its maximum under a 16 A limit
    assert before["status"] == "ok"
    assert after["status"] == "problem"
    assert after["finding"].startswith("The measured power stayed above the limit: up to 22.1 kW for ")
    assert "where 11.0 kW is in force (the charger accepted the limit but does not apply it)" in after["finding"]
    assert "fallbacks" in after["fix"]
    # The periodic check steps to the next fallback, once for this stretch above the limit.
    assert stepped == [1, 0]
    step = Charger.objects.get(pk=charger.pk).limit_fallbacks["steps"][-1]
    assert step["why"].startswith("measured power up to 22.1 kW above the 11.0 kW limit it accepted for ")
    assert ChargerEvent.objects.filter(
        charger=charger, kind=ChargerEvent.Kind.PROFILE_MISMATCH, message__startswith="measured power up to"
    ).exists()


def test_a_charger_that_rejects_every_profile(ocpp_server, household):
    charger = make_charger(site=household["site"], password=PASSWORD, max_power_w=22000, phases=3)
    make_id_tag(id_tag="RFID1")

    async def scenario():
        async with sim_charger(ocpp_server, charger.charge_point_id, password=PASSWORD, accept_profiles=False) as cp:
            await cp.start()
            await cp.wait_for(lambda: cp.sent("SetChargingProfile"), timeout=WAIT_S, what="a profile")
            return await finding_says(ocpp_server, household, charger, "power_limit_not_applied", "rejected")

    found = asyncio.run(scenario())

    assert found["status"] == "problem"
    assert found["finding"].startswith("The charger rejected the profile: ")
    assert "was answered Rejected" in found["finding"]
    assert "fallbacks" in found["fix"]


def test_a_charger_that_rejects_watts_is_said_to_hold_its_limit_in_amps_after_the_fallback(ocpp_server, household):
    charger = make_charger(site=household["site"], password=PASSWORD, max_power_w=22000, phases=3)

    async def scenario():
        async with sim_charger(
            ocpp_server,
            charger.charge_point_id,
            password=PASSWORD,
            configuration={"ChargingScheduleAllowedChargingRateUnit": "Power"},
            rejected_units=("W",),
            unannounced_units=("A",),
        ) as cp:
            await cp.wait_for(lambda: cp.profile_of("ChargePointMaxProfile") is not None, what="a limit it takes")
            return await finding_says(ocpp_server, household, charger, "power_limit_not_applied", "fallback")

    found = asyncio.run(scenario())

    assert found["status"] == "ok", found
    assert found["finding"].startswith("The charger holds the limit sent (")
    assert "with the fallback it taught (" in found["finding"]
    assert "ChargePointMaxProfile Rejected, so limits in amps" in found["finding"]


def test_a_wrong_path_with_a_nul_is_logged_printable(ocpp_server):
    """`%00` decodes to a NUL, which PostgreSQL cannot store: the row keeps it escaped."""

    async def scenario():
        await refused(ocpp_server, "/ws/a%00b")
        refusals = ChargerEvent.objects.filter(kind=ChargerEvent.Kind.REFUSED).values_list("message", flat=True)
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            rows = await in_a_thread(lambda: list(refusals.all()))
            if rows:
                return rows
            await asyncio.sleep(0.2)
        return []

    rows = asyncio.run(scenario())

    assert rows and rows[0].startswith("/ws/a\\x00b is not a charger's URL path"), rows
