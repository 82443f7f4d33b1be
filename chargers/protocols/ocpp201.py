"""The calls of chargers.link in OCPP 2.0.1, built from the ocpp library's v201 typed calls,
datatypes and enums. What differs from 1.6: limits go to an EVSE (our connector n is EVSE n,
chargers.services.evse_status_update; 0 is the whole station), the station-wide purpose is
ChargingStationMaxProfile, a profile holds a list of schedules each with its own id, and
transaction ids are strings."""

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from ocpp.v201 import call
from ocpp.v201.datatypes import (
    ChargingProfileCriterionType,
    ChargingProfileType,
    ChargingSchedulePeriodType,
    ChargingScheduleType,
    ClearChargingProfileType,
    ComponentType,
    EVSEType,
    FirmwareType,
    GetVariableDataType,
    IdTokenType,
    LogParametersType,
    SetVariableDataType,
    VariableType,
)
from ocpp.v201.enums import (
    AttributeEnumType,
    ChargingProfileKindEnumType,
    ChargingProfilePurposeEnumType,
    ChargingRateUnitEnumType,
    IdTokenEnumType,
    LogEnumType,
    MessageTriggerEnumType,
    OperationalStatusEnumType,
    ReportBaseEnumType,
    ResetEnumType,
)

from chargers.models import Charger
from chargers.profiles import limit_in_charger_unit
from chargers.protocols import ChargerCall, LimitPeriod, LimitPurpose, charger_call, periods_held
from energy.allocation import NOMINAL_VOLTAGE_V
from graylogic.datetimes import iso_utc

# One profile id per purpose, as for 1.6, so a new limit replaces the old one on the charger.
PROFILE_ID_BY_PURPOSE = {LimitPurpose.CHARGER_MAX: 1, LimitPurpose.DEFAULT: 2, LimitPurpose.TRANSACTION: 3}
STACK_LEVEL_BY_PURPOSE = {LimitPurpose.CHARGER_MAX: 0, LimitPurpose.DEFAULT: 1, LimitPurpose.TRANSACTION: 2}
PURPOSE = {
    LimitPurpose.CHARGER_MAX: ChargingProfilePurposeEnumType.charging_station_max_profile,
    LimitPurpose.DEFAULT: ChargingProfilePurposeEnumType.tx_default_profile,
    LimitPurpose.TRANSACTION: ChargingProfilePurposeEnumType.tx_profile,
}
# remoteStartId is an integer the charger's TransactionEvent Started carries back.
REMOTE_START_ID_MAX = 2**31 - 1


def _profile(
    *,
    charger: Charger,
    purpose: LimitPurpose,
    unit: str,
    periods: list[ChargingSchedulePeriodType],
    start: dt.datetime,
    duration_s: int | None,
    transaction_id: int | str | None = None,
) -> ChargingProfileType:
    profile_id = PROFILE_ID_BY_PURPOSE[purpose]
    # Under the purpose the charger takes instead (chargers/quirks.py); only a TxProfile names a
    # transaction.
    wire_purpose = LimitPurpose(charger.limit_purpose(purpose))
    if wire_purpose != LimitPurpose.TRANSACTION:
        transaction_id = None
    return ChargingProfileType(
        id=profile_id,
        stack_level=charger.stack_level(STACK_LEVEL_BY_PURPOSE[purpose], purpose),
        charging_profile_purpose=PURPOSE[wire_purpose],
        charging_profile_kind=ChargingProfileKindEnumType.absolute,
        charging_schedule=[
            ChargingScheduleType(
                id=profile_id,
                charging_rate_unit=ChargingRateUnitEnumType(unit),
                charging_schedule_period=periods,
                duration=duration_s,
                start_schedule=iso_utc(start),
            )
        ],
        transaction_id=None if transaction_id is None else str(transaction_id),
    )


