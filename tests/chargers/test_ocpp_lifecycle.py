"""A charger's whole life over a real socket against the live server, asserting what is stored."""

import asyncio
import datetime as dt

import pytest
from ocpp.v16 import call

from chargers.models import Charger, ChargerEvent, Connector, IdTag
from chargers.services import charger_approve, chargers_mark_stale
from sessions.models import ChargingSession, MeterSample
from tests.factories import make_charger, make_id_tag, make_site
from tests.ocpp_client import RawCharger, eventually, in_a_thread, library_charger, open_socket

pytestmark = pytest.mark.django_db(transaction=True)

T0 = dt.datetime(2026, 1, 13, 10, 0, tzinfo=dt.UTC)


def iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def sampled(value, **extra) -> dict:
    return {"value": str(value), **extra}


def test_a_charger_boots_charges_and_stops_and_the_admin_data_is_all_stored(ocpp_server):
    charger = make_charger(charge_point_id="charger-garage", password="garage-secret-1")
    make_id_tag(id_tag="RFID123", name="Family car")

    async def scenario():
        async with library_charger(ocpp_server, "charger-garage", password="garage-secret-1") as cp:
            boot = await cp.call(
                call.BootNotification(
                    charge_point_vendor="Wallbox",
                    charge_point_model="Pulsar Plus",
                    charge_point_serial_number="12345",
                    firmware_version="5.2.1",
                )
            )
            heartbeat = await cp.call(call.Heartbeat())
            await cp.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing", timestamp=iso(T0))
            )
            authorize = await cp.call(call.Authorize(id_tag="RFID123"))
            start = await cp.call(
                call.StartTransaction(connector_id=1, id_tag="RFID123", meter_start=12345, timestamp=iso(T0))
            )
            tx = start.transaction_id
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
            await cp.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=tx,
                    meter_value=[
                        {
                            "timestamp": iso(T0 + dt.timedelta(minutes=1)),
                            "sampledValue": [
                                sampled(12.5, measurand="Energy.Active.Import.Register", unit="kWh"),
                                sampled(7200, measurand="Power.Active.Import", unit="W"),
                                sampled(10.4, measurand="Current.Import", unit="A", phase="L1"),
                                sampled(230.1, measurand="Voltage", unit="V", phase="L1-N"),
                                sampled(31, measurand="Temperature", unit="Celsius", location="Body"),
                                sampled(56, measurand="SoC", unit="Percent", location="EV"),
                            ],
                        }
                    ],
                )
            )
            stop = await cp.call(
                call.StopTransaction(
                    meter_stop=19345,
                    timestamp=iso(T0 + dt.timedelta(hours=2)),
                    transaction_id=tx,
                    reason="EVDisconnected",
                    id_tag="RFID123",
                    transaction_data=[
                        {
                            "timestamp": iso(T0 + dt.timedelta(hours=2)),
                            "sampledValue": [sampled(19345, context="Transaction.End")],
                        }
                    ],
                )
            )
            return boot, heartbeat, authorize, start, stop

    boot, heartbeat, authorize, start, stop = asyncio.run(scenario())

    assert boot.status == "Accepted" and boot.interval == 300
    assert dt.datetime.fromisoformat(heartbeat.current_time) > T0
    assert authorize.id_tag_info["status"] == "Accepted"
    assert start.id_tag_info["status"] == "Accepted"
    assert stop.id_tag_info["status"] == "Accepted"

    charger.refresh_from_db()
    assert (charger.vendor, charger.model, charger.serial_number, charger.firmware_version) == (
        "Wallbox",
        "Pulsar Plus",
        "12345",
        "5.2.1",
    )
    # Heartbeats are kept within a second, many chargers in one write (chargers/ocpp/writes.py).
    assert eventually(lambda: Charger.objects.get(pk=charger.pk).last_heartbeat_at is not None)
    assert Connector.objects.get(charger=charger, connector_id=1).status == "Charging"
    assert IdTag.objects.get(id_tag="RFID123").last_seen_charger == charger

    session = ChargingSession.objects.get(transaction_id=start.transaction_id)
    assert (session.charger, session.connector_id, session.id_tag) == (charger, 1, "RFID123")
    assert (session.started_at, session.stopped_at) == (T0, T0 + dt.timedelta(hours=2))
    assert (session.meter_start_wh, session.meter_stop_wh, session.energy_wh) == (12345, 19345, 7000)
    assert session.stop_reason == "EVDisconnected"

    samples = {(s.measurand, s.unit, s.phase, s.context, s.location): s.value for s in session.samples.all()}
    assert samples == {
        ("Energy.Active.Import.Register", "kWh", "", "Sample.Periodic", "Outlet"): 12.5,
        ("Power.Active.Import", "W", "", "Sample.Periodic", "Outlet"): 7200,
        ("Current.Import", "A", "L1", "Sample.Periodic", "Outlet"): 10.4,
        ("Voltage", "V", "L1-N", "Sample.Periodic", "Outlet"): 230.1,
        ("Temperature", "Celsius", "", "Sample.Periodic", "Body"): 31,
        ("SoC", "Percent", "", "Sample.Periodic", "EV"): 56,
        ("Energy.Active.Import.Register", "Wh", "", "Transaction.End", "Outlet"): 19345,
    }
    assert eventually(lambda: not Charger.objects.get(pk=charger.pk).is_connected)
    kinds = list(ChargerEvent.objects.filter(charger=charger).order_by("id").values_list("kind", flat=True))
    assert kinds == ["connected", "boot", "disconnected"]


