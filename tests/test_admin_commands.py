"""The command buttons on a charger's admin page: the payloads they build, and an installer
pressing them against the real server while a WebSocket charger answers."""

import asyncio
import datetime as dt
import html
import time

import pytest
import requests
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from ocpp.exceptions import NotSupportedError
from ocpp.messages import Call, _validate_payload
from ocpp.v16 import call, call_result

from chargers.admin_commands import ADMIN_COMMANDS, answer_view
from chargers.commands import (
    ChargerBusy,
    ChargerCallError,
    ChargerNotSupported,
    ChargerOffline,
    ChargerRejected,
    ChargerTimeout,
    CommandInvalid,
)
from chargers.failures import failure_sentence
from chargers.link import REMOTE_ID_TAG
from chargers.models import Charger, ChargerCommand
from chargers.protocols.ocpp16 import limit_set
from tests.conftest import start_server
from tests.factories import make_charger
from tests.ocpp_client import RECENT_DAY, AnsweringCharger, eventually, in_a_thread, library_charger
from tests.test_admin import charger_form

PASSWORD = "installer-password-123"
HTTP_TIMEOUT_S = 30

# (button, what the form posts, the OCPP payload it must send)
BUILDER_CASES = [
    ("reset", {"type": "Hard"}, {"type": "Hard"}),
    ("unlock-connector", {"connector_id": "2"}, {"connectorId": 2}),
    ("change-availability", {"connector_id": "0", "type": "Inoperative"}, {"connectorId": 0, "type": "Inoperative"}),
    ("get-configuration", {"keys": ""}, {}),
    (
        "get-configuration",
        {"keys": " HeartbeatInterval, NumberOfConnectors,HeartbeatInterval "},
        {"key": ["HeartbeatInterval", "NumberOfConnectors"]},
    ),
    (
        "change-configuration",
        {"key": "MeterValueSampleInterval", "value": "30"},
        {"key": "MeterValueSampleInterval", "value": "30"},
    ),
    ("clear-cache", {}, {}),
    ("clear-charging-profile", {}, {}),
    (
        "clear-charging-profile",
        {"profile_id": "1", "connector_id": "0", "purpose": "ChargePointMaxProfile", "stack_level": "0"},
        {"id": 1, "connectorId": 0, "chargingProfilePurpose": "ChargePointMaxProfile", "stackLevel": 0},
    ),
    ("get-composite-schedule", {"connector_id": "1", "duration_s": "3600"}, {"connectorId": 1, "duration": 3600}),
    (
        "get-composite-schedule",
        {"connector_id": "0", "duration_s": "600", "charging_rate_unit": "A"},
        {"connectorId": 0, "duration": 600, "chargingRateUnit": "A"},
    ),
    ("trigger-message", {"requested_message": "Heartbeat"}, {"requestedMessage": "Heartbeat"}),
    (
        "trigger-message",
        {"requested_message": "StatusNotification", "connector_id": "1"},
        {"requestedMessage": "StatusNotification", "connectorId": 1},
    ),
    (
        "update-firmware",
        {"location": "https://firmware.example.com/fw-6.2.bin", "retrieve_date": "2026-01-13T22:00:00+00:00"},
        {"location": "https://firmware.example.com/fw-6.2.bin", "retrieveDate": "2026-01-13T22:00:00Z"},
    ),
    (
        "update-firmware",
        {
            "location": "ftp://files.example.com/fw.bin",
            "retrieve_date": "2026-01-13T23:00:00+01:00",
            "retries": "3",
            "retry_interval_s": "60",
        },
        {
            "location": "ftp://files.example.com/fw.bin",
            "retrieveDate": "2026-01-13T22:00:00Z",
            "retries": 3,
            "retryInterval": 60,
        },
    ),
    (
        "get-diagnostics",
        {"location": "https://logs.example.com/upload"},
        {"location": "https://logs.example.com/upload"},
    ),
    (
        "get-diagnostics",
        {
            "location": "sftp://logs.example.com/in",
            "start_time": "2026-01-01T00:00:00Z",
            "stop_time": "2026-01-02T00:00:00Z",
        },
        {
            "location": "sftp://logs.example.com/in",
            "startTime": "2026-01-01T00:00:00Z",
            "stopTime": "2026-01-02T00:00:00Z",
        },
    ),
    ("data-transfer", {"vendor_id": "com.example"}, {"vendorId": "com.example"}),
    (
        "data-transfer",
        {"vendor_id": "com.example", "message_id": "ping", "data": '{"a": 1}'},
        {"vendorId": "com.example", "messageId": "ping", "data": '{"a": 1}'},
    ),
]


