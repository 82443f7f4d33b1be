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

# What the spec asks chargers to sample (MeterValues "configuration"): energy control reads these,
# at least this often.
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
    # OCPP 2.0.1's SmartChargingCtrlr.PeriodsPerSchedule (1.6 announces no such cap).
    max_periods_per_schedule: int | None = None
    # How many measurands MeterValuesSampledData may hold (optional key; None: no cap announced).
    meter_measurands_max_length: int | None = None


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
        max_periods_per_schedule=_int_or_none(values.get("ChargingScheduleMaxPeriods")),
        meter_measurands_max_length=_int_or_none(values.get("MeterValuesSampledDataMaxLength")),
    )


def supports_action(supported_feature_profiles: str, action: str) -> bool:
    """Unknown (never probed) means we try: the charger will answer NotSupported itself."""
    needed = FEATURE_PROFILE_OF_ACTION.get(action)
    if needed is None or not supported_feature_profiles:
        return True
    return needed in supported_feature_profiles.split(",")


def configuration_changes(profile: ChargerProfile) -> dict[str, str]:
    """ChangeConfiguration calls that give energy control what it reads, taking nothing away from
    what the charger or its installer chose (SoC, voltage, temperature stay sampled).

    - MeterValuesSampledData: the charger's own measurands first, in its order, then those of
      WANTED_MEASURANDS it lacks, in that order. Under MeterValuesSampledDataMaxLength only as
      many are appended as there is room for: the charger's own are never dropped, so a full list
      stays as it is (control then works from what the charger sends). A charger that rejects the
      change keeps its list, which is what this rule wants anyway.
    - MeterValueSampleInterval: set to WANTED_SAMPLE_INTERVAL_S only when it is absent, 0 (no
      sampling) or longer; a shorter interval chosen on the charger stays.
    """
    changes = {}
    interval_s = profile.meter_sample_interval_s
    if interval_s is None or interval_s <= 0 or interval_s > WANTED_SAMPLE_INTERVAL_S:
        changes["MeterValueSampleInterval"] = str(WANTED_SAMPLE_INTERVAL_S)
    own = [measurand for measurand in profile.meter_measurands.split(",") if measurand]
    missing = [measurand for measurand in WANTED_MEASURANDS if measurand not in own]
    if profile.meter_measurands_max_length is not None:
        missing = missing[: max(profile.meter_measurands_max_length - len(own), 0)]
    if missing:
        changes["MeterValuesSampledData"] = ",".join(own + missing)
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