def test_the_charger_level_status_and_firmware_and_diagnostics_reports_are_kept(ocpp_server):
    charger = make_charger()

    async def scenario():
        async with library_charger(ocpp_server, charger.charge_point_id) as cp:
            await cp.call(call.StatusNotification(connector_id=0, error_code="HighTemperature", status="Faulted"))
            await cp.call(call.FirmwareStatusNotification(status="Downloading"))
            await cp.call(call.DiagnosticsStatusNotification(status="Uploaded"))
            return await cp.call(call.DataTransfer(vendor_id="com.wallbox", message_id="x", data="{}"))

    data_transfer = asyncio.run(scenario())

    charger.refresh_from_db()
    assert (charger.status, charger.error_code) == ("Faulted", "HighTemperature")
    assert (charger.firmware_status, charger.diagnostics_status) == ("Downloading", "Uploaded")
    assert data_transfer.status == "UnknownVendorId"
    assert ChargerEvent.objects.filter(charger=charger, kind="data_transfer", payload__vendor_id="com.wallbox").exists()
    assert not Connector.objects.filter(charger=charger).exists()


def test_an_older_status_notification_does_not_overwrite_a_newer_one(ocpp_server):
    charger = make_charger()

    async def scenario():
        async with library_charger(ocpp_server, charger.charge_point_id) as cp:
            await cp.call(
                call.StatusNotification(
                    connector_id=1, error_code="NoError", status="Charging", timestamp=iso(T0 + dt.timedelta(minutes=5))
                )
            )
            await cp.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing", timestamp=iso(T0))
            )

    asyncio.run(scenario())
    assert Connector.objects.get(charger=charger, connector_id=1).status == "Charging"


@pytest.mark.parametrize(
    ("tag_fields", "accept_any", "expected"),
    [
        ({"status": "Accepted"}, False, "Accepted"),
        ({"status": "Blocked"}, False, "Blocked"),
        ({"status": "Accepted", "expiry_date": T0}, False, "Expired"),
        ({"status": "Accepted", "parent_status": "Blocked"}, False, "Blocked"),
        (None, False, "Invalid"),
        (None, True, "Accepted"),
        ({"status": "Blocked"}, True, "Accepted"),
    ],
    ids=["accepted", "blocked", "expired", "blocked-parent", "unknown", "unknown-accept-any", "blocked-accept-any"],
)
def test_authorize_answers_from_the_id_tags(ocpp_server, tag_fields, accept_any, expected):
    charger = make_charger(accept_any_id_tag=accept_any)
    if tag_fields is not None:
        fields = dict(tag_fields)
        parent_status = fields.pop("parent_status", None)
        if parent_status:
            fields["parent"] = make_id_tag(id_tag="FAMILY", status=parent_status)
        make_id_tag(id_tag="CARD1", **fields)

    async def scenario():
        async with library_charger(ocpp_server, charger.charge_point_id) as cp:
            return await cp.call(call.Authorize(id_tag="CARD1"))

    result = asyncio.run(scenario())
    assert result.id_tag_info["status"] == expected
    if tag_fields and "parent_status" in tag_fields:
        assert result.id_tag_info["parent_id_tag"] == "FAMILY"
    # Unknown tags are remembered so the installer can accept them in the admin.
    assert IdTag.objects.get(id_tag="CARD1").last_seen_charger == charger