def limit_set(
    *,
    charger: Charger,
    purpose: LimitPurpose,
    limit_w: float,
    now: dt.datetime,
    duration_s: int | None = None,
    phases: int | None = None,
    number_phases: int | None = None,
    connector_id: int = 0,
    transaction_id: int | str | None = None,
) -> ChargerCall:
    """One period in the unit and at the stack level the charger accepts, on EVSE connector_id."""
    unit, limit = limit_in_charger_unit(
        limit_w=limit_w, phases=phases or charger.phases, rate_unit=charger.limit_rate_unit
    )
    profile = _profile(
        charger=charger,
        purpose=purpose,
        unit=unit,
        periods=[ChargingSchedulePeriodType(start_period=0, limit=limit, number_phases=number_phases)],
        start=now,
        duration_s=duration_s or None,
        transaction_id=transaction_id,
    )
    return charger_call(call.SetChargingProfile(evse_id=connector_id, charging_profile=profile))


def schedule_set(
    *, charger: Charger, purpose: LimitPurpose, periods: list[LimitPeriod], start: dt.datetime, duration_s: int | None
) -> ChargerCall:
    """A plan of several periods for the whole station (EVSE 0), in its own unit at its wired
    phases; limits in amps to one decimal; as many periods as it holds."""
    unit = charger.limit_rate_unit
    per_watt = 1 if unit == "W" else 1 / (NOMINAL_VOLTAGE_V * charger.phases)
    periods, duration_s = periods_held(periods, max_periods=charger.max_periods_per_schedule, duration_s=duration_s)
    profile = _profile(
        charger=charger,
        purpose=purpose,
        unit=unit,
        periods=[
            ChargingSchedulePeriodType(start_period=p.start_s, limit=round(p.limit_w * per_watt, 1)) for p in periods
        ],
        start=start,
        duration_s=duration_s,
    )
    return charger_call(call.SetChargingProfile(evse_id=0, charging_profile=profile))


def limit_clear(*, charger: Charger, purpose: LimitPurpose) -> ChargerCall:
    """By purpose and stack level, whatever profile id the charger holds it under."""
    criteria = ClearChargingProfileType(
        charging_profile_purpose=PURPOSE[LimitPurpose(charger.limit_purpose(purpose))],
        stack_level=charger.stack_level(STACK_LEVEL_BY_PURPOSE[purpose], purpose),
    )
    return charger_call(call.ClearChargingProfile(charging_profile_criteria=criteria))


def start(*, connector_id: int, id_tag: str) -> ChargerCall:
    """Our own start token is Central (the CSMS's); a fresh remoteStartId names this request."""
    return charger_call(
        call.RequestStartTransaction(
            id_token=IdTokenType(id_token=id_tag, type=IdTokenEnumType.central),
            remote_start_id=secrets.randbelow(REMOTE_START_ID_MAX) + 1,
            evse_id=connector_id,
        )
    )


def stop(*, transaction_id: str) -> ChargerCall:
    """The station's own transactionId, as its TransactionEvents carry it."""
    return charger_call(call.RequestStopTransaction(transaction_id=transaction_id))


def composite_schedule_read(*, connector_id: int, duration_s: int) -> ChargerCall:
    return charger_call(call.GetCompositeSchedule(duration=duration_s, evse_id=connector_id))


def composite_answer(answer: dict) -> dict:
    """GetCompositeSchedule's answer as energy control reads it: 2.0.1 names the schedule
    `schedule`, 1.6 `chargingSchedule`; the periods inside have the same fields."""
    return {"status": answer.get("status"), "chargingSchedule": answer.get("schedule") or {}}


# --- The admin's buttons: one typed call each, from the installer's (already checked) values ------

# requestId (GetLog, UpdateFirmware, GetBaseReport, GetChargingProfiles) is an integer the
# station's follow-up messages carry back.
REQUEST_ID_MAX = 2**31 - 1


def new_request_id() -> int:
    """A fresh requestId, as remoteStartId is drawn: a station keys its reports by it."""
    return secrets.randbelow(REQUEST_ID_MAX) + 1


