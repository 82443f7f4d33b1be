"""OCPP 2.0.1 stations connect like 1.6 chargers: the same URL, door and HTTP Basic auth
(security profile 1); their boot, heartbeats and status per EVSE and connector are stored and
shown by the API. The station is tests/chargepoint_sim201.py, hand-written frames checked
against the official 2.0.1 schemas, never the server's own ocpp library."""

import asyncio
import json
import re
import uuid

import pytest
import websockets
from django.urls import reverse
from rest_framework.authtoken.models import Token

from chargers.models import OCPP16, OCPP201, Charger, ChargerEvent, Connector
from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim201 import SUBPROTOCOL, CallErrorAnswer, SimStation, check_schema, sim_station
from tests.factories import make_charger, make_site
from tests.ocpp_client import eventually, in_a_thread

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "garage-secret-201"


def station(charge_point_id: str, **fields) -> Charger:
    """What an installer types for a new charger: its id and password, on its site."""
    return make_charger(charge_point_id=charge_point_id, password=PASSWORD, **fields)


def run(scenario):
    return asyncio.run(scenario())


def test_a_station_offering_ocpp201_is_answered_in_201_and_its_boot_is_stored(ocpp_server):
    charger = station("ST201-BOOT")

    async def scenario():
        async with sim_station(ocpp_server, "ST201-BOOT", password=PASSWORD, boot=False) as st:
            assert st.subprotocol == SUBPROTOCOL
            answer = await st.boot()
            assert answer["status"] == "Accepted"
            assert answer["interval"] == charger.heartbeat_interval

    run(scenario)
    charger.refresh_from_db()
    # 28 characters: 2.0.1 allows 50 where 1.6 allowed 20.
    assert charger.vendor == "SimVendor 2.0.1 Stations Ltd"
    assert (charger.model, charger.serial_number, charger.firmware_version) == ("Sim201", "SIM-0001", "2.0.1-sim")
    assert (charger.iccid, charger.imsi) == ("8944500000000000001", "234150000000001")
    assert charger.booted_at is not None
    assert charger.connection_protocol == OCPP201
    # Its first boot is Pending while its device model is read (test_ocpp201_device_model.py).
    boots = ChargerEvent.objects.filter(charger=charger, kind=ChargerEvent.Kind.BOOT).order_by("created_at", "id")
    assert [boot.message.split(": ", 1)[1] for boot in boots] == [
        "Pending (its device model is read first)",
        "Accepted",
    ]


@pytest.mark.parametrize(
    ("offered", "configured", "spoken", "echoed"),
    [
        ((SUBPROTOCOL, OCPP16), OCPP16, OCPP201, SUBPROTOCOL),
        ((OCPP16, SUBPROTOCOL), OCPP201, OCPP16, OCPP16),
        ((), OCPP201, OCPP201, None),
    ],
    ids=["both, 2.0.1 first", "both, 1.6 first", "none, configured 2.0.1"],
)
def test_the_subprotocol_is_the_first_the_station_offers_else_the_configured_one(
    ocpp_server, offered, configured, spoken, echoed
):
    """A station lists what it speaks in its order of preference (RFC 6455); the server takes
    the first it speaks, whatever is configured: the configured protocol only stands in for
    none offered."""
    charger = station("ST201-NEGOTIATE", protocol=configured)

    async def scenario():
        st = SimStation("ST201-NEGOTIATE", password=PASSWORD)
        await st.connect(ocpp_server, subprotocols=offered)
        try:
            assert st.subprotocol == echoed
            await st.heartbeat()  # answered once the connection is recorded
            if spoken == OCPP201:
                assert (await st.boot())["status"] == "Accepted"  # by the 2.0.1 handlers
        finally:
            await st.close()

    run(scenario)
    charger.refresh_from_db()
    assert charger.connection_protocol == spoken


def handshake_status(server, charge_point_id: str, **options) -> int:
    """101 when the handshake is accepted, else the HTTP status it was refused with."""

    async def attempt():
        st = SimStation(charge_point_id, **options)
        try:
            await st.connect(server)
        except websockets.InvalidStatus as refused:
            return refused.response.status_code
        await st.close()
        return 101

    return asyncio.run(attempt())


def test_basic_auth_lets_in_the_right_password_only(ocpp_server):
    station("ST201-AUTH")

    assert handshake_status(ocpp_server, "ST201-AUTH", password="not-the-password") == 403
    assert handshake_status(ocpp_server, "ST201-AUTH") == 403
    assert handshake_status(ocpp_server, "ST201-AUTH", password=PASSWORD) == 101
    refusals = ChargerEvent.objects.filter(charge_point_id="ST201-AUTH", kind=ChargerEvent.Kind.REFUSED)
    assert {"wrong password", "missing HTTP Basic credentials"} <= {event.message for event in refusals}


