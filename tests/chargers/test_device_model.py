"""An OCPP 2.0.1 station's device model read into the compatibility profile, whether a boot reads
it, and what SetVariables the server sends: plain data, no database."""

import datetime as dt

import pytest

from chargers.device_model import (
    BootStep,
    VariableChange,
    VariableRow,
    boot_step,
    given_up,
    profile_from_device_model,
    read_requested,
    rows_from_report,
    summary,
    variable_changes,
)
from chargers.profiles import ChargerProfile

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


def row(component: str, variable: str, value: str, **fields) -> VariableRow:
    return VariableRow(component=component, variable=variable, value=value, **fields)


def smart(variable: str, value: str, **fields) -> VariableRow:
    return row("SmartChargingCtrlr", variable, value, mutability="ReadOnly", **fields)


def sampled(variable: str, value: str, **fields) -> VariableRow:
    return row("SampledDataCtrlr", variable, value, **fields)


def test_a_report_item_becomes_one_row_per_attribute_with_the_specs_defaults():
    report_data = [
        {
            "component": {"name": "Connector", "evse": {"id": 2, "connector_id": 1}},
            "variable": {"name": "ConnectorType"},
            "variable_attribute": [{"value": "cType2", "mutability": "ReadOnly", "persistent": True}],
            "variable_characteristics": {"data_type": "string", "supports_monitoring": False},
        },
        {
            "component": {"name": "SmartChargingCtrlr"},
            "variable": {"name": "Entries", "instance": "ChargingProfiles"},
            "variable_attribute": [{"value": "24"}, {"type": "MaxSet", "value": "48"}],
            "variable_characteristics": {"data_type": "integer", "unit": "n", "supports_monitoring": False},
        },
        {
            "component": {"name": "SecurityCtrlr"},
            "variable": {"name": "BasicAuthPassword"},
            "variable_attribute": [{"mutability": "WriteOnly"}],
        },
    ]
    assert rows_from_report(report_data) == [
        VariableRow(
            component="Connector",
            variable="ConnectorType",
            value="cType2",
            evse_id=2,
            connector_id=1,
            mutability="ReadOnly",
            persistent=True,
            data_type="string",
        ),
        VariableRow(
            component="SmartChargingCtrlr",
            variable="Entries",
            value="24",
            variable_instance="ChargingProfiles",
            data_type="integer",
            unit="n",
        ),
        VariableRow(
            component="SmartChargingCtrlr",
            variable="Entries",
            value="48",
            variable_instance="ChargingProfiles",
            attribute_type="MaxSet",
            data_type="integer",
            unit="n",
        ),
        VariableRow(component="SecurityCtrlr", variable="BasicAuthPassword", mutability="WriteOnly"),
    ]


def test_the_profile_is_read_from_the_controllers_variables():
    rows = [
        smart("RateUnit", "A,W"),
        smart("ProfileStackLevel", "8"),
        smart("Entries", "24", variable_instance="ChargingProfiles"),
        smart("Entries", "99", variable_instance="SomethingElse"),
        smart("Entries", "7", attribute_type="MaxSet", variable_instance="ChargingProfiles"),
        smart("PeriodsPerSchedule", "24"),
        smart("Phases3to1", "true"),
        sampled("TxUpdatedMeasurands", " Energy.Active.Import.Register , SoC"),
        sampled("TxUpdatedInterval", "300"),
        row("EVSE", "Power", "22080", evse_id=1),
        row("EVSE", "Power", "11040", evse_id=2),
        row("Connector", "ConnectorType", "cType2", evse_id=1, connector_id=1),
        row("Connector", "ConnectorType", "sType2", evse_id=1, connector_id=2),
        row("Connector", "ConnectorType", "cType2", evse_id=2, connector_id=1),
        row("Connector", "AvailabilityState", "Available", evse_id=2, connector_id=1),
    ]
    assert profile_from_device_model(rows) == ChargerProfile(
        charging_rate_units="Current,Power",
        max_stack_level=8,
        max_charging_profiles=24,
        max_periods_per_schedule=24,
        meter_sample_interval_s=300,
        meter_measurands="Energy.Active.Import.Register,SoC",
        number_of_connectors=3,
    )


@pytest.mark.parametrize(
    ("rate_unit", "words"),
    [("A", "Current"), ("W", "Power"), ("W,A", "Power,Current"), ("A, A", "Current"), ("VA", ""), ("", "")],
)
def test_rate_units_are_kept_in_the_words_limits_are_sent_by(rate_unit, words):
    assert profile_from_device_model([smart("RateUnit", rate_unit)]).charging_rate_units == words


@pytest.mark.parametrize("value", ["-1", "32768", "eight", "", "1e3"])
def test_a_number_no_column_holds_is_not_kept(value):
    profile = profile_from_device_model([smart("ProfileStackLevel", value), smart("PeriodsPerSchedule", value)])
    assert (profile.max_stack_level, profile.max_periods_per_schedule) == (None, None)


def test_an_evse_or_a_connector_variable_is_not_the_stations():
    rows = [smart("ProfileStackLevel", "3", evse_id=1), smart("ProfileStackLevel", "5", component_instance="x")]
    assert profile_from_device_model(rows).max_stack_level is None


def test_evses_count_when_no_connector_is_reported():
    rows = [row("EVSE", "Power", "1", evse_id=1), row("EVSE", "Available", "true", evse_id=2)]
    assert profile_from_device_model(rows).number_of_connectors == 2
    assert profile_from_device_model([smart("RateUnit", "A")]).number_of_connectors is None


def test_measurands_beyond_the_column_are_cut_at_a_whole_measurand():
    many = ",".join(f"Vendor.Measurand.{i:03d}" for i in range(40))
    kept = profile_from_device_model([sampled("TxUpdatedMeasurands", many)]).meter_measurands
    assert len(kept) <= 300
    assert many.startswith(kept + ",")