def test_a_charger_back_from_offline_replays_everything_without_duplicates(ocpp_server):
    charger = make_charger()
    start = {"connectorId": 1, "idTag": "RFID9", "meterStart": 1000, "timestamp": iso(T0)}

    def meter_values(tx):
        return {
            "connectorId": 1,
            "transactionId": tx,
            "meterValue": [
                {"timestamp": iso(T0 + dt.timedelta(minutes=m)), "sampledValue": [{"value": str(1000 + m)}]}
                for m in (1, 2, 3)
            ],
        }

    async def scenario():
        raw = RawCharger(await open_socket(ocpp_server, charger.charge_point_id))
        first = await raw.call("StartTransaction", start)
        again = await raw.call("StartTransaction", start)
        tx = first[2]["transactionId"]
        await raw.call("MeterValues", meter_values(tx))
        await raw.call("MeterValues", meter_values(tx))
        stop = {"transactionId": tx, "meterStop": 1500, "timestamp": iso(T0 + dt.timedelta(hours=1)), "reason": "Local"}
        stopped = await raw.call("StopTransaction", stop)
        stopped_again = await raw.call("StopTransaction", {**stop, "meterStop": 9999})
        await raw.ws.close()
        return first, again, stopped, stopped_again

    first, again, stopped, stopped_again = asyncio.run(scenario())
    assert first[0] == again[0] == stopped[0] == stopped_again[0] == 3
    assert first[2]["transactionId"] == again[2]["transactionId"]
    session = ChargingSession.objects.get(charger=charger)
    assert (session.meter_stop_wh, session.energy_wh) == (1500, 500)
    assert MeterSample.objects.filter(session=session).count() == 3


def test_a_stop_for_an_unknown_transaction_is_answered_and_kept_in_the_event_log(ocpp_server):
    charger = make_charger()
    make_id_tag(id_tag="RFID1")

    async def scenario():
        raw = RawCharger(await open_socket(ocpp_server, charger.charge_point_id))
        answer = await raw.call(
            "StopTransaction",
            {
                "transactionId": 424242,
                "meterStop": 5000,
                "timestamp": iso(T0),
                "idTag": "RFID1",
                "transactionData": [{"timestamp": iso(T0), "sampledValue": [{"value": "5000"}]}],
            },
        )
        await raw.ws.close()
        return answer

    answer = asyncio.run(scenario())
    assert answer[0] == 3 and answer[2] == {"idTagInfo": {"status": "Accepted"}}
    event = ChargerEvent.objects.get(charger=charger, kind="unknown_transaction")
    assert event.payload["meter_stop_wh"] == 5000
    assert MeterSample.objects.get(charger=charger).reported_transaction_id == 424242


def test_a_new_start_on_a_connector_closes_the_session_that_never_got_a_stop(ocpp_server):
    charger = make_charger()

    async def scenario():
        raw = RawCharger(await open_socket(ocpp_server, charger.charge_point_id))
        for minute in (0, 30):
            await raw.call(
                "StartTransaction",
                {
                    "connectorId": 1,
                    "idTag": "A",
                    "meterStart": minute,
                    "timestamp": iso(T0 + dt.timedelta(minutes=minute)),
                },
            )
        await raw.ws.close()

    asyncio.run(scenario())
    older, newer = ChargingSession.objects.filter(charger=charger).order_by("started_at")
    assert (older.stopped_at, older.stop_reason) == (newer.started_at, "Superseded")
    assert newer.stopped_at is None


def test_a_second_connection_with_the_same_id_replaces_the_first(ocpp_server):
    charger = make_charger()

    async def scenario():
        first = await open_socket(ocpp_server, charger.charge_point_id)
        second = await open_socket(ocpp_server, charger.charge_point_id)
        await asyncio.wait_for(first.wait_closed(), 5)
        answer = await RawCharger(second).call("Heartbeat", {})
        await asyncio.sleep(0.3)  # let the first connection's disconnect be processed
        connected_while_second_open = await in_a_thread(lambda: Charger.objects.get(pk=charger.pk).is_connected)
        await second.close()
        return first.close_code, answer, connected_while_second_open

    close_code, answer, connected = asyncio.run(scenario())
    assert close_code == 4000
    assert answer[0] == 3
    assert connected, "the old connection's close must not mark the live one offline"
    assert eventually(lambda: not Charger.objects.get(pk=charger.pk).is_connected)
    assert ChargerEvent.objects.filter(charger=charger, kind="replaced").count() == 1