def test_an_identity_with_a_colon_is_refused_for_201_and_still_speaks_16(ocpp_server):
    """OCPP 2.0.1 part 4: the identity is the Basic auth user, which holds no colon (so such a
    charger can only be one without a password)."""
    make_charger(charge_point_id="ST201:COLON")

    assert handshake_status(ocpp_server, "ST201:COLON") == 403
    refusal = ChargerEvent.objects.get(charge_point_id="ST201:COLON", kind=ChargerEvent.Kind.REFUSED)
    assert "holds no colon" in refusal.message

    async def offers_both():
        st = SimStation("ST201:COLON")
        await st.connect(ocpp_server, subprotocols=(SUBPROTOCOL, OCPP16))
        await st.close()
        return st.subprotocol

    assert asyncio.run(offers_both()) == OCPP16


def test_an_identity_over_48_characters_is_refused(ocpp_server):
    assert handshake_status(ocpp_server, "S" * 49, password=PASSWORD) == 403


def test_a_pending_station_is_answered_pending_and_may_send_nothing_else(ocpp_server):
    """An unknown station on a site that accepts unknown chargers waits for approval, as a 1.6 one."""
    make_site(accept_unknown_chargers=True)

    async def scenario():
        async with sim_station(ocpp_server, "ST201-NEW", password=PASSWORD, boot=False) as st:
            assert (await st.boot(attempts=0))["status"] == "Pending"  # it boots again in a minute
            with pytest.raises(CallErrorAnswer) as refused:
                await st.heartbeat()
            assert refused.value.code == "SecurityError"

    run(scenario)
    assert Charger.objects.get(charge_point_id="ST201-NEW").registration == Charger.Registration.PENDING


def test_a_heartbeat_is_answered_with_the_time_and_kept(ocpp_server):
    charger = station("ST201-BEAT")

    async def scenario():
        async with sim_station(ocpp_server, "ST201-BEAT", password=PASSWORD) as st:
            answer = await st.heartbeat()
            assert answer["currentTime"].endswith("Z") or "+00:00" in answer["currentTime"]

    run(scenario)
    assert eventually(lambda: Charger.objects.get(pk=charger.pk).last_heartbeat_at is not None)


def test_each_evse_is_a_connector_of_its_own_in_the_api(ocpp_server):
    """EVSE n is connector n; an EVSE's second connector reporting Unavailable while its first
    is Occupied (only one charges at a time) leaves the EVSE Occupied."""
    charger = station("ST201-EVSE", site=make_site())
    token = Token.objects.create(user=make_user(sites=(charger.site,))).key

    async def scenario():
        async with sim_station(ocpp_server, "ST201-EVSE", password=PASSWORD, evses={1: 1, 2: 2}) as st:
            await st.send_status(2, 1, "Occupied")
            await st.send_status(2, 2, "Unavailable")

    run(scenario)
    status, body = http_json(ocpp_server, "GET", "/api/v1/chargers/ST201-EVSE", token=token)
    assert status == 200, body
    assert body["connection"]["protocol"] == OCPP201
    assert [(c["id"], c["status"]) for c in body["connectors"]] == [(1, "Available"), (2, "Occupied")]
    assert Connector.objects.get(charger=charger, connector_id=2).info == "connector 1"


def test_a_connected_station_shows_as_connected_with_its_protocol_in_the_api_and_the_admin(ocpp_server, admin_client):
    charger = station("ST201-LIVE")
    token = Token.objects.create(user=make_user(sites=(charger.site,))).key

    async def scenario():
        async with sim_station(ocpp_server, "ST201-LIVE", password=PASSWORD):
            listed = await in_a_thread(http_json, ocpp_server, "GET", "/api/v1/chargers", token=token)
            detail = await in_a_thread(http_json, ocpp_server, "GET", "/api/v1/chargers/ST201-LIVE", token=token)
            page = await in_a_thread(admin_client.get, reverse("admin:chargers_charger_change", args=[charger.pk]))
            return listed, detail, page

    (status, listed), (_, detail), page = run(scenario)
    assert status == 200, listed
    [item] = listed["chargers"]
    assert (item["status"], item["connector_status"]) == ("connected", "Available")
    assert (detail["connection"]["status"], detail["connection"]["protocol"]) == ("connected", OCPP201)
    assert detail["connector"]["status"] == "Available"
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.content.decode()))
    assert "Online since" in text and "over OCPP 2.0.1" in text