def unsaved_charger(**overrides) -> Charger:
    fields = {"charge_point_id": "CP1", "max_power_w": 7400, "phases": 1, "number_of_connectors": 2}
    fields.update(overrides)
    return Charger(**fields)


def assert_valid_ocpp16(action: str, payload: dict) -> None:
    _validate_payload(Call("1", action, payload), "1.6")


def bound_form(slug: str, data: dict):
    return ADMIN_COMMANDS[slug].form(data, charger=unsaved_charger())


# --- Pure: forms and payloads ------------------------------------------------------------------


@pytest.mark.parametrize(("slug", "data", "expected"), BUILDER_CASES)
def test_each_button_builds_the_ocpp_payload_from_its_form(slug, data, expected):
    command = ADMIN_COMMANDS[slug]
    form = bound_form(slug, data)

    assert form.is_valid(), form.errors
    payload = command.build(form.cleaned_data)

    assert payload == expected
    assert_valid_ocpp16(command.action, payload)


def test_every_central_system_action_of_the_issue_has_a_button():
    actions = {command.action for command in ADMIN_COMMANDS.values()}

    assert actions == {
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "Reset",
        "UnlockConnector",
        "ChangeAvailability",
        "GetConfiguration",
        "ChangeConfiguration",
        "ClearCache",
        "SetChargingProfile",
        "ClearChargingProfile",
        "GetCompositeSchedule",
        "TriggerMessage",
        "UpdateFirmware",
        "GetDiagnostics",
        "DataTransfer",
    }


def test_the_buttons_backed_by_remote_control_send_payloads_the_schema_accepts():
    charger = unsaved_charger(charging_rate_units="Current", max_stack_level=0)
    now = dt.datetime(2026, 1, 13, 12, 0, tzinfo=dt.UTC)

    limit = limit_set(charger=charger, purpose="ChargePointMaxProfile", limit_w=3680, duration_s=600, now=now).payload

    assert_valid_ocpp16("SetChargingProfile", limit)
    assert_valid_ocpp16("RemoteStartTransaction", {"connectorId": 1, "idTag": REMOTE_ID_TAG})
    assert_valid_ocpp16("RemoteStopTransaction", {"transactionId": 7})
    assert ADMIN_COMMANDS["set-limit"].build is None
    assert ADMIN_COMMANDS["remote-start"].service is not None


