"""An OCPP 2.0.1 station's device model (OCPP 2.0.1 part 1 and part 2, B06/B07): the rows its
NotifyReport tells, whether a boot must read it first, the compatibility profile read from it
(what 1.6's GetConfiguration gives, chargers/profiles.py) and the SetVariables that give energy
control what it reads. Plain data in, data out."""

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from chargers.profiles import WANTED_MEASURANDS, WANTED_SAMPLE_INTERVAL_S, ChargerProfile

# The profile keeps 1.6's words for rate units (Charger.limit_rate_unit reads them); 2.0.1's
# SmartChargingCtrlr.RateUnit is a member list of A and W.
RATE_UNIT_WORDS = {"A": "Current", "W": "Power"}
# The columns the profile's numbers go into (PositiveSmallIntegerField, PositiveIntegerField):
# a value beyond them is no station's and is not kept.
SMALL_MAX = 32767
INT_MAX = 2**31 - 1
MEASURANDS_MAX_CHARS = 300  # Charger.meter_measurands

SMART_CHARGING = "SmartChargingCtrlr"
SAMPLED_DATA = "SampledDataCtrlr"
TX_CTRLR = "TxCtrlr"
DEVICE_DATA = "DeviceDataCtrlr"
INTERVAL = (SAMPLED_DATA, "TxUpdatedInterval", "")
MEASURANDS = (SAMPLED_DATA, "TxUpdatedMeasurands", "")
# What the installer reads in the admin's summary (component, variable, variable instance).
SUMMARY_VARIABLES = (
    (SMART_CHARGING, "RateUnit", ""),
    (SMART_CHARGING, "ProfileStackLevel", ""),
    (SMART_CHARGING, "Entries", "ChargingProfiles"),
    (SMART_CHARGING, "PeriodsPerSchedule", ""),
    (SMART_CHARGING, "Phases3to1", ""),
    INTERVAL,
    MEASURANDS,
    (TX_CTRLR, "TxStartPoint", ""),
    (TX_CTRLR, "TxStopPoint", ""),
    ("SecurityCtrlr", "SecurityProfile", ""),
)


@dataclass(frozen=True)
class VariableRow:
    """One attribute of one variable (a chargers.models.DeviceVariable without its charger)."""

    component: str
    variable: str
    value: str = ""
    component_instance: str = ""
    evse_id: int = 0
    connector_id: int = 0
    variable_instance: str = ""
    attribute_type: str = "Actual"
    mutability: str = "ReadWrite"
    persistent: bool = False
    constant: bool = False
    data_type: str = ""
    unit: str = ""
    values_list: str = ""

    @property
    def key(self) -> tuple:
        """What names the attribute (the table's unique constraint): a report's last word wins."""
        return (
            self.component,
            self.component_instance,
            self.evse_id,
            self.connector_id,
            self.variable,
            self.variable_instance,
            self.attribute_type,
        )

    @property
    def name(self) -> str:
        """Component.Variable, with instances and EVSE as the installer reads them."""
        component = self.component + (f"[{self.component_instance}]" if self.component_instance else "")
        if self.evse_id:
            component += f"@EVSE{self.evse_id}" + (f"/{self.connector_id}" if self.connector_id else "")
        variable = self.variable + (f"[{self.variable_instance}]" if self.variable_instance else "")
        return f"{component}.{variable}"


def rows_from_report(report_data: list[dict]) -> list[VariableRow]:
    """NotifyReport's reportData (keys in snake_case, as handlers get them): one row per
    variable attribute, absent fields as the spec defaults them (Actual, ReadWrite)."""
    rows = []
    for item in report_data:
        component, variable = item["component"], item["variable"]
        evse = component.get("evse") or {}
        characteristics = item.get("variable_characteristics") or {}
        for attribute in item["variable_attribute"]:
            rows.append(
                VariableRow(
                    component=component["name"],
                    component_instance=component.get("instance", ""),
                    evse_id=evse.get("id", 0),
                    connector_id=evse.get("connector_id", 0),
                    variable=variable["name"],
                    variable_instance=variable.get("instance", ""),
                    attribute_type=attribute.get("type", "Actual"),
                    value=attribute.get("value", ""),
                    mutability=attribute.get("mutability", "ReadWrite"),
                    persistent=attribute.get("persistent", False),
                    constant=attribute.get("constant", False),
                    data_type=characteristics.get("data_type", ""),
                    unit=characteristics.get("unit", ""),
                    values_list=characteristics.get("values_list", ""),
                )
            )
    return rows


