"""An OCPP 2.0.1 station's device model read at boot (B02, B06/B07): Pending while the server
asks GetBaseReport and the station reports in parts, then Accepted; the compatibility profile
read from it steers energy control (a watts-only station gets watts) and the sampling energy
control reads is set with SetVariables, added to and never narrowed. A station that cannot
report is accepted all the same. The station is tests/chargepoint_sim201.py, hand-written
frames checked against the official 2.0.1 schemas."""

import asyncio
import re

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from chargers.models import PROBE_REQUESTED_BY, Charger, ChargerCommand, DeviceVariable
from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim201 import (
    CallErrorAnswer,
    CarStation,
    SimStation,
    default_device_model,
    report_variable,
    sim_station,
)
from tests.conftest import start_server, stop_server
from tests.factories import make_charger, make_site
from tests.ocpp_client import eventually, in_a_thread

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "device-model-201"
WANTED = "Energy.Active.Import.Register,Power.Active.Import,Current.Import"


def station(charge_point_id: str, **fields) -> Charger:
    """What an installer types for a new charger: its id and password, on its site."""
    return make_charger(charge_point_id=charge_point_id, password=PASSWORD, protocol="ocpp2.0.1", **fields)


def run(scenario):
    return asyncio.run(scenario())


def attributes(model: list[dict]) -> int:
    return sum(len(entry["variableAttribute"]) for entry in model)


def stored(charger: Charger, component: str, variable: str, **where) -> DeviceVariable:
    return DeviceVariable.objects.get(charger=charger, component=component, variable=variable, **where)


def measurands_stored(charger: Charger) -> str:
    return stored(charger, "SampledDataCtrlr", "TxUpdatedMeasurands").value


def actions(st: SimStation) -> list[str]:
    return [action for action, _ in st.calls]


def test_a_new_station_is_pending_while_its_device_model_is_read_in_parts_then_accepted(ocpp_server):
    charger = station("DM-FIRST", phases=3, max_power_w=22000)
    report = {}

    async def scenario():
        async with sim_station(ocpp_server, "DM-FIRST", password=PASSWORD, evses={1: 1, 2: 1}, boot=False) as st:
            answer = await st.boot()
            assert answer["status"] == "Accepted"
            report["answers"] = [a["status"] for a in st.boot_answers]
            report["pending_interval"] = st.boot_answers[0]["interval"]
            report["model"] = st.device_model
            # Pending: the server asked only for the report, then for a boot (B02).
            report["while_pending"] = actions(st)[:2]
            report["asked"] = st.sent("GetBaseReport")
            report["parts"] = [(p["requestId"], p["seqNo"], p.get("tbc", False)) for p in st.own("NotifyReport")]
            await st.wait_for(lambda: len(st.sent("SetVariables")) == 2, what="the sampling set")
            report["set"] = {
                data["variable"]["name"]: data["attributeValue"]
                for payload in st.sent("SetVariables")
                for data in payload["setVariableData"]
            }
            report["now_sampled"] = st.value_of("SampledDataCtrlr", "TxUpdatedMeasurands")
            report["now_interval"] = st.value_of("SampledDataCtrlr", "TxUpdatedInterval")
            # The server records the answer after the station gave it: it stays connected meanwhile.
            assert await in_a_thread(eventually, lambda: measurands_stored(charger) == WANTED)

    run(scenario)
    assert report["answers"] == ["Pending", "Accepted"]
    assert report["pending_interval"] > 0
    assert report["while_pending"] == ["GetBaseReport", "TriggerMessage"]
    assert [a["reportBase"] for a in report["asked"]] == ["FullInventory"]
    request_id = report["asked"][0]["requestId"]
    assert report["parts"] == [(request_id, 0, True), (request_id, 1, True), (request_id, 2, False)]
    # Every attribute of its three NotifyReport parts is stored, with what may be set.
    assert DeviceVariable.objects.filter(charger=charger).count() == attributes(report["model"])
    rate_unit = stored(charger, "SmartChargingCtrlr", "RateUnit")
    assert (rate_unit.value, rate_unit.mutability, rate_unit.data_type, rate_unit.values_list) == (
        "A,W",
        "ReadOnly",
        "MemberList",
        "A,W",
    )
    assert stored(charger, "Connector", "ConnectorType", evse_id=2, connector_id=1).value == "cType2"
    assert stored(charger, "SmartChargingCtrlr", "Entries", variable_instance="ChargingProfiles").value == "24"
    assert stored(charger, "SecurityCtrlr", "BasicAuthPassword").mutability == "WriteOnly"
    # The compatibility profile, as 1.6's probe fills it.
    charger.refresh_from_db()
    assert (charger.charging_rate_units, charger.limit_rate_unit) == ("Current,Power", "A")
    assert (charger.max_stack_level, charger.max_charging_profiles, charger.max_periods_per_schedule) == (8, 24, 24)
    assert charger.number_of_connectors == 2
    assert (charger.meter_sample_interval_s, charger.meter_measurands) == (300, "Energy.Active.Import.Register")
    assert charger.probed_at is not None
    assert charger.configuration["firmwareVersion"] == "2.0.1-sim"
    assert charger.configuration["SmartChargingCtrlr.Phases3to1"] == "true"
    assert charger.configuration["TxCtrlr.TxStartPoint"] == "PowerPathClosed"
    assert charger.can_switch_phases is False  # the installer's to set
    # What energy control reads is set, and what the station took is its value from then on.
    assert report["set"] == {"TxUpdatedInterval": "60", "TxUpdatedMeasurands": WANTED}
    assert (report["now_interval"], report["now_sampled"]) == ("60", WANTED)
    assert measurands_stored(charger) == WANTED
    logged = ChargerCommand.objects.filter(charger=charger, action="SetVariables", requested_by=PROBE_REQUESTED_BY)
    assert [c.response["setVariableResult"][0]["attributeStatus"] for c in logged] == ["Accepted", "Accepted"]