@pytest.mark.parametrize(
    ("slug", "data", "field"),
    [
        ("set-limit", {"limit_w": "8000"}, "limit_w"),
        ("set-limit", {"limit_w": "-1"}, "limit_w"),
        ("set-limit", {"limit_w": "3000", "duration_s": "0"}, "duration_s"),
        ("remote-start", {"connector_id": "3"}, "connector_id"),
        ("remote-start", {"connector_id": "0"}, "connector_id"),
        ("unlock-connector", {"connector_id": "abc"}, "connector_id"),
        ("reset", {"type": "Sideways"}, "type"),
        ("get-configuration", {"keys": "A," + "K" * 51}, "keys"),
        ("change-configuration", {"key": "K" * 51, "value": "1"}, "key"),
        ("change-configuration", {"key": "HeartbeatInterval", "value": "v" * 501}, "value"),
        ("trigger-message", {"requested_message": "SignChargePointCertificate"}, "requested_message"),
        ("update-firmware", {"location": "not a url", "retrieve_date": "2026-01-13T22:00:00Z"}, "location"),
        ("update-firmware", {"location": "https://x.example/fw"}, "retrieve_date"),
        ("update-firmware", {"location": "javascript:alert(1)", "retrieve_date": "2026-01-13T22:00:00Z"}, "location"),
        (
            "get-diagnostics",
            {"location": "https://x.example", "start_time": "2026-01-02T00:00Z", "stop_time": "2026-01-01T00:00Z"},
            "stop_time",
        ),
        ("data-transfer", {"vendor_id": "v" * 256}, "vendor_id"),
        ("get-composite-schedule", {"connector_id": "1"}, "duration_s"),
    ],
)
def test_bad_parameters_are_refused_before_anything_is_sent(slug, data, field):
    form = bound_form(slug, data)

    assert not form.is_valid()
    assert field in form.errors


def test_get_configuration_answers_read_as_a_table_with_the_unknown_keys():
    answer = {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
        "unknownKey": ["Foo"],
    }

    view = answer_view("GetConfiguration", answer)

    assert view.configuration == answer["configurationKey"]
    assert view.unknown_keys == ["Foo"]
    assert view.level == "warning"


def test_a_composite_schedule_reads_as_periods_with_their_start_times():
    answer = {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": "2026-01-13T00:00:00Z",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}, {"startPeriod": 3600, "limit": 6.0}],
        },
    }

    view = answer_view("GetCompositeSchedule", answer)

    assert view.schedule_unit == "A"
    assert [(row["starts_at"], row["limit"]) for row in view.schedule] == [
        ("2026-01-13T00:00:00Z", 16.0),
        ("2026-01-13T01:00:00Z", 6.0),
    ]


@pytest.mark.parametrize(
    ("action", "answer", "level", "summary"),
    [
        ("Reset", {"status": "Accepted"}, "success", "The charger answered Accepted"),
        ("Reset", {"status": "Rejected"}, "error", "The charger answered Rejected"),
        ("ChangeConfiguration", {"status": "NotSupported"}, "error", "The charger answered NotSupported"),
        ("ChangeConfiguration", {"status": "RebootRequired"}, "warning", "The charger answered RebootRequired"),
        ("UnlockConnector", {"status": "Unlocked"}, "success", "The charger answered Unlocked"),
        ("UnlockConnector", {"status": "UnlockFailed"}, "error", "The charger answered UnlockFailed"),
        ("ChangeAvailability", {"status": "Scheduled"}, "warning", "The charger answered Scheduled"),
        ("DataTransfer", {"status": "UnknownVendorId"}, "error", "The charger answered UnknownVendorId"),
        ("GetCompositeSchedule", {"status": "Rejected"}, "error", "The charger answered Rejected"),
        ("GetDiagnostics", {"fileName": "diag.zip"}, "success", "The charger will upload diag.zip"),
        ("GetDiagnostics", {}, "warning", "The charger has no diagnostics to upload"),
        ("UpdateFirmware", {}, "success", "The charger acknowledged the firmware update"),
    ],
)
def test_each_answer_reads_as_what_the_charger_said(action, answer, level, summary):
    view = answer_view(action, answer)

    assert (view.level, view.summary) == (level, summary)


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (ChargerOffline("charger CP1 is offline"), "Charger CP1 is offline"),
        (ChargerTimeout("no answer"), "No answer from charger CP1 within 10 s"),
        (
            ChargerCallError("no lock on this model", code="NotSupported"),
            "The charger answered CALLERROR NotSupported: no lock on this model",
        ),
        (ChargerRejected("the charger answered Rejected to Reset", code="Rejected"), "The charger answered Rejected"),
        (ChargerNotSupported("needs SmartCharging"), "Not supported by this charger: needs SmartCharging"),
        (ChargerBusy("no charging session is running"), "Not sent: no charging session is running"),
        (CommandInvalid("bad"), "Not sent, invalid request: bad"),
    ],
)
def test_each_failure_reads_as_a_clear_message(failure, message):
    assert failure_sentence(charge_point_id="CP1", failure=failure, timeout_s=10) == message


