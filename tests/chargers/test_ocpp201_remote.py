"""Start and stop on an OCPP 2.0.1 station, asked over the REST API on real HTTP and the admin's
buttons: the station
(tests/chargepoint_sim201.py, frames checked against the official schemas) gets
RequestStartTransaction and RequestStopTransaction and answers as a real one, with the
TransactionEvents that make and close the session."""

import asyncio

import pytest
from rest_framework.authtoken.models import Token

from chargers.link import REMOTE_ID_TAG
from chargers.models import ChargerCommand
from energy.models import ChargerControl
from sessions.models import ChargingSession
from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim201 import sim_station
from tests.factories import make_charger, make_site
from tests.ocpp_client import in_a_thread
from tests.test_admin_commands import admin_session, press

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "garage-secret-201"


def run(scenario):
    return asyncio.run(scenario())


def station_and_token(charge_point_id: str):
    charger = make_charger(
        charge_point_id=charge_point_id, password=PASSWORD, site=make_site(circuit_limit_a=16), phases=3
    )
    return charger, Token.objects.create(user=make_user(sites=(charger.site,))).key


def test_a_start_then_a_stop_over_the_api_make_and_close_the_stations_session(ocpp_server):
    charger, token = station_and_token("ST201-REMOTE")
    path = "/api/v1/chargers/ST201-REMOTE"
    seen = {}

    async def scenario():
        async with sim_station(ocpp_server, "ST201-REMOTE", password=PASSWORD, evses={1: 1, 2: 1}) as st:
            seen["start"] = await in_a_thread(
                http_json, ocpp_server, "POST", f"{path}/start", token=token, body={"connector_id": 2}
            )
            await st.follow_ups_done()
            seen["running"] = await in_a_thread(http_json, ocpp_server, "GET", f"{path}/sessions", token=token)
            seen["stop"] = await in_a_thread(http_json, ocpp_server, "POST", f"{path}/stop", token=token)
            await st.follow_ups_done()
            seen["station"] = st

    run(scenario)
    st = seen["station"]
    assert seen["start"] == (200, {"status": "Accepted", "charger_response": {"status": "Accepted"}})
    [start] = st.sent("RequestStartTransaction")
    assert start["idToken"] == {"idToken": REMOTE_ID_TAG, "type": "Central"}
    assert start["evseId"] == 2

    status, body = seen["running"]
    assert status == 200 and body["count"] == 1
    assert body["sessions"][0]["ended"] is None

    # The station's Started carried the request's remoteStartId: the session is the one we asked for.
    session = ChargingSession.objects.get(charger=charger)
    assert session.remote_start_id == start["remoteStartId"]
    assert (session.connector_id, session.id_tag, session.trigger_reason) == (2, REMOTE_ID_TAG, "RemoteStop")

    assert seen["stop"] == (200, {"status": "Accepted", "charger_response": {"status": "Accepted"}})
    assert st.sent("RequestStopTransaction") == [{"transactionId": session.charger_transaction_id}]
    assert session.stopped_at is not None and session.stop_reason == "Remote"


def test_a_start_the_station_rejects_is_the_apis_rejected_error(ocpp_server):
    charger, token = station_and_token("ST201-NO")

    async def scenario():
        async with sim_station(ocpp_server, "ST201-NO", password=PASSWORD) as st:
            st.remote_start_status = "Rejected"
            answer = await in_a_thread(http_json, ocpp_server, "POST", "/api/v1/chargers/ST201-NO/start", token=token)
            return answer, st.sent("RequestStartTransaction")

    (status, body), sent = run(scenario)
    assert status == 502
    assert body == {
        "error": "charger_rejected",
        "detail": "the charger answered Rejected to RequestStartTransaction",
        "charger_status": "Rejected",
    }
    assert len(sent) == 1
    assert not ChargingSession.objects.filter(charger=charger).exists()


def test_a_stop_with_nothing_running_is_not_sent(ocpp_server):
    _, token = station_and_token("ST201-IDLE")

    async def scenario():
        async with sim_station(ocpp_server, "ST201-IDLE", password=PASSWORD) as st:
            answer = await in_a_thread(http_json, ocpp_server, "POST", "/api/v1/chargers/ST201-IDLE/stop", token=token)
            return answer, st.sent("RequestStopTransaction")

    (status, body), sent = run(scenario)
    assert (status, body["error"], sent) == (409, "charger_busy", [])


def test_a_station_not_holding_its_fuse_limit_gets_it_before_the_start(ocpp_server):
    charger, token = station_and_token("ST201-FIRST")

    async def scenario():
        async with sim_station(ocpp_server, "ST201-FIRST", password=PASSWORD) as st:
            await st.wait_for(lambda: st.sent("GetCompositeSchedule"), what="the limits after the boot")
            await in_a_thread(lambda: ChargerControl.objects.filter(pk=charger.pk).update(protection_w=None))
            st.calls.clear()
            await in_a_thread(http_json, ocpp_server, "POST", "/api/v1/chargers/ST201-FIRST/start", token=token)
            return [name for name, _ in st.calls]

    actions = run(scenario)
    assert "SetChargingProfile" in actions
    assert actions.index("SetChargingProfile") < actions.index("RequestStartTransaction")


def test_the_admins_start_stop_and_reset_speak_201(ocpp_server):
    charger, _ = station_and_token("ST201-ADMIN")
    browser = admin_session(ocpp_server)

    def press_on(slug: str, data: dict | None = None) -> str:
        return press(browser, ocpp_server, charger, slug, data)

    async def scenario():
        async with sim_station(ocpp_server, "ST201-ADMIN", password=PASSWORD) as st:
            start_page = await in_a_thread(press_on, "remote-start", {"connector_id": "1"})
            await st.follow_ups_done()
            stop_page = await in_a_thread(press_on, "remote-stop")
            await st.follow_ups_done()
            reset_page = await in_a_thread(press_on, "reset", {"reset_type": "Immediate"})
            return st, start_page, stop_page, reset_page

    st, start_page, stop_page, reset_page = run(scenario)
    assert "The charger answered Accepted" in start_page and "The charger answered Accepted" in stop_page
    [start] = st.sent("RequestStartTransaction")
    session = ChargingSession.objects.get(charger=charger)
    assert session.remote_start_id == start["remoteStartId"] and session.stop_reason == "Remote"
    assert st.sent("RequestStopTransaction") == [{"transactionId": session.charger_transaction_id}]
    # Every other button speaks 2.0.1 too (tests/chargers/test_ocpp201_admin_commands.py).
    assert "The charger answered Accepted" in reset_page and st.sent("Reset") == [{"type": "Immediate"}]
    assert ChargerCommand.objects.get(charger=charger, action="Reset").outcome == "answered"
