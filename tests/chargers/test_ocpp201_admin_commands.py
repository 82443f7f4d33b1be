"""The command buttons on an OCPP 2.0.1 station's admin page: the 2.0.1 calls they build (checked
against the official schemas by the independent station's own validator), and an installer
pressing them over HTTP against the live server while the simulated station
(tests/chargepoint_sim201.py) answers as a real one would."""

import asyncio
import datetime as dt

import pytest
from django.urls import reverse

from chargers.admin_commands import ADMIN_COMMANDS, ADMIN_COMMANDS_201, admin_commands_for, answer_view
from chargers.models import OCPP16, OCPP201, Charger, ChargerCommand, Connector
from chargers.protocols import ocpp201
from chargers.protocols.ocpp201 import REQUEST_ID_MAX, VariableName, variable_name_parse
from tests.chargepoint_sim201 import check_schema, sim_station
from tests.factories import make_charger
from tests.ocpp_client import eventually, in_a_thread
from tests.test_admin_commands import admin_session, press

PASSWORD = "garage-secret-201-admin"

# (button, what the form posts, the 2.0.1 payload it must send, requestId left out)
BUILDER_CASES = [
    ("reset", {"reset_type": "OnIdle"}, {"type": "OnIdle"}),
    ("reset", {"reset_type": "Immediate", "evse_id": "2"}, {"type": "Immediate", "evseId": 2}),
    ("unlock-connector", {"evse_id": "2", "connector_id": "1"}, {"evseId": 2, "connectorId": 1}),
    ("change-availability", {"operational_status": "Inoperative"}, {"operationalStatus": "Inoperative"}),
    (
        "change-availability",
        {"operational_status": "Operative", "evse_id": "1", "connector_id": "1"},
        {"operationalStatus": "Operative", "evse": {"id": 1, "connectorId": 1}},
    ),
    ("trigger-message", {"requested_message": "Heartbeat"}, {"requestedMessage": "Heartbeat"}),
    (
        "trigger-message",
        {"requested_message": "StatusNotification", "evse_id": "1", "connector_id": "1"},
        {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}},
    ),
    (
        "trigger-message",
        {"requested_message": "SignChargingStationCertificate"},
        {"requestedMessage": "SignChargingStationCertificate"},
    ),
    (
        "update-firmware",
        {"location": "https://firmware.example.com/fw-7.bin", "retrieve_at": "2026-01-13T23:00:00+01:00"},
        {"firmware": {"location": "https://firmware.example.com/fw-7.bin", "retrieveDateTime": "2026-01-13T22:00:00Z"}},
    ),
    (
        "update-firmware",
        {
            "location": "ftp://files.example.com/fw.bin",
            "retrieve_at": "2026-01-13T22:00:00Z",
            "install_at": "2026-01-14T02:00:00Z",
            "retries": "3",
            "retry_interval_s": "60",
        },
        {
            "firmware": {
                "location": "ftp://files.example.com/fw.bin",
                "retrieveDateTime": "2026-01-13T22:00:00Z",
                "installDateTime": "2026-01-14T02:00:00Z",
            },
            "retries": 3,
            "retryInterval": 60,
        },
    ),
    (
        "get-log",
        {"location": "https://logs.example.com/upload", "log_type": "DiagnosticsLog"},
        {"log": {"remoteLocation": "https://logs.example.com/upload"}, "logType": "DiagnosticsLog"},
    ),
    (
        "get-log",
        {
            "location": "sftp://logs.example.com/in",
            "log_type": "SecurityLog",
            "oldest_at": "2026-01-01T00:00:00Z",
            "latest_at": "2026-01-02T00:00:00Z",
            "retries": "2",
        },
        {
            "log": {
                "remoteLocation": "sftp://logs.example.com/in",
                "oldestTimestamp": "2026-01-01T00:00:00Z",
                "latestTimestamp": "2026-01-02T00:00:00Z",
            },
            "logType": "SecurityLog",
            "retries": 2,
        },
    ),
    ("data-transfer", {"vendor_id": "com.example"}, {"vendorId": "com.example"}),
    (
        "data-transfer",
        {"vendor_id": "com.example", "message_id": "ping", "data": '{"a": 1}'},
        {"vendorId": "com.example", "messageId": "ping", "data": '{"a": 1}'},
    ),
    ("clear-charging-profile", {}, {}),
    ("clear-charging-profile", {"profile_id": "7"}, {"chargingProfileId": 7}),
    (
        "clear-charging-profile",
        {"evse_id": "0", "purpose": "ChargingStationMaxProfile", "stack_level": "0"},
        {
            "chargingProfileCriteria": {
                "evseId": 0,
                "chargingProfilePurpose": "ChargingStationMaxProfile",
                "stackLevel": 0,
            }
        },
    ),
    ("get-composite-schedule", {"evse_id": "1", "duration_s": "3600"}, {"evseId": 1, "duration": 3600}),
    (
        "get-composite-schedule",
        {"evse_id": "0", "duration_s": "600", "charging_rate_unit": "A"},
        {"evseId": 0, "duration": 600, "chargingRateUnit": "A"},
    ),
    (
        "get-variables",
        {"variables": "SmartChargingCtrlr.RateUnit\n\n OCPPCommCtrlr.MessageTimeout:Default \nEVSE@1.Power"},
        {
            "getVariableData": [
                {"component": {"name": "SmartChargingCtrlr"}, "variable": {"name": "RateUnit"}},
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "MessageTimeout", "instance": "Default"}},
                {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"}},
            ]
        },
    ),
    (
        "get-variables",
        {"variables": "SampledDataCtrlr.TxUpdatedInterval", "attribute_type": "Target"},
        {
            "getVariableData": [
                {
                    "component": {"name": "SampledDataCtrlr"},
                    "variable": {"name": "TxUpdatedInterval"},
                    "attributeType": "Target",
                }
            ]
        },
    ),
    (
        "set-variables",
        {"variable": "OCPPCommCtrlr.HeartbeatInterval", "value": "120"},
        {
            "setVariableData": [
                {
                    "attributeValue": "120",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                }
            ]
        },
    ),
    ("get-base-report", {"report_base": "FullInventory"}, {"reportBase": "FullInventory"}),
    ("get-charging-profiles", {}, {"chargingProfile": {}}),
    (
        "get-charging-profiles",
        {"evse_id": "0", "purpose": "ChargingStationMaxProfile", "stack_level": "0"},
        {"evseId": 0, "chargingProfile": {"chargingProfilePurpose": "ChargingStationMaxProfile", "stackLevel": 0}},
    ),
    ("clear-cache", {}, {}),
    ("get-transaction-status", {}, {}),
    ("get-transaction-status", {"transaction_id": "tx-42"}, {"transactionId": "tx-42"}),
]
# The buttons whose call carries a fresh requestId.
WITH_REQUEST_ID = {"update-firmware", "get-log", "get-base-report", "get-charging-profiles"}


