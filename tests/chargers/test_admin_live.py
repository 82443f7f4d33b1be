"""The sentences of the admin charger page's live state and metering: data in, text out."""

import datetime as dt

import pytest

from chargers.admin_live import (
    ConfigurationChange,
    ConnectorReport,
    RunningSession,
    at,
    connection_text,
    connector_row,
    limit_text,
    manual_limit_text,
    metering_lines,
    power_text,
)

T = dt.datetime(2026, 1, 13, 15, 4, 5, tzinfo=dt.UTC)
LATER = T + dt.timedelta(minutes=2, seconds=7)


def test_times_are_shown_to_the_second_with_their_zone():
    assert at(T) == "13 Jan 2026, 15:04:05 UTC"


CONNECTIONS = [
    (
        {
            "connected": True,
            "connected_at": T,
            "last_seen_at": LATER,
            "protocol": "OCPP 1.6-J",
            "remote_address": "10.0.0.5",
        },
        "Online since 13 Jan 2026, 15:04:05 UTC over OCPP 1.6-J from 10.0.0.5. Last message 13 Jan 2026, 15:06:12 UTC.",
    ),
    ({"connected": True}, "Online."),
    ({"connected": False, "disconnected_at": LATER}, "Offline since 13 Jan 2026, 15:06:12 UTC."),
    ({"connected": False}, "Never connected: the charger has not called in yet."),
]


@pytest.mark.parametrize(("given", "sentence"), CONNECTIONS)
def test_the_connection_reads_as_a_sentence(given, sentence):
    fields = {"connected_at": None, "disconnected_at": None, "last_seen_at": None, "protocol": "", "remote_address": ""}

    assert connection_text(**{**fields, **given}) == sentence


CONNECTORS = [
    (ConnectorReport(1, "Charging", "NoError", status_at=T), "Charging since 13 Jan 2026, 15:04:05 UTC.", False),
    (
        ConnectorReport(2, "Faulted", "GroundFailure", info="RCD tripped", vendor_error_code="E42"),
        "Faulted, error GroundFailure (RCD tripped, vendor code E42).",
        True,
    ),
    (ConnectorReport(1, "", "", status_at=T), "Not reported yet.", False),
]


@pytest.mark.parametrize(("connector", "sentence", "warning"), CONNECTORS)
def test_a_connector_row_says_its_status_and_flags_a_fault(connector, sentence, warning):
    row = connector_row(connector)

    assert (row.label, row.text, row.warning) == (f"Connector {connector.connector_id}", sentence, warning)


SESSION = RunningSession(transaction_id=42, started_at=T, power_w=7123, energy_wh=3204)
POWER = [
    (True, None, "No session running."),
    (False, None, "No session running; the charger is offline."),
    (True, SESSION, "7123 W in session 42 started 13 Jan 2026, 15:04:05 UTC, 3.20 kWh so far."),
    (
        True,
        RunningSession(transaction_id=7, started_at=T, power_w=None, energy_wh=None),
        "No power reported yet in session 7 started 13 Jan 2026, 15:04:05 UTC.",
    ),
    (
        False,
        SESSION,
        "Offline; last known: 7123 W in session 42 started 13 Jan 2026, 15:04:05 UTC, 3.20 kWh so far.",
    ),
]


@pytest.mark.parametrize(("connected", "session", "sentence"), POWER)
def test_power_says_what_the_running_session_draws(connected, session, sentence):
    assert power_text(connected=connected, session=session) == sentence


LIMITS = [
    (7360, 1, "7360 W (32.0 A on 1 phase)."),
    (11040, 3, "11040 W (16.0 A on 3 phases)."),
    (0, 3, "0 W: paused."),
]


@pytest.mark.parametrize(("limit_w", "phases", "sentence"), LIMITS)
def test_the_limit_in_force_says_its_current_per_phase(limit_w, phases, sentence):
    assert limit_text(limit_w=limit_w, phases=phases) == sentence


def test_a_manual_limit_says_until_when_and_why():
    assert manual_limit_text(limit_w=None, reason="", expires_at=None) is None
    assert manual_limit_text(limit_w=4000, reason="", expires_at=None) == "4000 W with no end."
    assert (
        manual_limit_text(limit_w=4000, reason="guests charging", expires_at=LATER)
        == "4000 W until 13 Jan 2026, 15:06:12 UTC: guests charging."
    )


CHARGER_OWN = "Energy.Active.Import.Register,SoC,Voltage"
METERING = [
    (
        "never probed",
        {"probed_at": None, "sample_interval_s": None, "measurands": "", "changes": []},
        ["Not read yet: the server reads the charger's configuration each time it boots."],
    ),
    (
        "the server added what control reads and kept the rest",
        {
            "probed_at": T,
            "sample_interval_s": 900,
            "measurands": CHARGER_OWN,
            "changes": [
                ConfigurationChange("MeterValueSampleInterval", "60", "Accepted"),
                ConfigurationChange(
                    "MeterValuesSampledData", f"{CHARGER_OWN},Power.Active.Import,Current.Import", "Rejected"
                ),
            ],
        },
        [
            "Read at 13 Jan 2026, 15:04:05 UTC: MeterValueSampleInterval every 900 s; "
            "MeterValuesSampledData Energy.Active.Import.Register, SoC, Voltage.",
            "Changed by the server: MeterValueSampleInterval: 900 s → 60 s. The charger answered Accepted.",
            "Changed by the server: MeterValuesSampledData: added Power.Active.Import, Current.Import. "
            "The charger answered Rejected.",
        ],
    ),
    (
        "a narrowed list says what was removed",
        {
            "probed_at": T,
            "sample_interval_s": None,
            "measurands": CHARGER_OWN,
            "changes": [
                ConfigurationChange("MeterValuesSampledData", "Energy.Active.Import.Register", failure="Timeout")
            ],
        },
        [
            "Read at 13 Jan 2026, 15:04:05 UTC: MeterValueSampleInterval not reported; "
            "MeterValuesSampledData Energy.Active.Import.Register, SoC, Voltage.",
            "Changed by the server: MeterValuesSampledData: removed SoC, Voltage. No answer: Timeout.",
        ],
    ),
    (
        "a charger that samples nothing periodically",
        {
            "probed_at": T,
            "sample_interval_s": 0,
            "measurands": "Energy.Active.Import.Register",
            "changes": [ConfigurationChange("MeterValueSampleInterval", "60", "Accepted")],
        },
        [
            "Read at 13 Jan 2026, 15:04:05 UTC: MeterValueSampleInterval 0 s (no periodic samples); "
            "MeterValuesSampledData Energy.Active.Import.Register.",
            "Changed by the server: MeterValueSampleInterval: 0 s → 60 s. The charger answered Accepted.",
        ],
    ),
    (
        "nothing to change",
        {"probed_at": T, "sample_interval_s": 30, "measurands": "", "changes": []},
        [
            "Read at 13 Jan 2026, 15:04:05 UTC: MeterValueSampleInterval every 30 s; "
            "MeterValuesSampledData not reported.",
            "The server changed nothing.",
        ],
    ),
]


@pytest.mark.parametrize(("case", "given", "lines"), METERING, ids=[case for case, *_ in METERING])
def test_metering_says_what_the_charger_reported_and_what_the_server_changed(case, given, lines):
    assert metering_lines(**given) == lines
