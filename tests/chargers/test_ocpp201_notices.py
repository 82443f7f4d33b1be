"""What an OCPP 2.0.1 station tells of the car, its device and its limits, over a real WebSocket
to the live server: the car's charging needs steer time-of-use for its charger, a fault told
in a NotifyEvent faults the EVSE as 1.6's Faulted does, limits set outside this server and
the profiles a station holds are logged in words; 36-character tokens and our remote start's
remoteStartId. The station is tests/chargepoint_sim201.py (hand-written frames checked against
the official 2.0.1 schemas), never the server's own ocpp library."""

import asyncio
import datetime as dt
import time
import uuid

import pytest
from rest_framework.authtoken.models import Token

from chargers.link import REMOTE_ID_TAG
from chargers.models import ChargerCommand, ChargerEvent, Connector, IdTag
from energy.models import LimitDecision, TimeOfUse
from sessions.models import ChargingSession
from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim201 import (
    CallErrorAnswer,
    device_event,
    energy_register,
    meter_value,
    sim_station,
    utc_now,
)
from tests.factories import make_charger, make_id_tag, make_site, make_tariff
from tests.ocpp_client import in_a_thread
from tests.test_admin_commands import admin_session

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "garage-secret-201"
TX = "3d1f7a52-0c4e-4b9a-8e21-6f0b5c2d9a77"


def run(scenario):
    return asyncio.run(scenario())


def events_of(charger, kind: str) -> list[str]:
    return list(
        ChargerEvent.objects.filter(charger=charger, kind=kind).order_by("id").values_list("message", flat=True)
    )


async def decision_when(charger, condition, what: str) -> LimitDecision:
    """The charger's latest decision once it satisfies condition: a run records its decision
    after the station answered its profiles."""
    deadline = time.monotonic() + 10
    while True:
        decision = await in_a_thread(LimitDecision.objects.filter(charger=charger).first)
        if decision is not None and condition(decision):
            return decision
        assert time.monotonic() < deadline, f"no decision {what}; the latest: {decision}"
        await asyncio.sleep(0.05)


def first_limit(station, purpose: str) -> float | None:
    profile = station.profile_of(purpose)
    return None if profile is None else profile["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"]


# --- NotifyEVChargingNeeds: the car's target for energy control ------------------------------------


def a_site_waiting_for_cheap_hours(charge_point_id: str):
    """Time of use ready by six hours from now, with cheap hours three to five hours from now: a
    car with no target of its own waits for them (TxDefaultProfile 0 W now)."""
    site = make_site(time_zone="UTC", circuit_limit_a=32)
    now = utc_now()

    def hhmm(hours: int) -> str:
        return f"{(now + dt.timedelta(hours=hours)):%H:%M}"

    make_tariff(site=site, periods=[("cheap", hhmm(3), hhmm(5), "0.08", 1), ("standard", None, None, "0.30", 2)])
    ready_by = (now + dt.timedelta(hours=6)).time().replace(second=0, microsecond=0)
    TimeOfUse.objects.update_or_create(site=site, defaults={"enabled": True, "ready_by": ready_by})
    return make_charger(charge_point_id=charge_point_id, password=PASSWORD, site=site, phases=3, max_power_w=11000)