def unsaved_station(**overrides) -> Charger:
    fields = {"charge_point_id": "ST1", "max_power_w": 22000, "phases": 3, "number_of_connectors": 2}
    return Charger(**{**fields, "protocol": OCPP201, **overrides})


def bound_form(slug: str, data: dict):
    return ADMIN_COMMANDS_201[slug].form(data, charger=unsaved_station())


# --- Pure: forms, payloads, answers --------------------------------------------------------------


@pytest.mark.parametrize(("slug", "data", "expected"), BUILDER_CASES)
def test_each_201_button_builds_the_201_payload_from_its_form(slug, data, expected):
    command = ADMIN_COMMANDS_201[slug]
    form = bound_form(slug, data)

    assert form.is_valid(), form.errors
    payload = command.build(form.cleaned_data)

    check_schema(command.action, payload, response=False)
    if slug in WITH_REQUEST_ID:
        assert 1 <= payload.pop("requestId") <= REQUEST_ID_MAX
    assert payload == expected


def test_each_201_request_gets_its_own_request_id():
    ids = {ADMIN_COMMANDS_201["get-base-report"].build(bound_form_clean("get-base-report"))["requestId"] for _ in "ab"}

    assert len(ids) == 2


def bound_form_clean(slug: str, data: dict | None = None) -> dict:
    form = bound_form(slug, data or {"report_base": "SummaryInventory"})
    assert form.is_valid(), form.errors
    return form.cleaned_data