# --- The admin pages, in-process -------------------------------------------------------------


@pytest.mark.django_db
def test_the_charger_page_has_a_button_for_every_command(admin_client):
    charger = make_charger()

    page = admin_client.get(reverse("admin:chargers_charger_change", args=[charger.pk])).content.decode()

    assert 'id="charger-commands"' in page
    for command in ADMIN_COMMANDS.values():
        assert reverse("admin:chargers_charger_command", args=[charger.pk, command.slug]) in page
        assert command.label in page


@pytest.mark.django_db
def test_the_charger_page_shows_the_compatibility_profile_read_only_with_editable_overrides(admin_client):
    charger = make_charger(
        supported_feature_profiles="Core,SmartCharging",
        charging_rate_units="Current",
        max_stack_level=3,
        meter_measurands="Energy.Active.Import.Register",
        configuration=[{"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "3"}],
        probed_at=dt.datetime(2026, 1, 13, 12, 0, tzinfo=dt.UTC),
    )

    response = admin_client.get(reverse("admin:chargers_charger_change", args=[charger.pk]))

    page = response.content.decode()
    assert "Compatibility profile" in page
    assert "<td>ChargeProfileMaxStackLevel</td>" in page
    assert "Core,SmartCharging" in page
    form_fields = response.context["adminform"].form.fields
    assert "rate_unit_override" in form_fields
    assert "max_stack_level_override" in form_fields
    assert "max_stack_level" not in form_fields
    assert "charging_rate_units" not in form_fields


@pytest.mark.django_db
def test_an_installer_can_override_the_probed_unit_and_stack_level(admin_client):
    charger = make_charger(charging_rate_units="Power", max_stack_level=8)

    response = admin_client.post(
        reverse("admin:chargers_charger_change", args=[charger.pk]),
        charger_form(charger, rate_unit_override="A", max_stack_level_override="1"),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    charger.refresh_from_db()
    assert (charger.limit_rate_unit, charger.stack_level(2), charger.max_stack_level) == ("A", 1, 8)


@pytest.mark.django_db
def test_a_command_page_shows_its_form(admin_client):
    charger = make_charger()

    page = admin_client.get(reverse("admin:chargers_charger_command", args=[charger.pk, "reset"])).content.decode()

    assert 'name="type"' in page
    assert "Send reset" in page


@pytest.mark.django_db
def test_an_unknown_command_or_charger_is_not_found(admin_client):
    charger = make_charger()

    unknown_command = admin_client.get(reverse("admin:chargers_charger_command", args=[charger.pk, "self-destruct"]))
    unknown_charger = admin_client.get(reverse("admin:chargers_charger_command", args=[987654, "reset"]))

    assert unknown_command.status_code == 404
    assert unknown_charger.status_code == 302  # the admin's "does not exist" redirect


@pytest.mark.django_db
def test_bad_input_redisplays_the_form_and_sends_nothing(admin_client):
    charger = make_charger(is_connected=True)

    response = admin_client.post(
        reverse("admin:chargers_charger_command", args=[charger.pk, "set-limit"]), {"limit_w": "999999"}
    )

    assert response.status_code == 200
    assert "At most the charger" in response.content.decode()
    assert not ChargerCommand.objects.exists()


@pytest.mark.django_db
def test_staff_without_change_permission_can_see_the_charger_but_not_command_it(client):
    charger = make_charger()
    viewer = User.objects.create_user("viewer", password=PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_charger"))
    client.force_login(viewer)

    page = client.get(reverse("admin:chargers_charger_change", args=[charger.pk])).content.decode()
    denied = client.post(reverse("admin:chargers_charger_command", args=[charger.pk, "reset"]), {"type": "Hard"})

    assert 'id="charger-commands"' not in page
    assert denied.status_code == 403
    assert not ChargerCommand.objects.exists()


@pytest.mark.django_db
def test_the_command_log_is_read_only_and_shows_payload_and_answer(admin_client):
    charger = make_charger(charge_point_id="log-1")
    command = ChargerCommand.objects.create(
        charger=charger,
        action="Reset",
        payload={"type": "Soft"},
        requested_by="admin:anna",
        outcome=ChargerCommand.Outcome.ANSWERED,
        response={"status": "Accepted"},
        latency_ms=42,
    )

    listing = admin_client.get(reverse("admin:chargers_chargercommand_changelist"), {"q": "log-1"})
    filtered = admin_client.get(reverse("admin:chargers_chargercommand_changelist"), {"outcome": "timeout"})
    detail = admin_client.get(reverse("admin:chargers_chargercommand_change", args=[command.pk]))
    charger_page = admin_client.get(reverse("admin:chargers_charger_change", args=[charger.pk]))

    assert "admin:anna" in listing.content.decode()
    assert "admin:anna" not in filtered.content.decode()
    assert "&quot;type&quot;: &quot;Soft&quot;" in detail.content.decode()
    assert "&quot;status&quot;: &quot;Accepted&quot;" in detail.content.decode()
    assert 'name="_save"' not in detail.content.decode()
    assert "admin:anna" in charger_page.content.decode()
    assert admin_client.get(reverse("admin:chargers_chargercommand_add")).status_code == 403


# --- Through the real server, with a WebSocket charger answering -----------------------------


def admin_session(server) -> requests.Session:
    """An installer logged in to the live server's admin, as a browser would be."""
    if not User.objects.filter(username="installer").exists():
        User.objects.create_superuser("installer", "installer@example.com", PASSWORD)
    session = requests.Session()
    session.get(f"{server.http_url}/admin/login/", timeout=HTTP_TIMEOUT_S).raise_for_status()
    response = session.post(
        f"{server.http_url}/admin/login/?next=/admin/",
        data={
            "username": "installer",
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        timeout=HTTP_TIMEOUT_S,
    )
    response.raise_for_status()
    assert response.url.endswith("/admin/"), "logged in"
    return session


def press(session: requests.Session, server, charger: Charger, slug: str, data: dict | None = None) -> str:
    """Post a command page's form and return the page that comes back, unescaped."""
    url = f"{server.http_url}/admin/chargers/charger/{charger.pk}/command/{slug}/"
    session.get(url, timeout=HTTP_TIMEOUT_S).raise_for_status()
    response = session.post(
        url, data={**(data or {}), "csrfmiddlewaretoken": session.cookies["csrftoken"]}, timeout=HTTP_TIMEOUT_S
    )
    assert response.status_code == 200, response.text[:2000]
    return html.unescape(response.text)


def with_charger(server, charger: Charger, body):
    """Connect an answering charger (booted, probe done), then run body(cp) in a thread while
    the charger's event loop keeps answering; cp.run(coroutine) runs charger-side calls."""

    async def scenario():
        loop = asyncio.get_running_loop()
        async with library_charger(server, charger.charge_point_id, charge_point_class=AnsweringCharger) as cp:
            cp.run = lambda coroutine: asyncio.run_coroutine_threadsafe(coroutine, loop).result(HTTP_TIMEOUT_S)
            await cp.call(call.BootNotification(charge_point_vendor="Wallbox", charge_point_model="Pulsar Plus"))
            probed = await in_a_thread(eventually, lambda: Charger.objects.get(pk=charger.pk).probed_at, 10)
            assert probed, "the compatibility probe ran"
            return cp, await in_a_thread(body, cp)

    return asyncio.run(scenario())


def sent(cp: AnsweringCharger, action: str) -> list[dict]:
    return [payload for received_action, payload in cp.received if received_action == action]


# (button, form, what the charger must receive (snake_case, as the library hands it over), page text)
LIVE_CASES = [
    ("reset", {"type": "Soft"}, ("Reset", {"type": "Soft"}), "The charger answered Accepted"),
    ("unlock-connector", {"connector_id": "1"}, ("UnlockConnector", {"connector_id": 1}), "answered Unlocked"),
    (
        "change-availability",
        {"connector_id": "0", "type": "Inoperative"},
        ("ChangeAvailability", {"connector_id": 0, "type": "Inoperative"}),
        "The charger answered Accepted",
    ),
    (
        "change-configuration",
        {"key": "HeartbeatInterval", "value": "120"},
        ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "120"}),
        "The charger answered Accepted",
    ),
    ("clear-cache", {}, ("ClearCache", {}), "The charger answered Accepted"),
    (
        "remote-start",
        {"connector_id": "1"},
        ("RemoteStartTransaction", {"connector_id": 1, "id_tag": REMOTE_ID_TAG}),
        "The charger answered Accepted",
    ),
    (
        "trigger-message",
        {"requested_message": "StatusNotification", "connector_id": "1"},
        ("TriggerMessage", {"requested_message": "StatusNotification", "connector_id": 1}),
        "The charger answered Accepted",
    ),
    (
        "update-firmware",
        {"location": "https://firmware.example.com/fw.bin", "retrieve_date": "2026-01-13T22:00:00Z"},
        (
            "UpdateFirmware",
            {"location": "https://firmware.example.com/fw.bin", "retrieve_date": "2026-01-13T22:00:00Z"},
        ),
        "The charger acknowledged the firmware update",
    ),
    (
        "get-diagnostics",
        {"location": "https://logs.example.com/upload"},
        ("GetDiagnostics", {"location": "https://logs.example.com/upload"}),
        "The charger will upload diagnostics.zip",
    ),
    (
        "data-transfer",
        {"vendor_id": "com.example", "message_id": "ping", "data": "hello"},
        ("DataTransfer", {"vendor_id": "com.example", "message_id": "ping", "data": "hello"}),
        "The charger answered Accepted",
    ),
    (
        "clear-charging-profile",
        {"purpose": "TxDefaultProfile"},
        ("ClearChargingProfile", {"charging_profile_purpose": "TxDefaultProfile"}),
        "The charger answered Accepted",
    ),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("slug", "data", "received", "text"), LIVE_CASES, ids=[case[0] for case in LIVE_CASES])
def test_each_button_reaches_the_charger_and_shows_its_real_answer(ocpp_server, slug, data, received, text):
    charger = make_charger()
    session = admin_session(ocpp_server)

    cp, page = with_charger(ocpp_server, charger, lambda cp: press(session, ocpp_server, charger, slug, data))

    action, payload = received
    # Energy control may send its own calls of the same action (a ClearChargingProfile of a stale stack level).
    assert payload in sent(cp, action)
    assert text in page
    # The button's own call, logged with its answer (energy control's may come after it).
    logged = ChargerCommand.objects.filter(charger=charger, action=action, requested_by="admin:installer")
    assert [command.outcome for command in logged] == ["answered"]


@pytest.mark.django_db(transaction=True)
def test_get_configuration_shows_the_chargers_configuration_table(ocpp_server):
    charger = make_charger()
    session = admin_session(ocpp_server)

    def body(cp):
        cp.configuration.append({"key": "AdminVisibleKey", "readonly": False, "value": "shown-in-the-table"})
        return press(session, ocpp_server, charger, "get-configuration", {"keys": ""})

    cp, page = with_charger(ocpp_server, charger, body)

    assert "<td>AdminVisibleKey</td><td>shown-in-the-table</td><td>no</td>" in page
    assert "<td>ChargeProfileMaxStackLevel</td><td>8</td><td>yes</td>" in page
    # The probe's at boot and the button's; energy control may send profiles in between.
    assert sent(cp, "GetConfiguration") == [{}, {}]


@pytest.mark.django_db(transaction=True)
def test_get_composite_schedule_shows_the_schedule_periods(ocpp_server):
    charger = make_charger()
    session = admin_session(ocpp_server)

    cp, page = with_charger(
        ocpp_server,
        charger,
        lambda cp: press(
            session, ocpp_server, charger, "get-composite-schedule", {"connector_id": "1", "duration_s": "3600"}
        ),
    )

    # The installer's (the server also checks connector 0 after every boot).
    assert {"connector_id": 1, "duration": 3600} in sent(cp, "GetCompositeSchedule")
    assert 'id="schedule"' in page
    assert "<td>0</td><td>2026-01-13T00:00:00Z</td><td>7400</td>" in page


@pytest.mark.django_db(transaction=True)
def test_set_power_limit_caps_the_charger_in_its_unit_and_stores_the_manual_limit(ocpp_server):
    charger = make_charger(phases=1, max_power_w=7400)
    session = admin_session(ocpp_server)

    cp, page = with_charger(
        ocpp_server,
        charger,
        lambda cp: press(
            session, ocpp_server, charger, "set-limit", {"limit_w": "3680", "duration_s": "600", "reason": "test"}
        ),
    )

    # The probe found "Current,Power": amps, as every smart charger takes them; 3680 W on one phase is 16 A.
    limits = [
        (
            payload["cs_charging_profiles"]["charging_schedule"]["charging_rate_unit"],
            payload["cs_charging_profiles"]["charging_schedule"]["charging_schedule_period"][0]["limit"],
        )
        for payload in sent(cp, "SetChargingProfile")
    ]
    assert ("A", 16.0) in limits
    assert "The charger answered Accepted" in page
    charger.refresh_from_db()
    assert (charger.control.manual_limit_w, charger.control.manual_limit_reason, charger.control.limit_w) == (
        3680,
        "test",
        3680,
    )
    assert charger.control.manual_limit_expires_at is not None


@pytest.mark.django_db(transaction=True)
def test_remote_stop_ends_the_running_session(ocpp_server):
    charger = make_charger(accept_any_id_tag=True)
    session = admin_session(ocpp_server)

    def body(cp):
        started = cp.run(
            cp.call(
                call.StartTransaction(
                    connector_id=1, id_tag="CARD-1", meter_start=0, timestamp=f"{RECENT_DAY}T10:00:00Z"
                )
            )
        )
        return started.transaction_id, press(session, ocpp_server, charger, "remote-stop")

    cp, (transaction_id, page) = with_charger(ocpp_server, charger, body)

    assert sent(cp, "RemoteStopTransaction") == [{"transaction_id": transaction_id}]
    assert "The charger answered Accepted" in page


@pytest.mark.django_db(transaction=True)
def test_remote_stop_without_a_running_session_says_so_and_sends_nothing(ocpp_server):
    charger = make_charger()
    session = admin_session(ocpp_server)

    cp, page = with_charger(ocpp_server, charger, lambda cp: press(session, ocpp_server, charger, "remote-stop"))

    assert "Not sent: no charging session is running on this charger" in page
    assert not sent(cp, "RemoteStopTransaction")


@pytest.mark.django_db(transaction=True)
def test_a_charger_answering_rejected_shows_rejected(ocpp_server):
    charger = make_charger()
    session = admin_session(ocpp_server)

    def body(cp):
        cp.answers["Reset"] = call_result.Reset(status="Rejected")
        cp.answers["RemoteStartTransaction"] = call_result.RemoteStartTransaction(status="Rejected")
        return (
            press(session, ocpp_server, charger, "reset", {"type": "Hard"}),
            press(session, ocpp_server, charger, "remote-start", {"connector_id": "1"}),
        )

    cp, (reset_page, start_page) = with_charger(ocpp_server, charger, body)

    assert "The charger answered Rejected" in reset_page
    assert "The charger answered Rejected" in start_page
    assert sent(cp, "Reset") == [{"type": "Hard"}]


@pytest.mark.django_db(transaction=True)
def test_a_callerror_shows_its_code(ocpp_server):
    charger = make_charger()
    session = admin_session(ocpp_server)

    def body(cp):
        cp.errors["UnlockConnector"] = NotSupportedError(description="no lock on this model")
        return press(session, ocpp_server, charger, "unlock-connector", {"connector_id": "1"})

    _, page = with_charger(ocpp_server, charger, body)

    assert "The charger answered CALLERROR NotSupported: no lock on this model" in page
    assert ChargerCommand.objects.get(charger=charger, action="UnlockConnector").outcome == "call_error"


@pytest.mark.django_db(transaction=True)
def test_a_command_the_charger_does_not_support_says_so_without_sending(ocpp_server):
    charger = make_charger()
    session = admin_session(ocpp_server)

    def body(cp):
        # The probe read the feature profiles; this charger has no SmartCharging.
        Charger.objects.filter(pk=charger.pk).update(supported_feature_profiles="Core")
        return press(session, ocpp_server, charger, "get-composite-schedule", {"connector_id": "1", "duration_s": "60"})

    cp, page = with_charger(ocpp_server, charger, body)

    assert "Not supported by this charger" in page
    # Only the server's own check after the boot (connector 0) went out, not the installer's.
    assert {"connector_id": 1, "duration": 60} not in sent(cp, "GetCompositeSchedule")


@pytest.mark.django_db(transaction=True)
def test_an_offline_charger_shows_offline_at_once(ocpp_server):
    charger = make_charger(charge_point_id="garage-offline", is_connected=False)
    session = admin_session(ocpp_server)

    started = time.monotonic()
    page = press(session, ocpp_server, charger, "reset", {"type": "Soft"})

    assert time.monotonic() - started < 3
    assert "Charger garage-offline is offline" in page
    assert ChargerCommand.objects.get(charger=charger).outcome == "offline"


@pytest.mark.django_db(transaction=True)
def test_the_command_appears_in_the_command_log_with_who_asked(ocpp_server):
    charger = make_charger(charge_point_id="logged-1")
    session = admin_session(ocpp_server)

    with_charger(ocpp_server, charger, lambda cp: press(session, ocpp_server, charger, "reset", {"type": "Soft"}))
    listing = html.unescape(
        session.get(
            f"{ocpp_server.http_url}/admin/chargers/chargercommand/",
            params={"q": "logged-1", "action": "Reset"},
            timeout=HTTP_TIMEOUT_S,
        ).text
    )
    logged = ChargerCommand.objects.get(charger=charger, action="Reset")
    detail = html.unescape(
        session.get(
            f"{ocpp_server.http_url}/admin/chargers/chargercommand/{logged.pk}/change/", timeout=HTTP_TIMEOUT_S
        ).text
    )

    assert "admin:installer" in listing
    assert '"type": "Soft"' in detail
    assert '"status": "Accepted"' in detail
    assert (logged.requested_by, logged.payload, logged.response) == (
        "admin:installer",
        {"type": "Soft"},
        {"status": "Accepted"},
    )
    assert logged.latency_ms is not None


@pytest.fixture(scope="module")
def impatient_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """A server that waits only 2 s for a charger's answer."""
    process, server = start_server(tmp_path_factory.mktemp("impatient"), {"OCPP_COMMAND_TIMEOUT": "2"})
    yield server
    process.terminate()
    process.wait(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_a_charger_that_does_not_answer_in_time_shows_the_timeout(impatient_server):
    charger = make_charger()
    session = admin_session(impatient_server)

    def body(cp):
        cp.delays["ClearCache"] = 5
        started = time.monotonic()
        page = press(session, impatient_server, charger, "clear-cache")
        return page, time.monotonic() - started

    _, (page, waited) = with_charger(impatient_server, charger, body)

    assert f"No answer from charger {charger.charge_point_id} within 2 s" in page
    assert waited < 5
    assert ChargerCommand.objects.get(charger=charger, action="ClearCache").outcome == "timeout"
