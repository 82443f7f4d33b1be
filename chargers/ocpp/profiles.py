"""What a charger can do, read from its GetConfiguration answer. Plain data in, data out."""

from dataclasses import dataclass

# OCPP 1.6 feature profile each central-system action belongs to (Core needs no check).
FEATURE_PROFILE_OF_ACTION = {
    "SetChargingProfile": "SmartCharging",
    "ClearChargingProfile": "SmartCharging",
    "GetCompositeSchedule": "SmartCharging",
    "UpdateFirmware": "FirmwareManagement",
    "GetDiagnostics": "FirmwareManagement",
    "TriggerMessage": "RemoteTrigger",
    "ReserveNow": "Reservation",
    "CancelReservation": "Reservation",
    "SendLocalList": "LocalAuthListManagement",
    "GetLocalListVersion": "LocalAuthListManagement",
}

# What the spec asks chargers to sample (MeterValues "configuration").
WANTED_SAMPLE_INTERVAL_S = 60
WANTED_MEASURANDS = ("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import")


@dataclass(frozen=True)
class ChargerProfile:
    supported_feature_profiles: str = ""
    charging_rate_units: str = ""
    max_stack_level: int | None = None
    max_charging_profiles: int | None = None
    meter_sample_interval_s: int | None = None
    meter_measurands: str = ""
    number_of_connectors: int | None = None


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _csv(value: str | None) -> str:
    return ",".join(part.strip() for part in (value or "").split(",") if part.strip())


def profile_from_configuration(configuration_keys: list[dict]) -> ChargerProfile:
    """Read the keys that matter for control from GetConfiguration's configurationKey list."""
    values = {item.get("key"): item.get("value") for item in configuration_keys}
    return ChargerProfile(
        supported_feature_profiles=_csv(values.get("SupportedFeatureProfiles")),
        charging_rate_units=_csv(values.get("ChargingScheduleAllowedChargingRateUnit")),
        max_stack_level=_int_or_none(values.get("ChargeProfileMaxStackLevel")),
        max_charging_profiles=_int_or_none(values.get("MaxChargingProfilesInstalled")),
        meter_sample_interval_s=_int_or_none(values.get("MeterValueSampleInterval")),
        meter_measurands=_csv(values.get("MeterValuesSampledData")),
        number_of_connectors=_int_or_none(values.get("NumberOfConnectors")),
    )


def supports_action(supported_feature_profiles: str, action: str) -> bool:
    """Unknown (never probed) means we try: the charger will answer NotSupported itself."""
    needed = FEATURE_PROFILE_OF_ACTION.get(action)
    if needed is None or not supported_feature_profiles:
        return True
    return needed in supported_feature_profiles.split(",")


def configuration_changes(profile: ChargerProfile) -> dict[str, str]:
    """ChangeConfiguration calls that bring metering to what the spec asks for."""
    changes = {}
    if profile.meter_sample_interval_s != WANTED_SAMPLE_INTERVAL_S:
        changes["MeterValueSampleInterval"] = str(WANTED_SAMPLE_INTERVAL_S)
    if set(profile.meter_measurands.split(",")) != set(WANTED_MEASURANDS):
        changes["MeterValuesSampledData"] = ",".join(WANTED_MEASURANDS)
    return changes


def limit_in_charger_unit(
    *, limit_w: float, phases: int, rate_unit: str, voltage_v: float = 230.0
) -> tuple[str, float]:
    """A power limit in the unit the charger accepts. Below 6 A a car cannot charge (IEC 61851),
    so such a limit becomes 0: pause, not a trickle."""
    amps = limit_w / (voltage_v * phases)
    if amps < 6:
        return rate_unit, 0.0
    if rate_unit == "W":
        return "W", float(round(limit_w))
    return "A", float(int(amps * 10) / 10)  # one decimal, rounded down: never above the limit