@pytest.mark.parametrize(
    ("slug", "data", "field"),
    [
        ("reset", {"reset_type": "Hard"}, "reset_type"),
        ("reset", {"reset_type": "OnIdle", "evse_id": "3"}, "evse_id"),
        ("reset", {"reset_type": "OnIdle", "evse_id": "0"}, "evse_id"),
        ("unlock-connector", {"evse_id": "1"}, "connector_id"),
        ("change-availability", {"operational_status": "Operative", "connector_id": "1"}, "evse_id"),
        ("change-availability", {"operational_status": "Available"}, "operational_status"),
        ("trigger-message", {"requested_message": "DiagnosticsStatusNotification"}, "requested_message"),
        ("update-firmware", {"location": "not a url", "retrieve_at": "2026-01-13T22:00:00Z"}, "location"),
        (
            "update-firmware",
            {
                "location": "https://x.example/fw",
                "retrieve_at": "2026-01-13T22:00:00Z",
                "install_at": "2026-01-13T21:00:00Z",
            },
            "install_at",
        ),
        ("get-log", {"location": "https://x.example", "log_type": "Diagnostics"}, "log_type"),
        (
            "get-log",
            {
                "location": "https://x.example",
                "log_type": "DiagnosticsLog",
                "oldest_at": "2026-01-02T00:00Z",
                "latest_at": "2026-01-01T00:00Z",
            },
            "latest_at",
        ),
        ("clear-charging-profile", {"purpose": "ChargePointMaxProfile"}, "purpose"),
        ("get-variables", {"variables": ""}, "variables"),
        ("get-variables", {"variables": "HeartbeatInterval"}, "variables"),
        ("get-variables", {"variables": "\n".join(f"C.V{i}" for i in range(51))}, "variables"),
        ("set-variables", {"variable": "OCPPCommCtrlr.HeartbeatInterval", "value": "v" * 1001}, "value"),
        ("set-variables", {"variable": "C" * 51 + ".V", "value": "1"}, "variable"),
        # The security buttons set these, so the server knows the new password or profile.
        ("set-variables", {"variable": "SecurityCtrlr.BasicAuthPassword", "value": "p" * 20}, "variable"),
        ("set-variables", {"variable": "securityctrlr.SecurityProfile", "value": "2"}, "variable"),
        ("get-transaction-status", {"transaction_id": "t" * 37}, "transaction_id"),
        ("get-base-report", {"report_base": "Everything"}, "report_base"),
    ],
)
def test_bad_201_parameters_are_refused_before_anything_is_sent(slug, data, field):
    form = bound_form(slug, data)

    assert not form.is_valid()
    assert field in form.errors


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SmartChargingCtrlr.RateUnit", VariableName("SmartChargingCtrlr", "RateUnit")),
        (
            " OCPPCommCtrlr.MessageTimeout:Default ",
            VariableName("OCPPCommCtrlr", "MessageTimeout", variable_instance="Default"),
        ),
        ("EVSE@2.Power", VariableName("EVSE", "Power", evse_id=2)),
        ("Connector@1/2.ConnectorType", VariableName("Connector", "ConnectorType", evse_id=1, connector_id=2)),
        (
            "SmartChargingCtrlr.Entries:ChargingProfiles",
            VariableName("SmartChargingCtrlr", "Entries", variable_instance="ChargingProfiles"),
        ),
        ("Controller:left.Enabled", VariableName("Controller", "Enabled", component_instance="left")),
    ],
)
def test_a_variable_reads_as_the_installer_types_it(text, expected):
    assert variable_name_parse(text) == expected


@pytest.mark.parametrize(
    "text", ["", "RateUnit", "SmartChargingCtrlr.", ".RateUnit", "A.B.C", "EVSE@0.Power", "A B.C", "C" * 51 + ".V"]
)
def test_anything_else_is_not_a_variable(text):
    with pytest.raises(ValueError, match=r"is not Component\.Variable"):
        variable_name_parse(text)