def test_the_summary_names_the_firmware_the_answer_and_what_matters():
    rows = [smart("RateUnit", "W"), smart("Entries", "24", variable_instance="ChargingProfiles"), sampled("X", "y")]
    assert summary(rows, firmware_version="1.2", base_report="Accepted") == {
        "firmwareVersion": "1.2",
        "baseReport": "Accepted",
        "variables": 3,
        "SmartChargingCtrlr.RateUnit": "W",
        "SmartChargingCtrlr.Entries[ChargingProfiles]": "24",
    }


ASKED_5_S_AGO = {"requested": {"firmwareVersion": "1.2", "at": (NOW - dt.timedelta(seconds=5)).isoformat()}}
ASKED_LONG_AGO = {"requested": {"firmwareVersion": "1.2", "at": (NOW - dt.timedelta(seconds=61)).isoformat()}}


@pytest.mark.parametrize(
    ("configuration", "step"),
    [
        (None, BootStep.READ),  # never read
        ([{"key": "NumberOfConnectors", "value": "1"}], BootStep.READ),  # a 1.6 charger updated to 2.0.1
        ({"firmwareVersion": "1.2", "baseReport": "Accepted"}, BootStep.ACCEPT),
        ({"firmwareVersion": "1.1", "baseReport": "Accepted"}, BootStep.READ),  # new firmware
        (given_up(firmware_version="1.2", reason="GetBaseReport answered NotSupported"), BootStep.ACCEPT),
        ({"firmwareVersion": "1.1", "baseReport": "Accepted", **ASKED_5_S_AGO}, BootStep.READ),  # report awaited
        ({"firmwareVersion": "1.1", "baseReport": "Accepted", **ASKED_LONG_AGO}, BootStep.GIVE_UP),
        ({"requested": {"firmwareVersion": "1.1", "at": ASKED_LONG_AGO["requested"]["at"]}}, BootStep.READ),
        ({"requested": {"firmwareVersion": "1.2", "at": "not a time"}}, BootStep.GIVE_UP),
    ],
)
def test_a_boot_reads_the_model_of_new_firmware_and_never_waits_for_ever(configuration, step):
    assert boot_step(configuration=configuration, firmware_version="1.2", now=NOW, wait_s=60) == step


def test_the_first_ask_for_a_firmware_is_remembered_across_boots():
    first = read_requested({"firmwareVersion": "1.1", "baseReport": "Accepted"}, firmware_version="1.2", now=NOW)
    assert first["requested"] == {"firmwareVersion": "1.2", "at": NOW.isoformat()}
    later = read_requested(first, firmware_version="1.2", now=NOW + dt.timedelta(seconds=30))
    assert later["requested"] == first["requested"]
    assert read_requested(None, firmware_version="", now=NOW) == {
        "requested": {"firmwareVersion": "", "at": NOW.isoformat()}
    }


INTERVAL, MEASURANDS = "TxUpdatedInterval", "TxUpdatedMeasurands"
WANTED = "Energy.Active.Import.Register,Power.Active.Import,Current.Import"


def changes(*rows: VariableRow) -> dict[str, str]:
    found = variable_changes(list(rows))
    assert all(c.component == "SampledDataCtrlr" for c in found)
    return {c.variable: c.value for c in found}


@pytest.mark.parametrize(
    ("interval", "wanted"),
    [("300", "60"), ("0", "60"), ("61", "60"), ("60", None), ("10", None), ("soon", "60")],
)
def test_the_sample_interval_is_set_only_when_absent_zero_or_longer(interval, wanted):
    assert changes(sampled(INTERVAL, interval), sampled(MEASURANDS, WANTED)).get(INTERVAL) == wanted


def test_what_the_station_samples_is_added_to_never_narrowed():
    assert changes(sampled(INTERVAL, "60"), sampled(MEASURANDS, "SoC,Energy.Active.Import.Register")) == {
        MEASURANDS: "SoC,Energy.Active.Import.Register,Power.Active.Import,Current.Import"
    }


def test_only_measurands_the_station_lists_as_possible_are_appended():
    own = sampled(MEASURANDS, "Voltage", values_list="Voltage,Energy.Active.Import.Register,Current.Import")
    assert changes(sampled(INTERVAL, "60"), own) == {MEASURANDS: "Voltage,Energy.Active.Import.Register,Current.Import"}


def test_the_list_stays_within_the_longest_value_the_station_takes():
    size = row("DeviceDataCtrlr", "ConfigurationValueSize", "60", mutability="ReadOnly")
    appended = changes(sampled(INTERVAL, "60"), sampled(MEASURANDS, "SoC"), size)[MEASURANDS]
    assert appended == "SoC,Energy.Active.Import.Register,Power.Active.Import"
    full = row("DeviceDataCtrlr", "ConfigurationValueSize", "3", mutability="ReadOnly")
    assert changes(sampled(INTERVAL, "60"), sampled(MEASURANDS, "SoC"), full) == {}


@pytest.mark.parametrize("mutability", ["ReadOnly", "WriteOnly"])
def test_a_variable_the_server_may_not_or_cannot_read_is_left_alone(mutability):
    assert (
        changes(sampled(INTERVAL, "300", mutability=mutability), sampled(MEASURANDS, "", mutability=mutability)) == {}
    )


def test_a_station_that_reports_neither_variable_is_asked_for_both():
    assert variable_changes([smart("RateUnit", "A")]) == [
        VariableChange("SampledDataCtrlr", "TxUpdatedInterval", "60"),
        VariableChange("SampledDataCtrlr", "TxUpdatedMeasurands", WANTED),
    ]