def test_a_charger_offering_no_subprotocol_is_accepted_as_its_configured_protocol(ocpp_server):
    charger = make_charger()

    async def scenario():
        ws = await open_socket(ocpp_server, charger.charge_point_id, subprotocols=())
        answer = await RawCharger(ws).call("Heartbeat", {})
        await ws.close()
        return ws.subprotocol, answer

    subprotocol, answer = asyncio.run(scenario())
    assert subprotocol is None
    assert answer[0] == 3
    event = ChargerEvent.objects.filter(charger=charger, kind="connected").get()
    assert "no subprotocol offered" in event.message


def test_an_unknown_charger_waits_as_pending_until_an_installer_approves_it(ocpp_server):
    make_site(accept_unknown_chargers=True)
    boot = {"chargePointVendor": "Easee", "chargePointModel": "Home"}

    async def first_visit():
        raw = RawCharger(await open_socket(ocpp_server, "NEW-CHARGER", password="its-own-key-123"))
        answers = (
            await raw.call("BootNotification", boot),
            await raw.call("StartTransaction", {"connectorId": 1, "idTag": "X", "meterStart": 0, "timestamp": iso(T0)}),
        )
        await raw.ws.close()
        return answers

    async def after_approval():
        raw = RawCharger(await open_socket(ocpp_server, "NEW-CHARGER", password="its-own-key-123"))
        answer = await raw.call("BootNotification", boot)
        await raw.ws.close()
        return answer

    pending_boot, refused_start = asyncio.run(first_visit())
    assert pending_boot[2]["status"] == "Pending"
    assert refused_start[0] == 4 and refused_start[2] == "SecurityError"
    charger = Charger.objects.get(charge_point_id="NEW-CHARGER")
    assert charger.registration == "pending" and charger.vendor == "Easee"
    assert not ChargingSession.objects.exists()

    charger_approve(charger=charger)
    assert asyncio.run(after_approval())[2]["status"] == "Accepted"


def test_a_charger_disabled_while_connected_is_rejected_at_its_next_boot(ocpp_server):
    charger = make_charger()

    async def scenario():
        raw = RawCharger(await open_socket(ocpp_server, charger.charge_point_id))
        await in_a_thread(lambda: Charger.objects.filter(pk=charger.pk).update(enabled=False))
        answer = await raw.call("BootNotification", {"chargePointVendor": "ABB", "chargePointModel": "Terra"})
        await raw.ws.close()
        return answer

    assert asyncio.run(scenario())[2]["status"] == "Rejected"


def test_the_stale_sweep_marks_a_silent_charger_offline():
    charger = make_charger(is_connected=True, last_seen_at=T0, heartbeat_interval_s=300)
    fresh = make_charger(is_connected=True, last_seen_at=T0 + dt.timedelta(minutes=5))

    marked = chargers_mark_stale(now=T0 + dt.timedelta(seconds=300 + 60 + 1))

    assert marked == 1
    charger.refresh_from_db()
    fresh.refresh_from_db()
    assert not charger.is_connected and fresh.is_connected
    assert ChargerEvent.objects.filter(charger=charger, kind="stale").exists()


# (heartbeat_interval_s, seconds since last seen or None for never, connected, marked stale)
# with OCPP_HEARTBEAT_INTERVAL 300 and OCPP_RECONNECT_TIMEOUT 60.
STALE_CASES = [
    (None, 359, True, False),
    (None, 361, True, True),
    (0, 361, True, True),  # 0 is "the server default" too
    (0, 359, True, False),
    (60, 119, True, False),
    (60, 121, True, True),
    (3600, 3659, True, False),
    (3600, 3661, True, True),
    (None, None, True, True),  # connected but never heard from
    (None, 10_000, False, False),  # already offline
]


@pytest.mark.parametrize("interval_s, silent_s, connected, stale", STALE_CASES)
def test_the_stale_sweep_allows_each_charger_its_own_heartbeat_interval(
    settings, interval_s, silent_s, connected, stale
):
    settings.OCPP_HEARTBEAT_INTERVAL_S, settings.OCPP_RECONNECT_TIMEOUT_S = 300, 60
    # A busy neighbour with another interval must not change the verdict.
    make_charger(is_connected=True, last_seen_at=T0, heartbeat_interval_s=30)
    last_seen = None if silent_s is None else T0 - dt.timedelta(seconds=silent_s)
    charger = make_charger(is_connected=connected, last_seen_at=last_seen, heartbeat_interval_s=interval_s)

    marked = chargers_mark_stale(now=T0)

    charger.refresh_from_db()
    assert marked == (1 if stale else 0)
    assert charger.is_connected == (connected and not stale)
    assert ChargerEvent.objects.filter(charger=charger, kind="stale").exists() == stale