@pytest.mark.parametrize(
    ("call", "action", "payload"),
    [
        (lambda: ocpp201.reset(reset_type="Immediate"), "Reset", {"type": "Immediate"}),
        (lambda: ocpp201.cache_clear(), "ClearCache", {}),
        (lambda: ocpp201.profiles_clear(), "ClearChargingProfile", {}),
        (
            lambda: ocpp201.profiles_clear(purpose="TxProfile"),
            "ClearChargingProfile",
            {"chargingProfileCriteria": {"chargingProfilePurpose": "TxProfile"}},
        ),
        (
            lambda: ocpp201.base_report_get(request_id=5, report_base="ConfigurationInventory"),
            "GetBaseReport",
            {"requestId": 5, "reportBase": "ConfigurationInventory"},
        ),
        (
            lambda: ocpp201.profiles_get(request_id=6, evse_id=1),
            "GetChargingProfiles",
            {"requestId": 6, "evseId": 1, "chargingProfile": {}},
        ),
        (
            lambda: ocpp201.firmware_update(
                request_id=7, location="https://f.example/x", retrieve_at=dt.datetime(2026, 1, 13, 22, tzinfo=dt.UTC)
            ),
            "UpdateFirmware",
            {
                "requestId": 7,
                "firmware": {"location": "https://f.example/x", "retrieveDateTime": "2026-01-13T22:00:00Z"},
            },
        ),
        (
            lambda: ocpp201.variables_set(variable=VariableName("EVSE", "Power", evse_id=1, connector_id=2), value="x"),
            "SetVariables",
            {
                "setVariableData": [
                    {
                        "attributeValue": "x",
                        "component": {"name": "EVSE", "evse": {"id": 1, "connectorId": 2}},
                        "variable": {"name": "Power"},
                    }
                ]
            },
        ),
        (lambda: ocpp201.transaction_status_get(), "GetTransactionStatus", {}),
    ],
)
def test_the_201_builders_make_schema_valid_calls(call, action, payload):
    built = call()

    assert (built.action, built.payload) == (action, payload)
    check_schema(action, built.payload, response=False)


@pytest.mark.parametrize(
    ("action", "answer", "level", "summary"),
    [
        ("Reset", {"status": "Accepted"}, "success", "The charger answered Accepted"),
        ("Reset", {"status": "Scheduled"}, "warning", "The charger answered Scheduled"),
        (
            "Reset",
            {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownEvse", "additionalInfo": "no EVSE 3"}},
            "error",
            "The charger answered Rejected (UnknownEvse: no EVSE 3)",
        ),
        ("UnlockConnector", {"status": "Unlocked"}, "success", "The charger answered Unlocked"),
        ("UnlockConnector", {"status": "UnlockFailed"}, "error", "The charger answered UnlockFailed"),
        (
            "UnlockConnector",
            {"status": "OngoingAuthorizedTransaction"},
            "error",
            "The charger answered OngoingAuthorizedTransaction",
        ),
        ("UnlockConnector", {"status": "UnknownConnector"}, "error", "The charger answered UnknownConnector"),
        ("ChangeAvailability", {"status": "Scheduled"}, "warning", "The charger answered Scheduled"),
        ("TriggerMessage", {"status": "NotImplemented"}, "error", "The charger answered NotImplemented"),
        ("GetBaseReport", {"status": "NotSupported"}, "error", "The charger answered NotSupported"),
        ("GetBaseReport", {"status": "EmptyResultSet"}, "warning", "The charger answered EmptyResultSet"),
        ("GetChargingProfiles", {"status": "NoProfiles"}, "warning", "The charger answered NoProfiles"),
        ("ClearChargingProfile", {"status": "Unknown"}, "error", "The charger answered Unknown"),
        ("UpdateFirmware", {"status": "Accepted"}, "success", "The charger answered Accepted"),
        ("UpdateFirmware", {"status": "InvalidCertificate"}, "error", "The charger answered InvalidCertificate"),
        ("UpdateFirmware", {"status": "AcceptedCanceled"}, "success", "The charger answered AcceptedCanceled"),
        (
            "GetLog",
            {"status": "Accepted", "filename": "diag-1.log"},
            "success",
            "The charger answered Accepted; it will upload diag-1.log",
        ),
        ("GetLog", {"status": "Rejected"}, "error", "The charger answered Rejected"),
        ("DataTransfer", {"status": "UnknownMessageId"}, "error", "The charger answered UnknownMessageId"),
        ("GetTransactionStatus", {"messagesInQueue": False}, "success", "The charger has no messages queued"),
        (
            "GetTransactionStatus",
            {"messagesInQueue": True, "ongoingIndicator": True},
            "success",
            "The charger still holds messages to deliver; the transaction is still ongoing",
        ),
        (
            "SetVariables",
            {
                "setVariableResult": [
                    {
                        "attributeStatus": "RebootRequired",
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                    }
                ]
            },
            "warning",
            "The charger answered RebootRequired for OCPPCommCtrlr.HeartbeatInterval",
        ),
        (
            "SetVariables",
            {
                "setVariableResult": [
                    {
                        "attributeStatus": "Rejected",
                        "component": {"name": "SmartChargingCtrlr"},
                        "variable": {"name": "RateUnit"},
                    }
                ]
            },
            "error",
            "The charger answered Rejected for SmartChargingCtrlr.RateUnit",
        ),
    ],
)
def test_each_201_answer_reads_as_what_the_station_said(action, answer, level, summary):
    view = answer_view(action, answer)

    assert (view.level, view.summary) == (level, summary)


def test_get_variables_answers_read_as_a_table_naming_what_the_station_does_not_know():
    answer = {
        "getVariableResult": [
            {
                "attributeStatus": "Accepted",
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "Power"},
                "attributeValue": "22000",
            },
            {"attributeStatus": "UnknownComponent", "component": {"name": "Foo"}, "variable": {"name": "Bar"}},
        ]
    }

    view = answer_view("GetVariables", answer)

    assert view.variables == [
        {"name": "EVSE@1.Power", "status": "Accepted", "value": "22000"},
        {"name": "Foo.Bar", "status": "UnknownComponent", "value": ""},
    ]
    assert (view.level, view.summary) == (
        "warning",
        "The charger returned 1 of 2 variable(s); not returned: Foo.Bar (UnknownComponent)",
    )