def actual(rows: list[VariableRow], component: str, variable: str, instance: str = "") -> VariableRow | None:
    """A station-wide controller's variable (no component instance, no EVSE): its Actual attribute."""
    for row in rows:
        if (
            (row.component, row.variable, row.variable_instance, row.attribute_type)
            == (component, variable, instance, "Actual")
            and not row.component_instance
            and not row.evse_id
        ):
            return row
    return None


def _value(rows: list[VariableRow], component: str, variable: str, instance: str = "") -> str | None:
    row = actual(rows, component, variable, instance)
    return None if row is None else row.value


def _members(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _bounded(value: str | None, maximum: int) -> int | None:
    """An integer the station reported, if it fits its column."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 <= number <= maximum else None


def _measurands(value: str | None) -> str:
    """The sampled measurands, whole ones only, as many as the column holds."""
    kept: list[str] = []
    for measurand in _members(value):
        if len(",".join([*kept, measurand])) > MEASURANDS_MAX_CHARS:
            break
        kept.append(measurand)
    return ",".join(kept)


def number_of_connectors(rows: list[VariableRow]) -> int | None:
    """Connector components (one per EVSE and connector), else EVSE components; None if neither."""
    connectors = {(r.evse_id, r.connector_id) for r in rows if r.component == "Connector" and r.evse_id}
    evses = {r.evse_id for r in rows if r.component == "EVSE" and r.evse_id}
    count = len(connectors) or len(evses)
    return min(count, SMALL_MAX) if count else None


def profile_from_device_model(rows: list[VariableRow]) -> ChargerProfile:
    """The compatibility profile 1.6 reads from GetConfiguration, from 2.0.1's variables."""
    units = [
        RATE_UNIT_WORDS[unit] for unit in _members(_value(rows, SMART_CHARGING, "RateUnit")) if unit in RATE_UNIT_WORDS
    ]
    return ChargerProfile(
        charging_rate_units=",".join(dict.fromkeys(units)),
        max_stack_level=_bounded(_value(rows, SMART_CHARGING, "ProfileStackLevel"), SMALL_MAX),
        max_charging_profiles=_bounded(_value(rows, SMART_CHARGING, "Entries", "ChargingProfiles"), SMALL_MAX),
        max_periods_per_schedule=_bounded(_value(rows, SMART_CHARGING, "PeriodsPerSchedule"), SMALL_MAX),
        meter_sample_interval_s=_bounded(_value(rows, *INTERVAL), INT_MAX),
        meter_measurands=_measurands(_value(rows, *MEASURANDS)),
        number_of_connectors=number_of_connectors(rows),
    )


def summary(rows: list[VariableRow], *, firmware_version: str, base_report: str) -> dict:
    """Charger.configuration of a 2.0.1 station: for which firmware the model was read, how the
    station answered GetBaseReport, and the variables that matter, by name."""
    read = {}
    for component, variable, instance in SUMMARY_VARIABLES:
        row = actual(rows, component, variable, instance)
        if row is not None:
            read[row.name] = row.value
    return {"firmwareVersion": firmware_version, "baseReport": base_report, "variables": len(rows), **read}


class BootStep(StrEnum):
    """What an accepted 2.0.1 station's boot needs (OCPP 2.0.1 B02: Pending while the CSMS
    reads what it needs, then Accepted)."""

    ACCEPT = "accept"  # the model of this firmware is known (or could not be read)
    READ = "read"  # answer Pending and read it
    GIVE_UP = "give up"  # asked long enough ago: accept without it, never locked out in Pending


def phases_3to1(configuration) -> bool | None:
    """What the station's device model says of SmartChargingCtrlr.Phases3to1 (the summary kept
    in Charger.configuration; a 1.6 charger's GetConfiguration list says nothing)."""
    said = str(configuration.get(f"{SMART_CHARGING}.Phases3to1", "")).lower() if isinstance(configuration, dict) else ""
    return {"true": True, "false": False}.get(said)


def boot_step(*, configuration, firmware_version: str, now: dt.datetime, wait_s: float) -> BootStep:
    """Read at the first boot and after a firmware change; a station that never completes its
    report is accepted once wait_s have passed since it was first asked, across reconnects.
    A 1.6 configuration (a list) is no 2.0.1 model: a station updated to 2.0.1 is read."""
    known = configuration if isinstance(configuration, dict) else {}
    if "baseReport" in known and known.get("firmwareVersion") == firmware_version:
        return BootStep.ACCEPT
    requested = known.get("requested") or {}
    if requested.get("firmwareVersion") == firmware_version:
        try:
            asked_at = dt.datetime.fromisoformat(requested["at"])
        except (KeyError, TypeError, ValueError):
            return BootStep.GIVE_UP
        if (now - asked_at).total_seconds() >= wait_s:
            return BootStep.GIVE_UP
    return BootStep.READ


def read_requested(configuration, *, firmware_version: str, now: dt.datetime) -> dict:
    """The configuration once the station is asked: when it was first asked for this firmware."""
    known = dict(configuration) if isinstance(configuration, dict) else {}
    if (known.get("requested") or {}).get("firmwareVersion") != firmware_version:
        known["requested"] = {"firmwareVersion": firmware_version, "at": now.isoformat()}
    return known


def given_up(*, firmware_version: str, reason: str) -> dict:
    """The configuration of a station whose model could not be read: accepted from now on with
    the profile it had (the installer's overrides fill in)."""
    return {"firmwareVersion": firmware_version, "baseReport": reason}


@dataclass(frozen=True)
class VariableChange:
    """One SetVariables entry: the Actual value of a station-wide controller's variable."""

    component: str
    variable: str
    value: str


def variable_changes(rows: list[VariableRow]) -> list[VariableChange]:
    """SetVariables that give energy control what it reads, by profiles.configuration_changes'
    rule: TxUpdatedInterval set to WANTED_SAMPLE_INTERVAL_S when absent, 0 or longer; the
    measurands WANTED_MEASURANDS lacks appended after the station's own, never narrowing them.
    A variable the station marks ReadOnly or WriteOnly (its value unknown) is left alone; only
    measurands its valuesList allows are appended, while the list stays within
    DeviceDataCtrlr.ConfigurationValueSize (the longest value it accepts)."""
    changes = []
    interval_row = actual(rows, *INTERVAL)
    if interval_row is None or interval_row.mutability == "ReadWrite":
        interval_s = _bounded(None if interval_row is None else interval_row.value, INT_MAX)
        if interval_s is None or interval_s == 0 or interval_s > WANTED_SAMPLE_INTERVAL_S:
            changes.append(VariableChange(SAMPLED_DATA, "TxUpdatedInterval", str(WANTED_SAMPLE_INTERVAL_S)))
    measurands_row = actual(rows, *MEASURANDS)
    if measurands_row is not None and measurands_row.mutability != "ReadWrite":
        return changes
    own = _members(None if measurands_row is None else measurands_row.value)
    allowed = _members(None if measurands_row is None else measurands_row.values_list)
    size = _bounded(_value(rows, DEVICE_DATA, "ConfigurationValueSize"), INT_MAX)
    wanted = own[:]
    for measurand in WANTED_MEASURANDS:
        if measurand in wanted or (allowed and measurand not in allowed):
            continue
        if size is not None and len(",".join([*wanted, measurand])) > size:
            break
        wanted.append(measurand)
    if wanted != own:
        changes.append(VariableChange(SAMPLED_DATA, "TxUpdatedMeasurands", ",".join(wanted)))
    return changes