@dataclass(frozen=True)
class VariableName:
    """A device-model variable as the installer types it: `Component.Variable`, each with an
    optional `:instance`, the component optionally on `@evse` or `@evse/connector`
    (e.g. `OCPPCommCtrlr.MessageTimeout:Default`, `EVSE@1.Power`)."""

    component: str
    variable: str
    component_instance: str | None = None
    variable_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None

    def component_type(self) -> ComponentType:
        evse = None if self.evse_id is None else EVSEType(id=self.evse_id, connector_id=self.connector_id)
        return ComponentType(name=self.component, instance=self.component_instance, evse=evse)

    def variable_type(self) -> VariableType:
        return VariableType(name=self.variable, instance=self.variable_instance)


# Names and instances are CiString50 in the 2.0.1 schemas; an EVSE id is at least 1 there.
_VARIABLE_NAME = re.compile(
    r"(?P<component>[^.:@\s]{1,50})(?::(?P<component_instance>[^.:@\s]{1,50}))?"
    r"(?:@(?P<evse_id>[1-9]\d{0,4})(?:/(?P<connector_id>[1-9]\d{0,4}))?)?"
    r"\.(?P<variable>[^.:@\s]{1,50})(?::(?P<variable_instance>[^:@\s]{1,50}))?"
)


def variable_name_parse(text: str) -> VariableName:
    """`Component[:instance][@evse[/connector]].Variable[:instance]`; ValueError saying what
    is wrong otherwise."""
    found = _VARIABLE_NAME.fullmatch(text.strip())
    if found is None:
        raise ValueError(
            f"{text.strip()[:60]!r} is not Component.Variable (names of at most 50 characters, "
            "optionally Component:instance, Component@evse, Variable:instance)"
        )
    parts = found.groupdict()
    return VariableName(
        component=parts["component"],
        variable=parts["variable"],
        component_instance=parts["component_instance"],
        variable_instance=parts["variable_instance"],
        evse_id=None if parts["evse_id"] is None else int(parts["evse_id"]),
        connector_id=None if parts["connector_id"] is None else int(parts["connector_id"]),
    )


def _evse(evse_id: int | None, connector_id: int | None) -> EVSEType | None:
    """An EVSE (and one of its connectors), or None for the whole station."""
    return None if evse_id is None else EVSEType(id=evse_id, connector_id=connector_id)


def reset(*, reset_type: str, evse_id: int | None = None) -> ChargerCall:
    """Immediate or OnIdle (after the transactions end); the whole station unless evse_id."""
    return charger_call(call.Reset(type=ResetEnumType(reset_type), evse_id=evse_id))


def connector_unlock(*, evse_id: int, connector_id: int) -> ChargerCall:
    return charger_call(call.UnlockConnector(evse_id=evse_id, connector_id=connector_id))


def availability_change(
    *, operational_status: str, evse_id: int | None = None, connector_id: int | None = None
) -> ChargerCall:
    """The whole station unless evse_id; one connector of it with connector_id."""
    return charger_call(
        call.ChangeAvailability(
            operational_status=OperationalStatusEnumType(operational_status), evse=_evse(evse_id, connector_id)
        )
    )


def message_trigger(
    *, requested_message: str, evse_id: int | None = None, connector_id: int | None = None
) -> ChargerCall:
    return charger_call(
        call.TriggerMessage(
            requested_message=MessageTriggerEnumType(requested_message), evse=_evse(evse_id, connector_id)
        )
    )


def firmware_update(
    *,
    request_id: int,
    location: str,
    retrieve_at: dt.datetime,
    install_at: dt.datetime | None = None,
    retries: int | None = None,
    retry_interval_s: int | None = None,
) -> ChargerCall:
    return charger_call(
        call.UpdateFirmware(
            request_id=request_id,
            firmware=FirmwareType(
                location=location,
                retrieve_date_time=iso_utc(retrieve_at),
                install_date_time=None if install_at is None else iso_utc(install_at),
            ),
            retries=retries,
            retry_interval=retry_interval_s,
        )
    )