def test_a_201_composite_schedule_reads_as_periods_with_their_start_times():
    answer = {
        "status": "Accepted",
        "schedule": {
            "evseId": 0,
            "duration": 7200,
            "scheduleStart": "2026-01-13T00:00:00Z",
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}, {"startPeriod": 3600, "limit": 4000}],
        },
    }

    view = answer_view("GetCompositeSchedule", answer)

    assert view.schedule_unit == "W"
    assert [(row["starts_at"], row["limit"]) for row in view.schedule] == [
        ("2026-01-13T00:00:00Z", 11000),
        ("2026-01-13T01:00:00Z", 4000),
    ]


@pytest.mark.parametrize(
    ("protocol", "connection_protocol", "buttons"),
    [
        (OCPP16, "", ADMIN_COMMANDS),
        (OCPP201, "", ADMIN_COMMANDS_201),
        (OCPP16, OCPP201, ADMIN_COMMANDS_201),  # it connected speaking 2.0.1
        (OCPP201, OCPP16, ADMIN_COMMANDS),
    ],
)
def test_a_charger_gets_the_buttons_of_the_version_it_speaks(protocol, connection_protocol, buttons):
    charger = unsaved_station(protocol=protocol, connection_protocol=connection_protocol)

    assert admin_commands_for(charger) is buttons


def test_every_201_command_of_the_issue_has_a_button():
    actions = {command.action for command in ADMIN_COMMANDS_201.values()}

    assert actions == {
        "RequestStartTransaction",
        "RequestStopTransaction",
        "SetChargingProfile",
        "ClearChargingProfile",
        "GetCompositeSchedule",
        "GetChargingProfiles",
        "GetVariables",
        "SetVariables",
        "GetBaseReport",
        "Reset",
        "UnlockConnector",
        "ChangeAvailability",
        "TriggerMessage",
        "UpdateFirmware",
        "GetLog",
        "ClearCache",
        "GetTransactionStatus",
        "DataTransfer",
    }


# --- Through the real server, with the simulated station answering -------------------------------


def station_charger(charge_point_id: str, **fields) -> Charger:
    return make_charger(
        charge_point_id=charge_point_id, password=PASSWORD, phases=3, max_power_w=22000, protocol=OCPP201, **fields
    )


def with_station(server, charger: Charger, body, **station_options):
    """Connect the sim station (booted, holding its fuse limit), then run body(station, press_on)
    in a thread while the station keeps answering; returns (station, body's result) once its
    follow-ups are done."""
    browser = admin_session(server)

    def press_on(slug: str, data: dict | None = None) -> str:
        return press(browser, server, charger, slug, data)

    async def scenario():
        async with sim_station(
            server, charger.charge_point_id, password=PASSWORD, **{"evses": {1: 1, 2: 1}, **station_options}
        ) as station:
            # Settled after its boot: energy control gave it its fuse limit.
            await station.wait_for(lambda: station.profile_of("ChargingStationMaxProfile"), what="its fuse limit")
            result = await in_a_thread(body, station, press_on)
            await station.follow_ups_done()
            return station, result

    return asyncio.run(scenario())


