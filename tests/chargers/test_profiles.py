"""The compatibility profile and limit conversion: plain data, no database."""

import datetime as dt

import pytest

from chargers.models import Charger
from chargers.profiles import (
    ChargerProfile,
    configuration_changes,
    limit_in_charger_unit,
    profile_from_configuration,
    supports_action,
)
from chargers.protocols.ocpp16 import limit_set


def test_the_profile_is_read_from_the_configuration_keys():
    keys = [
        {"key": "SupportedFeatureProfiles", "value": "Core, SmartCharging ,RemoteTrigger"},
        {"key": "ChargingScheduleAllowedChargingRateUnit", "value": "Current"},
        {"key": "ChargeProfileMaxStackLevel", "value": "3"},
        {"key": "MaxChargingProfilesInstalled", "value": "not a number"},
        {"key": "NumberOfConnectors", "value": "2"},
        {"key": "SomethingVendorSpecific", "value": "x"},
    ]
    assert profile_from_configuration(keys) == ChargerProfile(
        supported_feature_profiles="Core,SmartCharging,RemoteTrigger",
        charging_rate_units="Current",
        max_stack_level=3,
        max_charging_profiles=None,
        number_of_connectors=2,
    )


@pytest.mark.parametrize(
    ("profiles", "action", "supported"),
    [
        ("Core,SmartCharging", "SetChargingProfile", True),
        ("Core", "SetChargingProfile", False),
        ("Core", "GetCompositeSchedule", False),
        ("Core", "Reset", True),
        ("Core", "UpdateFirmware", False),
        ("Core,FirmwareManagement", "GetDiagnostics", True),
        ("Core", "TriggerMessage", False),
        ("", "SetChargingProfile", True),  # never probed: try, the charger will say
    ],
)
def test_actions_need_their_feature_profile(profiles, action, supported):
    assert supports_action(profiles, action) is supported


ENERGY = "Energy.Active.Import.Register"
WANTED = "Energy.Active.Import.Register,Power.Active.Import,Current.Import"


@pytest.mark.parametrize(
    ("interval", "measurands", "max_length", "changes"),
    [
        # Already what control reads, every 60 s: nothing to send, whatever the order.
        (60, WANTED, None, {}),
        (60, "Current.Import,Energy.Active.Import.Register,Power.Active.Import", None, {}),
        # Too slow, or not sampling at all: the interval comes down to 60 s.
        (900, WANTED, None, {"MeterValueSampleInterval": "60"}),
        (0, WANTED, None, {"MeterValueSampleInterval": "60"}),
        (None, "", None, {"MeterValueSampleInterval": "60", "MeterValuesSampledData": WANTED}),
        # A shorter interval the installer chose stays.
        (30, WANTED, None, {}),
        (10, ENERGY, None, {"MeterValuesSampledData": WANTED}),
        # The charger's own measurands stay, in its order; what control needs is appended.
        (
            30,
            "Energy.Active.Import.Register,SoC,Voltage,Temperature",
            None,
            {
                "MeterValuesSampledData": "Energy.Active.Import.Register,SoC,Voltage,Temperature,"
                "Power.Active.Import,Current.Import"
            },
        ),
        (
            60,
            "SoC,Power.Active.Import",
            None,
            {"MeterValuesSampledData": "SoC,Power.Active.Import,Energy.Active.Import.Register,Current.Import"},
        ),
        (60, "Power.Active.Import,Voltage,Current.Import,Energy.Active.Import.Register,SoC", None, {}),
        # A capped list keeps the charger's own first and fills the room left, energy first.
        (
            60,
            "SoC,Voltage",
            4,
            {"MeterValuesSampledData": "SoC,Voltage,Energy.Active.Import.Register,Power.Active.Import"},
        ),
        (60, "SoC,Voltage", 3, {"MeterValuesSampledData": "SoC,Voltage,Energy.Active.Import.Register"}),
        (60, "SoC,Voltage,Temperature", 3, {}),
        (
            60,
            "SoC",
            5,
            {"MeterValuesSampledData": "SoC,Energy.Active.Import.Register,Power.Active.Import,Current.Import"},
        ),
        (900, "SoC,Voltage,Temperature,Current.Offered", 3, {"MeterValueSampleInterval": "60"}),
    ],
)
def test_metering_adds_what_control_needs_and_never_removes_what_the_charger_chose(
    interval, measurands, max_length, changes
):
    profile = ChargerProfile(
        meter_sample_interval_s=interval, meter_measurands=measurands, meter_measurands_max_length=max_length
    )
    assert configuration_changes(profile) == changes


def test_the_measurand_cap_is_read_from_the_configuration_keys():
    keys = [
        {"key": "MeterValueSampleInterval", "value": "30"},
        {"key": "MeterValuesSampledData", "value": "Energy.Active.Import.Register, SoC"},
        {"key": "MeterValuesSampledDataMaxLength", "value": "4"},
    ]
    assert profile_from_configuration(keys) == ChargerProfile(
        meter_sample_interval_s=30,
        meter_measurands="Energy.Active.Import.Register,SoC",
        meter_measurands_max_length=4,
    )


@pytest.mark.parametrize(
    ("limit_w", "phases", "unit", "expected"),
    [
        (7400, 1, "A", ("A", 32.1)),
        (3000, 1, "A", ("A", 13.0)),
        (1380, 1, "A", ("A", 6.0)),
        (1379, 1, "A", ("A", 0.0)),  # below 6 A: pause, not a trickle
        (4140, 3, "A", ("A", 6.0)),
        (4139, 3, "A", ("A", 0.0)),
        (11000, 3, "W", ("W", 11000.0)),
        (1000, 1, "W", ("W", 0.0)),
        (0, 1, "A", ("A", 0.0)),
    ],
)
def test_limits_convert_to_amps_with_the_6_amp_minimum(limit_w, phases, unit, expected):
    assert limit_in_charger_unit(limit_w=limit_w, phases=phases, rate_unit=unit) == expected


@pytest.mark.parametrize(
    ("max_stack_level", "override", "purpose", "expected"),
    [
        (None, None, "TxProfile", 2),
        (8, None, "TxProfile", 2),
        (1, None, "TxProfile", 1),
        (1, None, "TxDefaultProfile", 1),
        (1, None, "ChargePointMaxProfile", 0),
        (8, 0, "TxProfile", 0),
    ],
)
def test_stack_levels_never_exceed_what_the_charger_accepts(max_stack_level, override, purpose, expected):
    charger = Charger(phases=1, max_stack_level=max_stack_level, max_stack_level_override=override)
    profile = limit_set(
        charger=charger, purpose=purpose, limit_w=3000, now=dt.datetime(2026, 1, 13, 10, tzinfo=dt.UTC)
    ).payload["csChargingProfiles"]
    assert profile["stackLevel"] == expected
    assert profile["chargingSchedule"]["startSchedule"] == "2026-01-13T10:00:00Z"


@pytest.mark.parametrize(
    ("probed", "override", "unit"),
    [("", "", "A"), ("Current", "", "A"), ("Power", "", "W"), ("Current,Power", "", "A"), ("Current", "W", "W")],
)
def test_the_limit_unit_follows_the_probe_unless_the_installer_overrides_it(probed, override, unit):
    assert Charger(charging_rate_units=probed, rate_unit_override=override).limit_rate_unit == unit