def test_the_cars_departure_and_energy_need_steer_time_of_use_for_its_charger(ocpp_server):
    charger = a_site_waiting_for_cheap_hours("ST201-NEEDS")
    departure = (utc_now() + dt.timedelta(hours=1)).replace(microsecond=0)
    seen = {}

    async def scenario():
        async with sim_station(ocpp_server, "ST201-NEEDS", password=PASSWORD) as st:
            await st.send_status(1, 1, "Occupied")
            await st.transaction_event(
                "Started",
                TX,
                0,
                trigger_reason="ChargingStateChanged",
                charging_state="Charging",
                evse_id=1,
                meter_values=[meter_value(utc_now(), energy_register(2000, "Transaction.Begin"))],
            )
            await st.wait_for(lambda: first_limit(st, "TxDefaultProfile") == 0, what="the site's plan: wait")
            seen["site_decision"] = await decision_when(charger, lambda d: d.source == "plan", "by the site's plan")
            seen["answer"] = await st.ev_charging_needs(1, departure=departure, energy_wh=5000)
            await st.wait_for(lambda: first_limit(st, "TxDefaultProfile"), what="the car's plan: charge now")
            seen["car_decision"] = await decision_when(charger, lambda d: d.limit_w > 0, "by the car's plan")
            seen["car_schedule"] = st.profile_of("TxDefaultProfile")["chargingSchedule"][0]

    run(scenario)
    assert seen["answer"] == {"status": "Accepted"}
    session = ChargingSession.objects.get(charger=charger, charger_transaction_id=TX)
    assert (session.ev_departure_at, session.ev_energy_wh) == (departure, 5000)
    # Without the car's need the site's target holds it back; with it, it charges before it leaves.
    site_decision, car_decision = seen["site_decision"], seen["car_decision"]
    assert (site_decision.limit_w, site_decision.source, site_decision.inputs["grid_allowed"]) == (0, "plan", False)
    assert car_decision.limit_w > 0 and car_decision.inputs["grid_allowed"] is True
    # The car's plan ends before it leaves: about the half hour 5 kWh take at 11 kW.
    schedule = seen["car_schedule"]
    plan_end = dt.datetime.fromisoformat(schedule["startSchedule"]) + dt.timedelta(seconds=schedule["duration"])
    assert plan_end <= departure


def test_charging_needs_with_no_session_are_rejected_and_kept_and_a_broken_energy_refused(ocpp_server):
    charger = make_charger(charge_point_id="ST201-NEEDS0", password=PASSWORD)

    async def scenario():
        async with sim_station(ocpp_server, "ST201-NEEDS0", password=PASSWORD) as st:
            answer = await st.ev_charging_needs(1, energy_wh=12000, dc=True)
            with pytest.raises(CallErrorAnswer) as refused:
                await st.ev_charging_needs(1, energy_wh=2_000_000_000)
            return answer, refused.value.code

    answer, code = run(scenario)
    assert answer == {"status": "Rejected"}
    assert code == "PropertyConstraintViolation"
    [kept] = events_of(charger, ChargerEvent.Kind.NOTIFY_EVENT)
    assert "EVSE 1 with no session running there" in kept and "12000 Wh" in kept


# --- NotifyEvent: faults --------------------------------------------------------------------------


def test_a_problem_told_in_notify_event_faults_the_evse_and_its_end_restores_it(ocpp_server):
    charger = make_charger(charge_point_id="ST201-FAULT", password=PASSWORD)
    token = Token.objects.create(user=make_user(sites=(charger.site,))).key
    path = "/api/v1/chargers/ST201-FAULT"
    seen = {}

    def connector() -> tuple[str, str]:
        return Connector.objects.values_list("status", "error_code").get(charger=charger, connector_id=1)

    async def scenario():
        async with sim_station(ocpp_server, "ST201-FAULT", password=PASSWORD) as st:
            problem = {"evse_id": 1, "connector_id": 1, "techCode": "GroundFailure", "techInfo": "RCD tripped"}
            seen["fault_answer"] = await st.notify_event(
                device_event("Connector", "Problem", "true", event_id=7, **problem),
                device_event("Controller", "Temperature", "71.5", event_id=8, trigger="Alerting"),
            )
            seen["faulted"] = await in_a_thread(connector)
            seen["api_faulted"] = await in_a_thread(http_json, ocpp_server, "GET", path, token=token)
            await st.notify_event(device_event("Connector", "Problem", "false", event_id=9, cleared=True, **problem))
            seen["cleared"] = await in_a_thread(connector)
            seen["api_cleared"] = await in_a_thread(http_json, ocpp_server, "GET", path, token=token)

    run(scenario)
    assert seen["fault_answer"] == {}
    assert seen["faulted"] == ("Faulted", "GroundFailure")
    status, body = seen["api_faulted"]
    assert status == 200 and body["connector"] == {"id": 1, "status": "Faulted", "error": "GroundFailure"}
    assert seen["cleared"] == ("Available", "")
    assert seen["api_cleared"][1]["connector"] == {"id": 1, "status": "Available", "error": ""}
    assert events_of(charger, ChargerEvent.Kind.NOTIFY_EVENT) == [
        "Connector on EVSE 1 connector 1: Problem = 'true' (GroundFailure: RCD tripped)",
        "Controller: Temperature = '71.5'",
        "Connector on EVSE 1 connector 1: Problem = 'false' (GroundFailure: RCD tripped), cleared",
    ]