# (button, form, what the station must receive, text of its answer on the page)
LIVE_CASES = [
    ("reset", {"reset_type": "OnIdle"}, ("Reset", {"type": "OnIdle"}), "The charger answered Accepted"),
    (
        "unlock-connector",
        {"evse_id": "2", "connector_id": "1"},
        ("UnlockConnector", {"evseId": 2, "connectorId": 1}),
        "The charger answered Unlocked",
    ),
    (
        "trigger-message",
        {"requested_message": "Heartbeat"},
        ("TriggerMessage", {"requestedMessage": "Heartbeat"}),
        "The charger answered Accepted",
    ),
    (
        "trigger-message",
        {"requested_message": "LogStatusNotification"},
        ("TriggerMessage", {"requestedMessage": "LogStatusNotification"}),
        "The charger answered NotImplemented",
    ),
    (
        "data-transfer",
        {"vendor_id": "com.simvendor", "message_id": "ping", "data": "hello"},
        ("DataTransfer", {"vendorId": "com.simvendor", "messageId": "ping", "data": "hello"}),
        '"data": "pong"',
    ),
    (
        "data-transfer",
        {"vendor_id": "com.other"},
        ("DataTransfer", {"vendorId": "com.other"}),
        "The charger answered UnknownVendorId",
    ),
    ("clear-cache", {}, ("ClearCache", {}), "The charger answered Accepted"),
    (
        "clear-charging-profile",
        {"profile_id": "4242"},
        ("ClearChargingProfile", {"chargingProfileId": 4242}),
        "The charger answered Unknown",
    ),
    (
        "get-transaction-status",
        {"transaction_id": "no-such-tx"},
        ("GetTransactionStatus", {"transactionId": "no-such-tx"}),
        "The charger has no messages queued; the transaction is not ongoing",
    ),
    (
        "set-variables",
        {"variable": "OCPPCommCtrlr.HeartbeatInterval", "value": "120"},
        (
            "SetVariables",
            {
                "setVariableData": [
                    {
                        "attributeValue": "120",
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                    }
                ]
            },
        ),
        "The charger answered Accepted for OCPPCommCtrlr.HeartbeatInterval",
    ),
    (
        "set-variables",
        {"variable": "SmartChargingCtrlr.RateUnit", "value": "W"},
        (
            "SetVariables",
            {
                "setVariableData": [
                    {
                        "attributeValue": "W",
                        "component": {"name": "SmartChargingCtrlr"},
                        "variable": {"name": "RateUnit"},
                    }
                ]
            },
        ),
        "The charger answered Rejected for SmartChargingCtrlr.RateUnit",
    ),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("slug", "data", "received", "text"), LIVE_CASES, ids=[case[0] for case in LIVE_CASES])
def test_each_201_button_reaches_the_station_and_shows_its_real_answer(ocpp_server, slug, data, received, text):
    charger = station_charger(f"ST201-BTN-{slug}")

    station, page = with_station(ocpp_server, charger, lambda st, press_on: press_on(slug, data))

    action, payload = received
    assert payload in station.sent(action)
    assert text in page
    logged = ChargerCommand.objects.filter(charger=charger, action=action, requested_by="admin:installer")
    assert [command.outcome for command in logged] == ["answered"]


@pytest.mark.django_db(transaction=True)
def test_the_201_station_page_offers_its_own_buttons(ocpp_server):
    charger = station_charger("ST201-PAGE")

    _, (page, log_form) = with_station(
        ocpp_server,
        charger,
        lambda st, press_on: (
            # A command page lists the other buttons; its form has 2.0.1's choices.
            press_on("clear-cache"),
            press_on("get-log", {"location": ""}),
        ),
    )

    for label in ("Get variables", "Set variable", "Get base report", "Get charging profiles", "Get log"):
        assert label in page
    assert "Get diagnostics" not in page and "Get configuration" not in page
    assert 'value="DiagnosticsLog"' in log_form and 'value="SecurityLog"' in log_form
    assert "This field is required." in log_form


