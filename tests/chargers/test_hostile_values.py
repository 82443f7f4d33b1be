"""Values a broken or hostile charger sends, over a real socket to the live server (issue 25):
samples outside physics, clocks far off, integers beyond the database's columns, huge
vendor data. Each is answered as the spec says, nothing unusable is used, every page serves."""

import asyncio
import datetime as dt
import json
import time
import urllib.error
import urllib.request
import uuid

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from chargers.models import ChargerEvent, Connector
from chargers.ocpp.base import NUL_REFUSED
from sessions.models import ChargingSession, MeterSample, RejectedSample
from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim import sim_charger
from tests.factories import make_charger, make_id_tag, make_session, make_site, make_tariff
from tests.ocpp_client import RawCharger, eventually, in_a_thread, open_socket, raw_frames_then_heartbeat

pytestmark = pytest.mark.django_db(transaction=True)

ABSURD = ("1000000000000000", "1e+15", "1e15", "1E+15")


def iso(when: dt.datetime) -> str:
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def frame(action: str, payload: dict) -> str:
    return json.dumps([2, str(uuid.uuid4()), action, payload])


def start(timestamp: str, **extra) -> dict:
    return {"connectorId": 1, "idTag": "RFID1", "meterStart": 1000, "timestamp": timestamp, **extra}


def meter_values(timestamp: str, *sampled: dict, **extra) -> dict:
    return {"connectorId": 1, "meterValue": [{"timestamp": timestamp, "sampledValue": list(sampled)}], **extra}


def owner_pages(server, charger, transaction_id: int) -> dict[str, tuple[int, str, float]]:
    """Every page and API read a homeowner has on this session, over HTTP: status, body and
    how long the answer took in seconds."""
    user = make_user(sites=(charger.site,))
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    pages = {}
    for path in ("/", "/chargers/live", "/sessions/", "/sessions.csv", f"/sessions/{transaction_id}/"):
        request = urllib.request.Request(f"{server.http_url}{path}", headers={"Cookie": cookie})
        asked = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                pages[path] = (response.status, response.read().decode(), time.monotonic() - asked)
        except urllib.error.HTTPError as error:
            pages[path] = (error.code, "", time.monotonic() - asked)
    api = f"/api/v1/chargers/{charger.charge_point_id}/sessions"
    asked = time.monotonic()
    status, body = http_json(server, "GET", api, token=Token.objects.create(user=user).key)
    pages[api] = (status, json.dumps(body), time.monotonic() - asked)
    return pages


def test_a_1e15_w_sample_is_answered_kept_as_rejected_and_never_shown(ocpp_server, admin_client):
    charger = make_charger()
    now = iso(dt.datetime.now(dt.UTC))
    absurd = meter_values(
        now,
        {"value": "1e15", "measurand": "Power.Active.Import", "unit": "W"},
        {"value": "1500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
    )

    async def scenario():
        raw = RawCharger(await open_socket(ocpp_server, charger.charge_point_id))
        started = await raw.send_frame(frame("StartTransaction", start(now)))
        transaction_id = started[2]["transactionId"]
        answers = [await raw.send_frame(frame("MeterValues", {**absurd, "transactionId": transaction_id}))]
        # A replay (the charger never heard the answer) adds nothing.
        answers.append(await raw.send_frame(frame("MeterValues", {**absurd, "transactionId": transaction_id})))
        await raw.ws.close()
        return transaction_id, answers

    transaction_id, answers = asyncio.run(scenario())

    assert [a[0] for a in answers] == [3, 3], "answered MeterValues.conf: the charger must not retry it"
    rejected = RejectedSample.objects.get(charger=charger)
    assert (rejected.measurand, rejected.value_text, rejected.reason) == ("Power.Active.Import", "1e15", "out_of_range")
    assert rejected.reported_transaction_id == transaction_id
    kept = MeterSample.objects.filter(charger=charger)
    assert [(s.measurand, s.value) for s in kept] == [("Energy.Active.Import.Register", 1500.0)]
    pages = owner_pages(ocpp_server, charger, transaction_id)
    for path, (status, body, _) in pages.items():
        assert status == 200, path
        assert not any(a in body for a in ABSURD), f"{path} shows the rejected value"
    # Such a sample once built a chart until the server ran out of memory (4 GB in 32 s).
    assert pages[f"/sessions/{transaction_id}/"][2] < 1.0, "the session page is served in well under a second"
    # The installer finds it in the admin, with why it was rejected.
    listed = admin_client.get(reverse("admin:charging_sessions_rejectedsample_changelist"), {"reason": "out_of_range"})
    assert listed.status_code == 200 and "1e15" in listed.content.decode()


CLOCKS_OFF = [
    ("year 1", "0001-01-01T00:00:00Z", dt.datetime(1, 1, 1, tzinfo=dt.UTC)),
    ("1970, a clock reset", "1970-01-01T00:00:00Z", dt.datetime(1970, 1, 1, tzinfo=dt.UTC)),
    ("year 9999", "9999-12-31T23:59:59Z", dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)),
]


