"""The calls of chargers.link in OCPP 2.0.1, built from the ocpp library's v201 typed calls,
datatypes and enums. What differs from 1.6: limits go to an EVSE (our connector n is EVSE n,
chargers.services.evse_status_update; 0 is the whole station), the station-wide purpose is
ChargingStationMaxProfile, a profile holds a list of schedules each with its own id, and
transaction ids are strings."""

import datetime as dt
import secrets

from ocpp.v201 import call
from ocpp.v201.datatypes import (
    ChargingProfileType,
    ChargingSchedulePeriodType,
    ChargingScheduleType,
    ClearChargingProfileType,
    IdTokenType,
)
from ocpp.v201.enums import (
    ChargingProfileKindEnumType,
    ChargingProfilePurposeEnumType,
    ChargingRateUnitEnumType,
    IdTokenEnumType,
)

from chargers.models import Charger
from chargers.profiles import limit_in_charger_unit
from chargers.protocols import ChargerCall, LimitPeriod, LimitPurpose, wire_payload
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


def _call(request) -> ChargerCall:
    """A typed request (an ocpp.v201.call dataclass, named after its action) for the command path."""
    return ChargerCall(action=type(request).__name__, payload=wire_payload(request))


def _profile(
    *,
    charger: Charger,
    purpose: LimitPurpose,
    unit: str,
    periods: list[ChargingSchedulePeriodType],
    start: dt.datetime,
    duration_s: int | None,
    transaction_id: int | None = None,
) -> ChargingProfileType:
    profile_id = PROFILE_ID_BY_PURPOSE[purpose]
    return ChargingProfileType(
        id=profile_id,
        stack_level=charger.stack_level(STACK_LEVEL_BY_PURPOSE[purpose]),
        charging_profile_purpose=PURPOSE[purpose],
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
    transaction_id: int | None = None,
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
    return _call(call.SetChargingProfile(evse_id=connector_id, charging_profile=profile))


def schedule_set(
    *, charger: Charger, purpose: LimitPurpose, periods: list[LimitPeriod], start: dt.datetime, duration_s: int | None
) -> ChargerCall:
    """A plan of several periods for the whole station (EVSE 0), in its own unit at its wired
    phases; limits in amps to one decimal."""
    unit = charger.limit_rate_unit
    per_watt = 1 if unit == "W" else 1 / (NOMINAL_VOLTAGE_V * charger.phases)
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
    return _call(call.SetChargingProfile(evse_id=0, charging_profile=profile))


def limit_clear(*, charger: Charger, purpose: LimitPurpose) -> ChargerCall:
    """By purpose and stack level, whatever profile id the charger holds it under."""
    criteria = ClearChargingProfileType(
        charging_profile_purpose=PURPOSE[purpose], stack_level=charger.stack_level(STACK_LEVEL_BY_PURPOSE[purpose])
    )
    return _call(call.ClearChargingProfile(charging_profile_criteria=criteria))


def start(*, connector_id: int, id_tag: str) -> ChargerCall:
    """Our own start token is Central (the CSMS's); a fresh remoteStartId names this request."""
    return _call(
        call.RequestStartTransaction(
            id_token=IdTokenType(id_token=id_tag, type=IdTokenEnumType.central),
            remote_start_id=secrets.randbelow(REMOTE_START_ID_MAX) + 1,
            evse_id=connector_id,
        )
    )


def stop(*, transaction_id: str) -> ChargerCall:
    """The station's own transactionId, as its TransactionEvents carry it."""
    return _call(call.RequestStopTransaction(transaction_id=transaction_id))


def composite_schedule_read(*, connector_id: int, duration_s: int) -> ChargerCall:
    return _call(call.GetCompositeSchedule(duration=duration_s, evse_id=connector_id))


def composite_answer(answer: dict) -> dict:
    """GetCompositeSchedule's answer as energy control reads it: 2.0.1 names the schedule
    `schedule`, 1.6 `chargingSchedule`; the periods inside have the same fields."""
    return {"status": answer.get("status"), "chargingSchedule": answer.get("schedule") or {}}
