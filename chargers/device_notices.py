"""What an OCPP 2.0.1 station's notices say (NotifyEvent, NotifyChargingLimit,
ClearedChargingLimit, ReportChargingProfiles), as plain data and as sentences for the event
log. Pure: the payloads in the `ocpp` library's snake_case, already checked against the schema.

2.0.1's StatusNotification carries no error code: a station tells a fault as a NotifyEvent of
its device model, the Problem variable of the Connector or EVSE component set to "true" (or
AvailabilityState "Faulted"), and its end by the same event with cleared=true (OCPP 2.0.1
part 2, N07 and appendix 3, the standardized components)."""

import datetime as dt
import math
from dataclasses import dataclass

FAULTED = "Faulted"
# The components whose Problem is a connector's (or, without an EVSE, the station's) fault.
FAULT_COMPONENTS = frozenset({"ChargingStation", "EVSE", "Connector"})
# ConnectorStatusEnumType: what AvailabilityState may say.
CONNECTOR_STATUSES = frozenset({"Available", "Occupied", "Reserved", "Unavailable", FAULTED})
# The error code column holds 30 characters, the vendor's code 50, the info 50 (chargers.models.Connector).
ERROR_CODE_MAX, VENDOR_CODE_MAX, INFO_MAX = 30, 50, 50


@dataclass(frozen=True)
class FaultChange:
    """A fault that starts or ends on an EVSE (0: the station itself). status: what the station
    said the EVSE is once the fault ended (AvailabilityState), empty when it did not say."""

    evse_id: int
    faulted: bool
    error_code: str = ""
    vendor_error_code: str = ""
    info: str = ""
    status: str = ""


def fault_change(event: dict) -> FaultChange | None:
    """The fault one eventData item starts or ends; None when it tells no fault."""
    component, variable = event["component"], event["variable"]["name"]
    if component["name"] not in FAULT_COMPONENTS:
        return None
    evse_id = (component.get("evse") or {}).get("id", 0)
    value, cleared = event["actual_value"], event.get("cleared", False)
    if variable == "Problem":
        faulted, status = value.strip().lower() == "true" and not cleared, ""
    elif variable == "AvailabilityState" and value in CONNECTOR_STATUSES:
        faulted, status = value == FAULTED and not cleared, "" if value == FAULTED else value
    else:
        return None
    if not faulted:
        return FaultChange(evse_id=evse_id, faulted=False, status=status)
    tech_code = event.get("tech_code", "")
    return FaultChange(
        evse_id=evse_id,
        faulted=True,
        error_code=(tech_code or variable)[:ERROR_CODE_MAX],
        vendor_error_code=tech_code[:VENDOR_CODE_MAX],
        info=event.get("tech_info", "")[:INFO_MAX],
    )


def _named(item: dict) -> str:
    return f"{item['name']} {item['instance']}" if item.get("instance") else item["name"]


def event_text(event: dict) -> str:
    """One eventData item in a line: where, which variable, its value, the station's code."""
    component = event["component"]
    where = _named(component)
    if evse := component.get("evse"):
        where += f" on EVSE {evse['id']}" + (f" connector {evse['connector_id']}" if "connector_id" in evse else "")
    text = f"{where}: {_named(event['variable'])} = {event['actual_value']!r}"
    detail = ": ".join(part for part in (event.get("tech_code", ""), event.get("tech_info", "")) if part)
    if detail:
        text += f" ({detail})"
    return text + (", cleared" if event.get("cleared") else "")


def _where(evse_id: int | None) -> str:
    return "the whole station" if not evse_id else f"EVSE {evse_id}"


def schedule_text(schedule: dict) -> str:
    """A charging schedule by its first period ("16 A", "11000 W then 2 changes")."""
    periods = sorted(schedule["charging_schedule_period"], key=lambda p: p["start_period"])
    text = f"{periods[0]['limit']:g} {schedule['charging_rate_unit']}"
    if len(periods) > 1:
        text += f" then {len(periods) - 1} change{'s' if len(periods) > 2 else ''}"
    return text


def charging_limit_text(
    *, source: str, evse_id: int | None, schedules: list[dict], grid_critical: bool | None = None
) -> str:
    """A limit set outside this server (NotifyChargingLimit), in words."""
    if schedules:
        text = f"{source} limits {_where(evse_id)} to {', '.join(schedule_text(s) for s in schedules)}"
    else:
        text = f"{source} set a limit on {_where(evse_id)} (no schedule told)"
    return text + (" (grid critical)" if grid_critical else "")


def limit_cleared_text(*, source: str, evse_id: int | None) -> str:
    return f"{source}'s limit on {_where(evse_id)} cleared"


def profiles_text(*, source: str, evse_id: int, profiles: list[dict], request_id: int) -> str:
    """The profiles a station reports it holds (ReportChargingProfiles), one clause each."""
    held = "; ".join(
        f"{p['charging_profile_purpose']} #{p['id']} at stack level {p['stack_level']}: "
        + ", ".join(schedule_text(s) for s in p["charging_schedule"])
        for p in profiles
    )
    return f"{_where(evse_id)} holds, set by {source} (request {request_id}): {held}"


# The voltage a limit in amps is turned into watts at (energy.allocation.NOMINAL_VOLTAGE_V).
NOMINAL_VOLTAGE_V = 230.0


def external_limit_w(*, schedule: dict, start: dt.datetime, now: dt.datetime, phases: int) -> float | None:
    """The limit a NotifyChargingLimit's schedule (its first) sets now, in watts: the last
    period started by `now` (the first before its start), amps at 230 V on the period's
    numberPhases or the charger's wiring. None when it is no physical limit (negative, not finite)."""
    periods = sorted(schedule["charging_schedule_period"], key=lambda p: p["start_period"])
    elapsed_s = (now - start).total_seconds()
    period = ([p for p in periods if p["start_period"] <= elapsed_s] or periods)[-1]
    limit = float(period["limit"])
    if not math.isfinite(limit) or limit < 0:
        return None
    if schedule["charging_rate_unit"] == "W":
        return limit
    return limit * NOMINAL_VOLTAGE_V * (period.get("number_phases") or phases)


def external_limit_ends(*, schedule: dict, start: dt.datetime) -> dt.datetime | None:
    """When the schedule ends (its duration from its start); None: until cleared."""
    duration_s = schedule.get("duration")
    return None if duration_s is None else start + dt.timedelta(seconds=duration_s)