@pytest.mark.parametrize(("what", "timestamp", "charger_time"), CLOCKS_OFF, ids=[c[0] for c in CLOCKS_OFF])
def test_a_session_off_the_chargers_clock_runs_on_the_servers_and_every_page_serves(
    ocpp_server, admin_client, what, timestamp, charger_time
):
    charger = make_charger()
    before = dt.datetime.now(dt.UTC)
    register = {"value": "1500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}

    async def scenario():
        raw = RawCharger(await open_socket(ocpp_server, charger.charge_point_id))
        status = {"connectorId": 1, "errorCode": "NoError", "status": "Preparing", "timestamp": timestamp}
        assert (await raw.send_frame(frame("StatusNotification", status)))[0] == 3
        started = await raw.send_frame(frame("StartTransaction", start(timestamp)))
        replayed = await raw.send_frame(frame("StartTransaction", start(timestamp)))
        transaction_id = started[2]["transactionId"]
        sampled = await raw.send_frame(
            frame("MeterValues", meter_values(timestamp, register, transactionId=transaction_id))
        )
        stop = {"transactionId": transaction_id, "meterStop": 9000, "timestamp": timestamp}
        stopped = await raw.send_frame(frame("StopTransaction", stop))
        await raw.ws.close()
        return started, replayed, sampled, stopped

    started, replayed, sampled, stopped = asyncio.run(scenario())
    after = dt.datetime.now(dt.UTC)

    assert [started[0], replayed[0], sampled[0], stopped[0]] == [3, 3, 3, 3]
    assert replayed[2]["transactionId"] == started[2]["transactionId"], "a replayed start is the same session"
    session = ChargingSession.objects.get(charger=charger)
    # Cost and control run on the server's times: a span of seconds, not of centuries.
    assert before <= session.started_at <= session.stopped_at <= after
    assert (session.charger_started_at, session.charger_stopped_at) == (charger_time, charger_time)
    assert session.charger_clock_off
    assert before <= Connector.objects.get(charger=charger, connector_id=1).status_at <= after
    assert session.energy_wh == 8000
    # A sample dated by that clock is kept apart, never the session's newest.
    assert not MeterSample.objects.filter(charger=charger).exists()
    assert RejectedSample.objects.get(charger=charger).reason == "clock"
    for path, (status, _, _) in owner_pages(ocpp_server, charger, session.transaction_id).items():
        assert status == 200, path
    # The installer finds such sessions flagged in the admin, apart from believed ones.
    believed = make_session(charger=charger, started_at=before - dt.timedelta(days=1))
    sessions = reverse("admin:charging_sessions_chargingsession_changelist")
    flagged = admin_client.get(sessions, {"charger_clock": "off"}).content.decode()
    change = "admin:charging_sessions_chargingsession_change"
    assert reverse(change, args=[session.pk]) in flagged
    assert reverse(change, args=[believed.pk]) not in flagged


def test_stopping_a_session_stored_with_a_start_in_year_1000_holds_up_no_other_charger(ocpp_server):
    """Such a start (stored before chargers' clocks were checked) was costed hour by hour in the
    thread every charger's writes share: its stop held every other charger's MeterValues 27.5 s."""
    site = make_site()
    make_tariff(site=site)
    old, other = make_charger(site=site), make_charger(site=site)
    stale = ChargingSession.objects.create(
        charger=old, connector_id=1, started_at=dt.datetime(1000, 1, 1, tzinfo=dt.UTC), meter_start_wh=0
    )
    now = iso(dt.datetime.now(dt.UTC))

    async def scenario():
        stopping = RawCharger(await open_socket(ocpp_server, old.charge_point_id))
        sampling = RawCharger(await open_socket(ocpp_server, other.charge_point_id))
        transaction_id = (await sampling.send_frame(frame("StartTransaction", start(now))))[2]["transactionId"]
        stop = {"transactionId": stale.transaction_id, "meterStop": 24_000, "timestamp": now}
        stopped = asyncio.create_task(stopping.send_frame(frame("StopTransaction", stop)))
        waits = []
        for n in range(10):
            register = {"value": str(1000 + n), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
            asked = time.monotonic()
            answer = await sampling.send_frame(
                frame("MeterValues", meter_values(now, register, transactionId=transaction_id))
            )
            waits.append(time.monotonic() - asked)
            assert answer[0] == 3, answer
        stopped = await stopped
        await stopping.ws.close()
        await sampling.ws.close()
        return stopped, waits

    stopped, waits = asyncio.run(scenario())

    assert stopped[0] == 3, stopped
    assert max(waits) < 1.0, waits
    stale.refresh_from_db()
    assert stale.energy_wh == 24_000
    assert stale.cost is not None, "the thousand years are costed, in steps per period"


def test_a_new_start_closes_the_session_a_clock_ahead_left_open_and_stop_reaches_the_new_one(ocpp_server):
    charger = make_charger(max_power_w=22000, phases=3)
    make_id_tag(id_tag="RFID1")
    token = Token.objects.create(user=make_user(sites=(charger.site,))).key

    async def scenario():
        async with sim_charger(ocpp_server, charger.charge_point_id) as cp:
            # A clock 4 minutes ahead (believable) started a transaction the charger then lost
            # (it rebooted); its next start is dated earlier than the one left open.
            ahead = iso(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=4))
            await cp.call(
                "StartTransaction", {"connectorId": 1, "idTag": "RFID1", "meterStart": 500, "timestamp": ahead}
            )
            await cp.start()
            status, body = await in_a_thread(
                http_json, ocpp_server, "POST", f"/api/v1/chargers/{charger.charge_point_id}/stop", token=token
            )
            stopped = await in_a_thread(
                eventually, lambda: ChargingSession.objects.filter(charger=charger, stop_reason="Remote").exists()
            )
            return status, body, stopped

    status, body, stopped = asyncio.run(scenario())

    assert (status, body.get("status")) == (200, "Accepted"), body
    assert stopped, "the charger stopped the transaction it runs"
    lost, running = ChargingSession.objects.filter(charger=charger).order_by("transaction_id")
    assert lost.stop_reason == "Superseded" and lost.stopped_at >= lost.started_at
    assert running.stop_reason == "Remote"


OUT_OF_RANGE = [
    # (what, action, payload, error code)
    (
        "a status on connector 70000",
        "StatusNotification",
        {"connectorId": 70000, "errorCode": "NoError", "status": "Available"},
        "PropertyConstraintViolation",
    ),
    ("a start on connector 70000", "StartTransaction", start("@now", connectorId=70000), "PropertyConstraintViolation"),
    (
        "a start on a connector it has not",
        "StartTransaction",
        start("@now", connectorId=3),
        "PropertyConstraintViolation",
    ),
    ("a meterStart of 2**64", "StartTransaction", start("@now", meterStart=2**64), "TypeConstraintViolation"),
    ("a negative meterStart", "StartTransaction", start("@now", meterStart=-5), "PropertyConstraintViolation"),
    ("a reservationId of 2**40", "StartTransaction", start("@now", reservationId=2**40), "TypeConstraintViolation"),
    (
        "a transactionId of 2**40 in MeterValues",
        "MeterValues",
        meter_values("@now", {"value": "10"}, transactionId=2**40),
        "TypeConstraintViolation",
    ),
    (
        "a connectorId of 2**40 in MeterValues",
        "MeterValues",
        {**meter_values("@now", {"value": "10"}), "connectorId": 2**40},
        "TypeConstraintViolation",
    ),
    (
        "a transactionId of 2**40 in StopTransaction",
        "StopTransaction",
        {"transactionId": 2**40, "meterStop": 10, "timestamp": "@now"},
        "TypeConstraintViolation",
    ),
    (
        "a meterStop of 2**64",
        "StopTransaction",
        {"transactionId": 1, "meterStop": 2**64, "timestamp": "@now"},
        "TypeConstraintViolation",
    ),
]


@pytest.mark.parametrize(("what", "action", "payload", "code"), OUT_OF_RANGE, ids=[c[0] for c in OUT_OF_RANGE])
def test_an_integer_beyond_the_database_gets_the_ocpp_error_and_writes_nothing(
    ocpp_server, what, action, payload, code
):
    charger = make_charger(number_of_connectors=2)
    now = iso(dt.datetime.now(dt.UTC))
    payload = json.loads(json.dumps(payload).replace("@now", now))

    answer, heartbeat = raw_frames_then_heartbeat(ocpp_server, charger.charge_point_id, frame(action, payload))

    assert answer[0] == 4 and answer[2] == code, answer
    assert heartbeat[0] == 3, "the connection goes on"
    assert not ChargingSession.objects.filter(charger=charger).exists()
    assert not MeterSample.objects.filter(charger=charger).exists()
    assert not Connector.objects.filter(charger=charger, connector_id__gt=2).exists()
    assert ChargerEvent.objects.filter(charger=charger, kind="protocol_error").count() == 1


def test_vendor_data_is_kept_in_the_event_log_by_its_start_and_size(ocpp_server):
    charger = make_charger()
    data = "0123456789" * 6000  # 60,000 characters, within the frame limit

    answer, _ = raw_frames_then_heartbeat(
        ocpp_server, charger.charge_point_id, frame("DataTransfer", {"vendorId": "com.acme", "data": data})
    )

    assert answer[0] == 3 and answer[2]["status"] == "UnknownVendorId"
    event = ChargerEvent.objects.get(charger=charger, kind="data_transfer")
    assert event.payload["data"] == data[:4096]
    assert event.payload["data_chars"] == 60_000


def test_a_string_holding_nul_is_refused_the_same_on_both_databases(ocpp_server):
    """PostgreSQL stores NUL in no text or JSON column (SQLite does): a BootNotification holding
    one crashed its handler there and the connection closed 1011."""
    charger = make_charger()
    now = iso(dt.datetime.now(dt.UTC))
    answers = raw_frames_then_heartbeat(
        ocpp_server,
        charger.charge_point_id,
        frame("BootNotification", {"chargePointVendor": "Acme\u0000", "chargePointModel": "M"}),
        frame("StartTransaction", start(now, idTag="TAG\u0000")),
        frame("DataTransfer", {"vendorId": "com.acme", "data": "\u0000" * 10}),
    )

    refused, heartbeat = answers[:-1], answers[-1]
    assert [(a[0], a[2], a[3]) for a in refused] == [(4, "TypeConstraintViolation", NUL_REFUSED)] * 3
    assert heartbeat[0] == 3  # still connected
    assert not ChargingSession.objects.filter(charger=charger).exists()
    charger.refresh_from_db()
    assert charger.vendor == ""
    assert ChargerEvent.objects.filter(charger=charger, kind=ChargerEvent.Kind.PROTOCOL_ERROR).count() == 3