def log_get(
    *,
    request_id: int,
    location: str,
    log_type: str,
    oldest_at: dt.datetime | None = None,
    latest_at: dt.datetime | None = None,
    retries: int | None = None,
    retry_interval_s: int | None = None,
) -> ChargerCall:
    """2.0.1's GetDiagnostics: the station uploads its log to location."""
    return charger_call(
        call.GetLog(
            log=LogParametersType(
                remote_location=location,
                oldest_timestamp=None if oldest_at is None else iso_utc(oldest_at),
                latest_timestamp=None if latest_at is None else iso_utc(latest_at),
            ),
            log_type=LogEnumType(log_type),
            request_id=request_id,
            retries=retries,
            retry_interval=retry_interval_s,
        )
    )


def data_transfer(*, vendor_id: str, message_id: str | None = None, data: str | None = None) -> ChargerCall:
    return charger_call(call.DataTransfer(vendor_id=vendor_id, message_id=message_id, data=data))


def profiles_clear(
    *,
    profile_id: int | None = None,
    evse_id: int | None = None,
    purpose: str | None = None,
    stack_level: int | None = None,
) -> ChargerCall:
    """By id, or by the criteria given; nothing given clears every profile (criteria left out,
    not sent empty)."""
    criteria = ClearChargingProfileType(
        evse_id=evse_id,
        charging_profile_purpose=None if purpose is None else ChargingProfilePurposeEnumType(purpose),
        stack_level=stack_level,
    )
    given = any(value is not None for value in (evse_id, purpose, stack_level))
    return charger_call(
        call.ClearChargingProfile(charging_profile_id=profile_id, charging_profile_criteria=criteria if given else None)
    )


def composite_schedule_get(*, evse_id: int, duration_s: int, charging_rate_unit: str | None = None) -> ChargerCall:
    """The installer's GetCompositeSchedule, in the unit asked for (the station's choice if none)."""
    unit = None if charging_rate_unit is None else ChargingRateUnitEnumType(charging_rate_unit)
    return charger_call(call.GetCompositeSchedule(duration=duration_s, evse_id=evse_id, charging_rate_unit=unit))


def variables_get(*, variables: list[VariableName], attribute_type: str | None = None) -> ChargerCall:
    """2.0.1's GetConfiguration: the Actual value (or the attribute asked for) of each variable."""
    attribute = None if attribute_type is None else AttributeEnumType(attribute_type)
    return charger_call(
        call.GetVariables(
            get_variable_data=[
                GetVariableDataType(component=v.component_type(), variable=v.variable_type(), attribute_type=attribute)
                for v in variables
            ]
        )
    )


def variables_set(*, variable: VariableName, value: str, attribute_type: str | None = None) -> ChargerCall:
    """2.0.1's ChangeConfiguration."""
    attribute = None if attribute_type is None else AttributeEnumType(attribute_type)
    return charger_call(
        call.SetVariables(
            set_variable_data=[
                SetVariableDataType(
                    attribute_value=value,
                    component=variable.component_type(),
                    variable=variable.variable_type(),
                    attribute_type=attribute,
                )
            ]
        )
    )


def base_report_get(*, request_id: int, report_base: str) -> ChargerCall:
    """The station answers, then sends its device model in NotifyReport parts under request_id."""
    return charger_call(call.GetBaseReport(request_id=request_id, report_base=ReportBaseEnumType(report_base)))


def profiles_get(
    *, request_id: int, evse_id: int | None = None, purpose: str | None = None, stack_level: int | None = None
) -> ChargerCall:
    """The profiles the station holds, reported in ReportChargingProfiles under request_id;
    no criteria: every one."""
    criteria = ChargingProfileCriterionType(
        charging_profile_purpose=None if purpose is None else ChargingProfilePurposeEnumType(purpose),
        stack_level=stack_level,
    )
    return charger_call(call.GetChargingProfiles(request_id=request_id, charging_profile=criteria, evse_id=evse_id))


def cache_clear() -> ChargerCall:
    return charger_call(call.ClearCache())


def transaction_status_get(*, transaction_id: str | None = None) -> ChargerCall:
    """Whether the station still queues messages (of that transaction, if given)."""
    return charger_call(call.GetTransactionStatus(transaction_id=transaction_id))