def test_a_booted_station_is_sent_its_share_of_the_fuse_and_checked_to_hold_it(ocpp_server):
    """Energy control steers it with 2.0.1's calls: a ChargingStationMaxProfile on EVSE 0,
    then GetCompositeSchedule on EVSE 0."""
    site = make_site(circuit_limit_a=16)
    station("ST201-FUSE", site=site, max_power_w=22000, phases=3)

    async def scenario():
        async with sim_station(ocpp_server, "ST201-FUSE", password=PASSWORD) as st:
            await st.wait_for(lambda: st.sent("GetCompositeSchedule"), what="the held-limit check")
            [sent] = [p for p in st.sent("SetChargingProfile") if p["evseId"] == 0]
            profile = sent["chargingProfile"]
            assert profile["chargingProfilePurpose"] == "ChargingStationMaxProfile"
            assert profile["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] <= 16
            assert st.sent("GetCompositeSchedule")[0]["evseId"] == 0

    run(scenario)
    assert not ChargerEvent.objects.filter(kind=ChargerEvent.Kind.PROFILE_MISMATCH).exists()


RESERVATION_STATUS = {"reservationId": 1, "reservationUpdateStatus": "Expired"}


def test_actions_not_handled_yet_are_not_supported_and_unknown_ones_not_implemented(ocpp_server):
    check_schema("ReservationStatusUpdate", RESERVATION_STATUS, response=False)
    check_schema("Reset", {"type": "Immediate"}, response=False)
    station("ST201-ACTIONS")

    async def scenario():
        async with sim_station(ocpp_server, "ST201-ACTIONS", password=PASSWORD) as st:
            answers = {}
            for action, payload in [
                ("ReservationStatusUpdate", RESERVATION_STATUS),
                ("MakeCoffee", {}),
                ("Reset", {"type": "Immediate"}),  # the CSMS's to send, not the station's
            ]:
                unique_id = str(uuid.uuid4())
                frame = await st.send_frame(json.dumps([2, unique_id, action, payload]), unique_id)
                answers[action] = (frame[0], frame[2])
            # And what is handled is answered as the schema says.
            await st.call("FirmwareStatusNotification", {"status": "Downloading", "requestId": 1})
            await st.call("LogStatusNotification", {"status": "Uploading", "requestId": 2})
            await st.call(
                "SecurityEventNotification",
                {"type": "SettingSystemTime", "timestamp": "2026-01-01T00:00:00Z", "techInfo": "NTP"},
            )
            data_transfer = await st.call("DataTransfer", {"vendorId": "com.example", "data": {"k": [1, 2]}})
            assert data_transfer["status"] == "UnknownVendorId"
            return answers

    answers = run(scenario)
    assert answers == {
        "ReservationStatusUpdate": (4, "NotSupported"),
        "MakeCoffee": (4, "NotImplemented"),
        "Reset": (4, "NotSupported"),
    }
    charger = Charger.objects.get(charge_point_id="ST201-ACTIONS")
    assert (charger.firmware_status, charger.diagnostics_status) == ("Downloading", "Uploading")
    assert ChargerEvent.objects.get(charger=charger, kind=ChargerEvent.Kind.SECURITY_EVENT).message == (
        "SettingSystemTime: NTP"
    )


MALFORMED = [
    # (case, frame, unique id of the answer, 2.0.1's error code)
    ("not JSON", "[2, 'single quotes'", "-1", "RpcFrameworkError"),
    ("not a list", '{"boot": true}', "-1", "RpcFrameworkError"),
    ("unknown message type", '[7, "m-7", "Heartbeat", {}]', "m-7", "MessageTypeNotSupported"),
    ("a field missing", '[2, "m-1", "StatusNotification", {"timestamp": "2026-01-01T00:00:00Z"}]', "m-1",
     "OccurrenceConstraintViolation"),
    ("a field of the wrong type", '[2, "m-2", "Heartbeat", {"customData": "x"}]', "m-2", "TypeConstraintViolation"),
    ("a field the schema does not know", '[2, "m-3", "Heartbeat", {"beat": 1}]', "m-3", "FormatViolation"),
    ("a value outside its enum",
     '[2, "m-4", "StatusNotification", {"timestamp": "2026-01-01T00:00:00Z", "connectorStatus": "Charging", '
     '"evseId": 1, "connectorId": 1}]', "m-4", "PropertyConstraintViolation"),
    ("an EVSE id below 0",
     '[2, "m-5", "StatusNotification", {"timestamp": "2026-01-01T00:00:00Z", "connectorStatus": "Available", '
     '"evseId": -1, "connectorId": 1}]', "m-5", "PropertyConstraintViolation"),
    ("a time without its zone",
     '[2, "m-6", "StatusNotification", {"timestamp": "2026-01-01T00:00:00", "connectorStatus": "Available", '
     '"evseId": 1, "connectorId": 1}]', "m-6", "TypeConstraintViolation"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "frame", "unique_id", "code"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_frame_gets_201s_callerror_and_the_connection_goes_on(ocpp_server, case, frame, unique_id, code):
    station("ST201-BAD")

    async def scenario():
        async with sim_station(ocpp_server, "ST201-BAD", password=PASSWORD) as st:
            answer = await st.send_frame(frame, unique_id)
            assert answer[0] == 4, answer
            assert (answer[1], answer[2]) == (unique_id, code), answer
            assert isinstance(answer[3], str) and answer[4] == {}
            await st.heartbeat()  # still connected, still answered

    run(scenario)
    assert ChargerEvent.objects.filter(charge_point_id="ST201-BAD", kind=ChargerEvent.Kind.PROTOCOL_ERROR).exists()


def test_the_simulator_checks_its_frames_against_the_official_schemas():
    """The station under test is only as independent as its schema checks are real."""
    with pytest.raises(AssertionError, match="breaks the official schema"):
        check_schema("StatusNotification", {"connectorStatus": "Charging"}, response=False)
    check_schema("Heartbeat", {"currentTime": "2026-01-01T00:00:00Z"}, response=True)