@pytest.mark.django_db
def test_the_charger_page_of_a_201_station_has_a_button_for_each_of_its_commands(admin_client):
    charger = make_charger(protocol=OCPP201)

    page = admin_client.get(reverse("admin:chargers_charger_change", args=[charger.pk])).content.decode()
    unknown_here = admin_client.get(reverse("admin:chargers_charger_command", args=[charger.pk, "get-diagnostics"]))

    for command in ADMIN_COMMANDS_201.values():
        assert reverse("admin:chargers_charger_command", args=[charger.pk, command.slug]) in page
    assert unknown_here.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_get_variables_shows_the_stations_values_and_what_it_does_not_know(ocpp_server):
    charger = station_charger("ST201-VARS")

    station, page = with_station(
        ocpp_server,
        charger,
        lambda st, press_on: press_on(
            "get-variables", {"variables": "SmartChargingCtrlr.RateUnit\nOCPPCommCtrlr.MessageTimeout:Default\nFoo.Bar"}
        ),
    )

    assert "<td>SmartChargingCtrlr.RateUnit</td><td>Accepted</td><td>A,W</td>" in page
    assert "<td>OCPPCommCtrlr.MessageTimeout:Default</td><td>Accepted</td><td>30</td>" in page
    assert "<td>Foo.Bar</td><td>UnknownComponent</td>" in page
    assert "The charger returned 2 of 3 variable(s); not returned: Foo.Bar (UnknownComponent)" in page
    assert station.sent("GetVariables")[-1]["getVariableData"][2] == {
        "component": {"name": "Foo"},
        "variable": {"name": "Bar"},
    }


@pytest.mark.django_db(transaction=True)
def test_change_availability_makes_the_evse_unavailable_and_the_station_says_so(ocpp_server):
    charger = station_charger("ST201-AVAIL")

    station, page = with_station(
        ocpp_server,
        charger,
        lambda st, press_on: press_on("change-availability", {"operational_status": "Inoperative", "evse_id": "2"}),
    )

    assert station.sent("ChangeAvailability") == [{"operationalStatus": "Inoperative", "evse": {"id": 2}}]
    assert "The charger answered Accepted" in page
    # The StatusNotification the station sent after its answer reached the EVSE's row.
    statuses = dict(Connector.objects.filter(charger=charger).values_list("connector_id", "status"))
    assert (statuses[1], statuses[2]) == ("Available", "Unavailable")


@pytest.mark.django_db(transaction=True)
def test_an_evse_made_inoperative_is_not_told_to_start(ocpp_server):
    charger = station_charger("ST201-INOP")

    def body(st, press_on):
        press_on("change-availability", {"operational_status": "Inoperative", "evse_id": "1"})
        # Its StatusNotification Unavailable, sent after the answer, reaches the EVSE's row.
        assert eventually(lambda: Connector.objects.get(charger=charger, connector_id=1).status == "Unavailable")
        return press_on("remote-start", {"connector_id": "1"})

    station, page = with_station(ocpp_server, charger, body)

    assert "Not sent: connector 1 is Unavailable; it must be Available, Preparing (1.6) or Occupied" in page
    assert not station.sent("RequestStartTransaction")


@pytest.mark.django_db(transaction=True)
def test_a_triggered_status_notification_comes_from_the_evse_asked_for(ocpp_server):
    charger = station_charger("ST201-TRIG")

    def body(st, press_on):
        st.own_calls = ()
        return press_on("trigger-message", {"requested_message": "StatusNotification", "evse_id": "2"})

    station, page = with_station(ocpp_server, charger, body)

    # (The server's own boot flow may trigger a BootNotification.)
    assert {"requestedMessage": "StatusNotification", "evse": {"id": 2}} in station.sent("TriggerMessage")
    assert "The charger answered Accepted" in page
    assert [(n["evseId"], n["connectorId"], n["connectorStatus"]) for n in station.own("StatusNotification")] == [
        (2, 1, "Available")
    ]