def test_a_pending_station_may_send_only_its_report_and_is_sent_nothing_else(ocpp_server):
    station("DM-PENDING")

    async def scenario():
        async with sim_station(ocpp_server, "DM-PENDING", password=PASSWORD, boot=False) as st:
            st.sends_report = False  # it reports once it has tried to say its status
            assert (await st.boot(attempts=0))["status"] == "Pending"
            with pytest.raises(CallErrorAnswer) as refused:
                await st.send_status(1, 1, "Available")
            assert refused.value.code == "SecurityError"  # B02.FR.09
            await st.wait_for(lambda: st.sent("GetBaseReport"), what="GetBaseReport")
            request_id = st.sent("GetBaseReport")[0]["requestId"]
            await st.report(request_id, "FullInventory")
            await st.wait_for(lambda: st.registration == "Accepted", what="the triggered boot accepted")
            return actions(st)

    calls = run(scenario)
    assert calls[:2] == ["GetBaseReport", "TriggerMessage"]


def test_the_station_own_measurands_are_kept_and_a_short_interval_stays(ocpp_server):
    station("DM-OWN")

    async def scenario():
        st = SimStation("DM-OWN", password=PASSWORD)
        st.device_model = default_device_model(
            st.evses, measurands="SoC,Voltage,Energy.Active.Import.Register", interval_s=30
        )
        await st.connect(ocpp_server)
        try:
            assert (await st.boot())["status"] == "Accepted"
            # The measurands come last: an interval to set would have been sent before them.
            await st.wait_for(lambda: st.sent("SetVariables"), what="SetVariables")
            return st.sent("SetVariables"), st.value_of("SampledDataCtrlr", "TxUpdatedMeasurands")
        finally:
            await st.close()

    sent, sampled = run(scenario)
    assert [data["setVariableData"] for data in sent] == [
        [
            {
                "attributeValue": "SoC,Voltage,Energy.Active.Import.Register,Power.Active.Import,Current.Import",
                "component": {"name": "SampledDataCtrlr"},
                "variable": {"name": "TxUpdatedMeasurands"},
            }
        ]
    ]
    assert sampled == "SoC,Voltage,Energy.Active.Import.Register,Power.Active.Import,Current.Import"


@pytest.mark.parametrize(
    ("answer", "kept"),
    [
        ("NotSupported", "GetBaseReport answered NotSupported"),
        ("Rejected", "GetBaseReport answered Rejected"),
        ("CALLERROR", "GetBaseReport answered CALLERROR NotSupported"),  # a firmware without it
    ],
)
def test_a_station_that_will_not_report_is_accepted_on_its_next_boot(ocpp_server, answer, kept):
    charger = station(f"DM-{answer.upper()}")

    async def scenario():
        async with sim_station(ocpp_server, charger.charge_point_id, password=PASSWORD, boot=False) as st:
            if answer == "CALLERROR":
                st.not_supported = frozenset({"GetBaseReport"})
            else:
                st.base_report_status = answer
            assert (await st.boot())["status"] == "Accepted"
            first = [a["status"] for a in st.boot_answers]
        async with sim_station(ocpp_server, charger.charge_point_id, password=PASSWORD, boot=False) as st:
            assert (await st.boot())["status"] == "Accepted"
            return first, [a["status"] for a in st.boot_answers], actions(st)

    first, again, calls = run(scenario)
    assert first == ["Pending", "Accepted"]
    assert again == ["Accepted"]
    assert "GetBaseReport" not in calls
    charger.refresh_from_db()
    assert charger.configuration == {"firmwareVersion": "2.0.1-sim", "baseReport": kept}
    assert not DeviceVariable.objects.filter(charger=charger).exists()


