"""The admin charger page as an installer reads it: live state first, then commands, then the
settings; labels in words with units; times to the second; a charger open to anyone flagged;
the metering the charger reported and what the server changed at boot."""

import datetime as dt
import re

import pytest
from django.urls import reverse

from chargers.models import PROBE_REQUESTED_BY, Charger, ChargerCommand, ChargerEvent, Connector
from sessions.models import MeterSample
from tests.factories import make_charger, make_session, make_site

pytestmark = pytest.mark.django_db

T = dt.datetime(2026, 1, 13, 15, 4, 5, tzinfo=dt.UTC)
PROBE = PROBE_REQUESTED_BY


def charger_page(client, charger: Charger) -> str:
    response = client.get(reverse("admin:chargers_charger_change", args=[charger.pk]))
    assert response.status_code == 200
    return response.content.decode()


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)).replace("&#x27;", "'")


def test_the_charger_page_leads_with_live_state_then_commands_then_the_settings(admin_client):
    charger = make_charger(password="pw-1234567890", is_connected=True)

    page = charger_page(admin_client, charger)

    positions = [page.index(marker) for marker in ('id="charger-live-state"', 'id="charger-commands"', "Max power (W)")]
    assert positions == sorted(positions)
    assert page.index('id="charger-settings"') < page.index("Why this limit")


def test_the_live_state_says_connection_status_power_and_the_limit_with_its_reason(admin_client):
    charger = make_charger(
        password="pw-1234567890",
        phases=3,
        max_power_w=22000,
        is_connected=True,
        connected_at=T,
        connection_protocol="ocpp1.6",
        remote_address="10.0.0.5",
        status="Available",
        limit_w=11040,
        limit_source="solar",
        limit_reason="solar surplus 11 kW",
    )
    Connector.objects.create(charger=charger, connector_id=1, status="Charging", error_code="NoError", status_at=T)
    session = make_session(charger=charger, started_at=T, hours=None)
    MeterSample.objects.create(
        charger=charger,
        connector_id=1,
        session=session,
        timestamp=T,
        measurand="Power.Active.Import",
        unit="W",
        value=7123,
    )

    live = text_of(
        charger_page(admin_client, charger).split('id="charger-live-state"')[1].split('id="charger-commands"')[0]
    )

    assert "Connection: Online since 13 Jan 2026, 15:04:05 UTC over OCPP 1.6-J from 10.0.0.5." in live
    assert "Charger status: Available." in live
    assert "Connector 1: Charging since 13 Jan 2026, 15:04:05 UTC." in live
    assert f"Power: 7123 W in session {session.pk} started 13 Jan 2026, 15:04:05 UTC" in live
    assert "Limit in force: 11040 W (16.0 A on 3 phases)." in live
    assert "Set by: Solar charging" in live
    assert "Why: Solar surplus 11 kW" in live


def test_labels_are_words_with_units(admin_client):
    charger = make_charger(password="pw-1234567890")

    charger_text = text_of(charger_page(admin_client, charger))
    site_text = text_of(admin_client.get(reverse("admin:energy_site_change", args=[charger.site.pk])).content.decode())

    for label in [
        "Max power (W):",
        "Heartbeat interval (s):",
        "Minimum current (A):",
        "Password environment variable:",
    ]:
        assert label in charger_text
    for label in ["Main fuse (A):", "Fail-safe current (A):", "Meter timeout (s):", "Minimum surplus (W):"]:
        assert label in site_text
    assert not re.search(
        r"\b(Max power w|Heartbeat interval s|Min current a|Failsafe current a)\b", charger_text + site_text
    )