@pytest.mark.django_db(transaction=True)
def test_get_log_and_update_firmware_answer_and_report_their_progress(ocpp_server):
    charger = station_charger("ST201-FILES")

    station, (log_page, firmware_page) = with_station(
        ocpp_server,
        charger,
        lambda st, press_on: (
            press_on("get-log", {"location": "https://logs.example.com/in", "log_type": "DiagnosticsLog"}),
            press_on(
                "update-firmware", {"location": "https://fw.example.com/7.bin", "retrieve_at": "2026-01-13T22:00Z"}
            ),
        ),
    )

    [log_request] = station.sent("GetLog")
    assert log_request["log"] == {"remoteLocation": "https://logs.example.com/in"}
    assert f"it will upload ST201-FILES-DiagnosticsLog-{log_request['requestId']}.log" in log_page
    [firmware_request] = station.sent("UpdateFirmware")
    assert firmware_request["firmware"]["retrieveDateTime"] == "2026-01-13T22:00:00Z"
    assert "The charger answered Accepted" in firmware_page
    charger.refresh_from_db()
    assert (charger.diagnostics_status, charger.firmware_status) == ("Uploaded", "Installed")
    assert [n["requestId"] for n in station.own("LogStatusNotification")] == [log_request["requestId"]] * 2


@pytest.mark.django_db(transaction=True)
def test_get_charging_profiles_reports_what_the_station_holds(ocpp_server):
    charger = station_charger("ST201-PROFILES")

    def body(st, press_on):
        held = press_on("get-charging-profiles", {"purpose": "ChargingStationMaxProfile"})
        none = press_on("get-charging-profiles", {"purpose": "TxProfile"})
        return held, none

    station, (held_page, none_page) = with_station(ocpp_server, charger, body)

    # Energy control gave the station its fuse limit after the boot: it holds that one.
    assert "The charger answered Accepted" in held_page
    assert "The charger answered NoProfiles" in none_page
    first, _ = station.sent("GetChargingProfiles")
    assert first["chargingProfile"] == {"chargingProfilePurpose": "ChargingStationMaxProfile"}
    reports = station.own("ReportChargingProfiles")
    assert [(r["requestId"], r["evseId"]) for r in reports] == [(first["requestId"], 0)]


@pytest.mark.django_db(transaction=True)
def test_get_composite_schedule_shows_the_stations_schedule(ocpp_server):
    charger = station_charger("ST201-SCHED")

    station, page = with_station(
        ocpp_server,
        charger,
        lambda st, press_on: press_on("get-composite-schedule", {"evse_id": "0", "duration_s": "600"}),
    )

    assert {"evseId": 0, "duration": 600} in station.sent("GetCompositeSchedule")
    assert 'id="schedule"' in page
    assert "The charger answered Accepted" in page


@pytest.mark.django_db(transaction=True)
def test_a_get_base_report_is_answered_and_the_report_follows(ocpp_server):
    charger = station_charger("ST201-REPORT")

    station, page = with_station(
        ocpp_server, charger, lambda st, press_on: press_on("get-base-report", {"report_base": "SummaryInventory"})
    )

    assert "The charger answered Accepted" in page
    request = station.sent("GetBaseReport")[-1]
    assert request["reportBase"] == "SummaryInventory"


@pytest.mark.django_db(transaction=True)
def test_a_station_without_the_action_reads_as_a_16_charger_without_it(ocpp_server):
    charger = station_charger("ST201-NOLOCK")

    def body(st, press_on):
        st.not_supported = frozenset({"UnlockConnector"})
        unlock = press_on("unlock-connector", {"evse_id": "1", "connector_id": "1"})
        # What its feature profiles say it lacks is not sent at all, as for 1.6.
        Charger.objects.filter(pk=charger.pk).update(supported_feature_profiles="Core")
        schedule = press_on("get-composite-schedule", {"evse_id": "1", "duration_s": "60"})
        return unlock, schedule

    station, (unlock_page, schedule_page) = with_station(ocpp_server, charger, body)

    assert "The charger answered CALLERROR NotSupported: UnlockConnector is not supported" in unlock_page
    assert ChargerCommand.objects.get(charger=charger, action="UnlockConnector").outcome == "call_error"
    assert "Not supported by this charger" in schedule_page
    assert {"evseId": 1, "duration": 60} not in station.sent("GetCompositeSchedule")


@pytest.mark.django_db(transaction=True)
def test_an_offline_201_station_reads_as_an_offline_16_charger(ocpp_server):
    charger = station_charger("ST201-OFF", is_connected=False)
    browser = admin_session(ocpp_server)

    page = press(browser, ocpp_server, charger, "reset", {"reset_type": "Immediate"})

    assert "Charger ST201-OFF is offline" in page
    logged = ChargerCommand.objects.get(charger=charger)
    assert (logged.action, logged.payload, logged.outcome) == ("Reset", {"type": "Immediate"}, "offline")