def test_a_reboot_is_accepted_at_once_and_new_firmware_is_read_again(ocpp_server):
    charger = station("DM-FIRMWARE")

    async def scenario():
        async with sim_station(ocpp_server, "DM-FIRMWARE", password=PASSWORD, evses={1: 1, 2: 1}) as st:
            assert st.registration == "Accepted"
        async with sim_station(ocpp_server, "DM-FIRMWARE", password=PASSWORD, evses={1: 1, 2: 1}) as st:
            same = ([a["status"] for a in st.boot_answers], actions(st))
        updated = SimStation("DM-FIRMWARE", password=PASSWORD, firmware_version="2.1.0-sim")
        updated.device_model = default_device_model({1: 1}, rate_unit="W")
        await updated.connect(ocpp_server)
        try:
            await updated.boot()
            return same, [a["status"] for a in updated.boot_answers]
        finally:
            await updated.close()

    same, updated = run(scenario)
    assert same[0] == ["Accepted"]
    assert "GetBaseReport" not in same[1]
    assert updated == ["Pending", "Accepted"]
    # The new report replaced the old one: the second EVSE is gone, the unit is watts.
    assert not DeviceVariable.objects.filter(charger=charger, evse_id=2).exists()
    charger.refresh_from_db()
    assert (charger.configuration["firmwareVersion"], charger.number_of_connectors) == ("2.1.0-sim", 1)
    assert (charger.charging_rate_units, charger.limit_rate_unit) == ("Power", "W")


def test_a_watts_only_station_gets_its_limits_in_watts(ocpp_server):
    """A 3-phase station behind a 16 A fuse: its limits go out in W, as its RateUnit says."""
    site = make_site(circuit_limit_a=16)
    station("DM-WATTS", site=site, phases=3, max_power_w=22000)

    async def scenario():
        st = CarStation("DM-WATTS", password=PASSWORD)
        st.device_model = default_device_model(st.evses, rate_unit="W")
        await st.connect(ocpp_server)
        try:
            assert (await st.boot())["status"] == "Accepted"
            await st.plug_in()
            await st.transaction_event("Started", "tx-watts-1", 0, evse_id=1, charging_state="Charging")
            await st.wait_for(lambda: st.draw_a > 0, what="the car charging")
            return [p["chargingProfile"] for p in st.sent("SetChargingProfile")], st.draw_a
        finally:
            await st.close()

    profiles, draw_a = run(scenario)
    units = {schedule["chargingRateUnit"] for p in profiles for schedule in p["chargingSchedule"]}
    assert units == {"W"}
    station_max = [p for p in profiles if p["chargingProfilePurpose"] == "ChargingStationMaxProfile"][-1]
    assert 0 < station_max["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] <= 16 * 230 * 3
    assert draw_a <= 16


@pytest.fixture(scope="module")
def impatient_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """A server that waits 1 s for a device model (OCPP_DEVICE_MODEL_WAIT)."""
    process, server = start_server(tmp_path_factory.mktemp("impatient"), {"OCPP_DEVICE_MODEL_WAIT": "1"})
    yield server
    stop_server(process)


def test_a_station_that_never_completes_its_report_is_accepted_after_the_wait(impatient_server):
    charger = station("DM-SILENT")
    reconnecting = station("DM-RECONNECT")

    async def scenario():
        async with sim_station(impatient_server, "DM-SILENT", password=PASSWORD, boot=False) as st:
            st.sends_report = False
            assert (await st.boot())["status"] == "Accepted"
            silent = [a["status"] for a in st.boot_answers]
        # Asked, then gone before it reported: asked again on its next boot, accepted once the wait is over.
        async with sim_station(impatient_server, "DM-RECONNECT", password=PASSWORD, boot=False) as st:
            st.sends_report = False
            assert (await st.boot(attempts=0))["status"] == "Pending"
        await asyncio.sleep(1.5)
        async with sim_station(impatient_server, "DM-RECONNECT", password=PASSWORD, boot=False) as st:
            assert (await st.boot(attempts=0))["status"] == "Accepted"
        return silent

    assert run(scenario) == ["Pending", "Accepted"]
    charger.refresh_from_db()
    assert charger.configuration == {"firmwareVersion": "2.0.1-sim", "baseReport": "no complete report within 1 s"}
    reconnecting.refresh_from_db()
    assert reconnecting.configuration["baseReport"] == "no complete report within 1 s"


def test_the_admin_page_shows_the_device_model_of_a_201_station_only(ocpp_server, admin_client):
    charger = station("DM-ADMIN")
    old = make_charger(charge_point_id="DM-ADMIN-16", configuration=[{"key": "NumberOfConnectors", "value": "1"}])

    async def scenario():
        async with sim_station(ocpp_server, "DM-ADMIN", password=PASSWORD) as st:
            await st.wait_for(lambda: len(st.sent("SetVariables")) == 2, what="the sampling set")
            assert await in_a_thread(eventually, lambda: measurands_stored(charger) == WANTED)

    run(scenario)
    page = admin_client.get(reverse("admin:chargers_charger_change", args=[charger.pk])).content.decode()
    assert "Device model (OCPP 2.0.1)" in page
    assert "<td>SmartChargingCtrlr.RateUnit</td><td>A,W</td><td>ReadOnly</td>" in page
    assert "<td>Connector@EVSE1/1.ConnectorType</td><td>cType2</td><td>ReadOnly</td>" in page
    assert "<td>SampledDataCtrlr.TxUpdatedInterval</td><td>60</td><td>ReadWrite</td>" in page
    assert "<td>SecurityCtrlr.BasicAuthPassword</td><td>(write-only)</td><td>WriteOnly</td>" in page
    assert "The station says it can switch from 3 phases to 1" in page
    assert "<td>SmartChargingCtrlr.Phases3to1</td><td>true</td>" in page  # the profile's summary
    # What it samples, in its own words, and what the server changed at boot.
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)).replace("&#x27;", "'")
    assert "SampledDataCtrlr.TxUpdatedInterval every 300 s; SampledDataCtrlr.TxUpdatedMeasurands Energy.Active" in text
    assert (
        "Changed by the server: SampledDataCtrlr.TxUpdatedMeasurands: added Power.Active.Import, Current.Import. "
        "The charger answered Accepted." in text
    )
    assert "SampledDataCtrlr.TxUpdatedInterval: 300 s → 60 s. The charger answered Accepted." in text
    # The profile stays overridable as for 1.6.
    assert 'name="rate_unit_override"' in page and 'name="max_stack_level_override"' in page
    page_16 = admin_client.get(reverse("admin:chargers_charger_change", args=[old.pk])).content.decode()
    assert "Device model" not in page_16 and "phase switching" not in page_16