def test_availability_state_faulted_on_an_evse_with_a_car_clears_back_to_occupied(ocpp_server):
    charger = make_charger(charge_point_id="ST201-AVAIL", password=PASSWORD)

    async def scenario():
        async with sim_station(ocpp_server, "ST201-AVAIL", password=PASSWORD, evses={1: 1, 2: 1}) as st:
            await st.send_status(2, 1, "Occupied")
            await st.transaction_event("Started", TX, 0, charging_state="Charging", evse_id=2)
            await st.notify_event(device_event("EVSE", "AvailabilityState", "Faulted", evse_id=2))
            faulted = await in_a_thread(lambda: list(Connector.objects.filter(charger=charger).values_list("status")))
            await st.notify_event(device_event("EVSE", "AvailabilityState", "Faulted", evse_id=2, cleared=True))
            return faulted

    faulted = run(scenario)
    assert faulted == [("Available",), ("Faulted",)]  # EVSE 1 untouched
    assert Connector.objects.values_list("status", "error_code").get(charger=charger, connector_id=2) == (
        "Occupied",
        "",
    )


# --- NotifyChargingLimit, ClearedChargingLimit, ReportChargingProfiles -------------------------------


def test_limits_set_outside_and_the_profiles_a_station_holds_are_logged_in_words(ocpp_server):
    charger = make_charger(charge_point_id="ST201-LIMITS", password=PASSWORD, phases=3, max_power_w=11000)

    async def scenario():
        async with sim_station(ocpp_server, "ST201-LIMITS", password=PASSWORD) as st:
            await st.wait_for(lambda: st.profile_of("ChargingStationMaxProfile"), what="the fuse limit")
            answers = [
                await st.notify_charging_limit("SO", evse_id=1, limit=10, isGridCritical=True),
                await st.notify_charging_limit("EMS"),
                await st.cleared_charging_limit("SO", evse_id=1),
                await st.report_charging_profiles(5, evse_id=0),
                await st.report_charging_profiles(6, evse_id=1, source="EMS", tbc=True),
            ]
            return answers, first_limit(st, "ChargingStationMaxProfile")

    answers, held_a = run(scenario)
    assert answers == [{}, {}, {}, {}, {}]
    assert events_of(charger, ChargerEvent.Kind.EXTERNAL_LIMIT) == [
        "SO limits EVSE 1 to 10 A (grid critical)",
        "EMS set a limit on the whole station (no schedule told)",
        "SO's limit on EVSE 1 cleared",
        "EVSE 1 holds, set by EMS (request 6): ChargingStationExternalConstraints #9 at stack level 0: 10 A",
    ]
    [held] = [m for m in events_of(charger, ChargerEvent.Kind.NOTIFY_EVENT) if "request 5" in m]
    assert held == (
        f"the whole station holds, set by CSO (request 5): ChargingStationMaxProfile #1 at stack level 0: {held_a:g} A"
    )
    report = ChargerEvent.objects.get(charger=charger, message=held)
    assert report.payload["requestId"] == 5 and report.payload["chargingProfile"][0]["id"] == 1


# --- tokens of up to 36 characters -----------------------------------------------------------------