def test_times_in_admin_lists_and_pages_are_shown_to_the_second(admin_client):
    charger = make_charger(password="pw-1234567890", last_heartbeat_at=T)
    event = ChargerEvent.objects.create(
        charger=charger, charge_point_id=charger.charge_point_id, kind="boot", message="hi"
    )
    ChargerEvent.objects.filter(pk=event.pk).update(created_at=T)

    events = admin_client.get(reverse("admin:chargers_chargerevent_changelist")).content.decode()
    chargers = admin_client.get(reverse("admin:chargers_charger_changelist")).content.decode()
    page = charger_page(admin_client, charger)

    assert "13 Jan 2026, 15:04:05 UTC" in events
    assert "13 Jan 2026, 15:04:05 UTC" in chargers
    assert "13 Jan 2026, 15:04:05 UTC" in page  # last heartbeat, a read-only field


def test_a_charger_without_credentials_is_flagged_on_its_page_and_in_the_list(admin_client):
    site = make_site()
    open_charger = make_charger(site=site, charge_point_id="open-cp")
    with_password = make_charger(site=site, charge_point_id="locked-cp", password="pw-1234567890")
    with_variable = make_charger(site=site, charge_point_id="env-cp", password_env="ENV_CP_PASSWORD")
    changelist = reverse("admin:chargers_charger_changelist")

    open_only = admin_client.get(changelist, {"credentials": "none"}).content.decode()
    protected = admin_client.get(changelist, {"credentials": "set"}).content.decode()
    everything = admin_client.get(changelist).content.decode()

    assert "anything presenting its id may connect" in charger_page(admin_client, open_charger)
    assert 'id="charger-open-warning"' not in charger_page(admin_client, with_password)
    assert 'id="charger-open-warning"' not in charger_page(admin_client, with_variable)
    assert "open-cp" in open_only and "locked-cp" not in open_only and "env-cp" not in open_only
    assert "open-cp" not in protected and "locked-cp" in protected and "env-cp" in protected
    credentials_column = {
        cp_id: re.search(r'class="field-has_credentials"><img [^>]*alt="(\w+)"', row)[1]
        for row in everything.split("<tr")[1:]
        for cp_id in re.findall(r">([a-z]+-cp)<", row)
    }
    assert credentials_column == {"open-cp": "False", "locked-cp": "True", "env-cp": "True"}
    assert "None: open to anyone" in everything


def test_the_metering_shows_what_the_charger_reported_and_what_the_server_changed_at_its_last_boot(admin_client):
    charger = make_charger(
        password="pw-1234567890",
        probed_at=T,
        meter_sample_interval_s=900,
        meter_measurands="Energy.Active.Import.Register,SoC,Voltage",
    )
    commands = [
        (
            T - dt.timedelta(days=1),
            PROBE,
            {"key": "MeterValueSampleInterval", "value": "30"},
            "answered",
        ),  # an older boot
        (T + dt.timedelta(seconds=1), PROBE, {"key": "MeterValueSampleInterval", "value": "60"}, "answered"),
        (
            T + dt.timedelta(seconds=2),
            PROBE,
            {"key": "MeterValuesSampledData", "value": "Energy.Active.Import.Register,SoC,Voltage,Power.Active.Import"},
            "timeout",
        ),
        (T + dt.timedelta(seconds=3), "admin:installer", {"key": "HeartbeatInterval", "value": "300"}, "answered"),
    ]
    for created_at, requested_by, payload, outcome in commands:
        command = ChargerCommand.objects.create(
            charger=charger,
            action="ChangeConfiguration",
            payload=payload,
            requested_by=requested_by,
            outcome=outcome,
            response={"status": "Accepted"} if outcome == "answered" else None,
        )
        ChargerCommand.objects.filter(pk=command.pk).update(created_at=created_at)

    metering = text_of(charger_page(admin_client, charger).split('class="metering"')[1].split("</ul>")[0])

    assert "Read at 13 Jan 2026, 15:04:05 UTC: MeterValueSampleInterval every 900 s" in metering
    assert "MeterValuesSampledData Energy.Active.Import.Register, SoC, Voltage." in metering
    assert "MeterValueSampleInterval: 900 s → 60 s. The charger answered Accepted." in metering
    assert "MeterValuesSampledData: added Power.Active.Import. No answer: Timeout." in metering
    assert "30 s" not in metering and "HeartbeatInterval" not in metering