def test_a_report_naming_an_evse_no_column_holds_is_refused_and_nothing_of_it_stored(ocpp_server):
    charger = station("DM-BAD-EVSE")

    async def scenario():
        async with sim_station(ocpp_server, "DM-BAD-EVSE", password=PASSWORD) as st:
            rows = DeviceVariable.objects.filter(charger=charger)
            before = await in_a_thread(rows.count)
            bad = report_variable("EVSE", "Power", "22080", evse=40000)
            with pytest.raises(CallErrorAnswer) as refused:
                await st.call(
                    "NotifyReport",
                    {"requestId": 7, "generatedAt": "2026-01-01T00:00:00Z", "seqNo": 0, "reportData": [bad]},
                )
            return before, refused.value.code, await in_a_thread(rows.count)

    before, code, after = run(scenario)
    assert code == "PropertyConstraintViolation"
    assert before == after > 0


def test_a_command_to_a_station_whose_model_is_being_read_is_refused_as_offline(ocpp_server):
    """B02: while Pending the server sends only what reading the station needs."""
    charger = station("DM-BUSY", site=make_site(circuit_limit_a=16))
    token = Token.objects.create(user=make_user(sites=(charger.site,))).key

    async def scenario():
        async with sim_station(ocpp_server, "DM-BUSY", password=PASSWORD, boot=False) as st:
            st.sends_report = False  # the server waits for it
            assert (await st.boot(attempts=0))["status"] == "Pending"
            await st.wait_for(lambda: st.sent("GetBaseReport"), what="GetBaseReport")
            answer = await in_a_thread(http_json, ocpp_server, "POST", "/api/v1/chargers/DM-BUSY/start", token=token)
            return answer, actions(st)

    (status, body), calls = run(scenario)
    assert (status, body["error"]) == (409, "charger_offline")
    assert "device model is being read" in body["detail"]
    assert calls == ["GetBaseReport"]


def test_a_station_waiting_for_the_installer_may_not_report_unasked(ocpp_server):
    """An unknown station on a site that accepts unknown chargers waits for approval (Pending,
    not reading its model): a NotifyReport from it is a SecurityError (B02.FR.09)."""
    make_site(accept_unknown_chargers=True)

    async def scenario():
        async with sim_station(ocpp_server, "DM-UNKNOWN", password=PASSWORD, boot=False) as st:
            assert (await st.boot(attempts=0))["status"] == "Pending"
            with pytest.raises(CallErrorAnswer) as refused:
                await st.report(1, "FullInventory")
            return refused.value.code, actions(st)

    code, calls = run(scenario)
    assert code == "SecurityError"
    assert calls == []
    assert not DeviceVariable.objects.filter(charger__charge_point_id="DM-UNKNOWN").exists()