def test_a_36_character_token_is_authorized_and_kept_whole_on_its_session(ocpp_server):
    charger = make_charger(charge_point_id="ST201-LONG", password=PASSWORD)
    token = str(uuid.uuid4()).upper()  # 36 characters
    make_id_tag(id_tag=token, name="fleet card")
    emaid = "DE-8AA-C1A2B3C4D5E6F7G8-X"  # an eMAID of 25 characters, more than 1.6's 20

    async def scenario():
        async with sim_station(ocpp_server, "ST201-LONG", password=PASSWORD) as st:
            authorized = await st.authorize(token.lower(), "Central")
            stranger = await st.authorize(emaid, "eMAID")
            started = await st.transaction_event("Started", TX, 0, charging_state="Charging", evse_id=1, id_token=token)
            return authorized, stranger, started

    authorized, stranger, started = run(scenario)
    assert len(token) == 36 and len(emaid) == 25
    assert authorized["idTokenInfo"] == {"status": "Accepted"}
    assert started["idTokenInfo"] == {"status": "Accepted"}
    assert stranger["idTokenInfo"] == {"status": "Invalid"}
    session = ChargingSession.objects.get(charger=charger)
    assert session.id_tag == token and session.id_tag_ref.name == "fleet card"
    # An unknown long token is remembered whole, for the installer to accept.
    assert IdTag.objects.get(id_tag=emaid).status == IdTag.Status.INVALID


# --- remoteStartId ---------------------------------------------------------------------------------


def test_the_started_event_is_matched_to_our_request_and_an_unknown_remote_start_id_is_kept(ocpp_server):
    charger = make_charger(charge_point_id="ST201-RSID", password=PASSWORD, site=make_site(circuit_limit_a=32))
    user = make_user(sites=(charger.site,))
    token = Token.objects.create(user=user).key
    seen = {}

    async def scenario():
        async with sim_station(ocpp_server, "ST201-RSID", password=PASSWORD, evses={1: 1, 2: 1}) as st:
            ours = await st.authorize(REMOTE_ID_TAG, "Central")
            seen["start"] = await in_a_thread(
                http_json,
                ocpp_server,
                "POST",
                "/api/v1/chargers/ST201-RSID/start",
                token=token,
                body={"connector_id": 1},
            )
            await st.follow_ups_done()
            # A start nobody here asked for (the station's own app, say) still makes its session.
            stranger = await st.transaction_event(
                "Started",
                TX,
                0,
                trigger_reason="RemoteStart",
                charging_state="Charging",
                evse_id=2,
                idToken={"idToken": REMOTE_ID_TAG, "type": "Central"},
                remoteStartId=777,
            )
            return ours, stranger, st.sent("RequestStartTransaction")

    ours, stranger, [request] = run(scenario)
    assert ours["idTokenInfo"] == stranger["idTokenInfo"] == {"status": "Accepted"}
    assert not IdTag.objects.filter(id_tag__iexact=REMOTE_ID_TAG).exists()
    assert seen["start"][0] == 200
    asked = ChargingSession.objects.get(charger=charger, connector_id=1)
    command = ChargerCommand.objects.get(charger=charger, action="RequestStartTransaction")
    assert asked.remote_start_id == request["remoteStartId"] == command.payload["remoteStartId"]
    unknown = ChargingSession.objects.get(charger=charger, connector_id=2)
    assert (unknown.remote_start_id, unknown.charger_transaction_id, unknown.stopped_at) == (777, TX, None)

    # The session's admin page says who asked for the start.
    browser = admin_session(ocpp_server)
    page = browser.get(f"{ocpp_server.http_url}/admin/charging_sessions/chargingsession/{asked.pk}/change/", timeout=10)
    assert page.status_code == 200
    assert f"{command.requested_by} (RequestStartTransaction at" in page.text
    other = browser.get(
        f"{ocpp_server.http_url}/admin/charging_sessions/chargingsession/{unknown.pk}/change/", timeout=10
    )
    assert "no request of ours (remoteStartId 777)" in other.text
