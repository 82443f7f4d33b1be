"""The calls of chargers.link in OCPP 1.6: each built from the ocpp library's typed call,
datatypes and enums, and turned into the camelCase wire payload here, once."""

import datetime as dt

from ocpp.v16 import call
from ocpp.v16.datatypes import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod
from ocpp.v16.enums import ChargingProfileKindType, ChargingProfilePurposeType, ChargingRateUnitType, MessageTrigger

from chargers.models import Charger
from chargers.profiles import limit_in_charger_unit
from chargers.protocols import ChargerCall, LimitPeriod, LimitPurpose, charger_call, periods_held, wire_payload
from energy.allocation import NOMINAL_VOLTAGE_V
from graylogic.datetimes import iso_utc

# One profile id per purpose, so a new limit replaces the old one on the charger.
PROFILE_ID_BY_PURPOSE = {LimitPurpose.CHARGER_MAX: 1, LimitPurpose.DEFAULT: 2, LimitPurpose.TRANSACTION: 3}
STACK_LEVEL_BY_PURPOSE = {LimitPurpose.CHARGER_MAX: 0, LimitPurpose.DEFAULT: 1, LimitPurpose.TRANSACTION: 2}


def payload_of(request) -> dict:
    """The camelCase wire payload of a typed request (an ocpp.v16.call dataclass)."""
    return wire_payload(request)


def _profile(
    *,
    charger: Charger,
    purpose: LimitPurpose,
    unit: str,
    periods: list[ChargingSchedulePeriod],
    start: dt.datetime,
    duration_s: int | None,
    transaction_id: int | None = None,
) -> ChargingProfile:
    # Under the purpose the charger takes instead (chargers/quirks.py), at its own id and stack
    # level; only a TxProfile names a transaction.
    wire_purpose = LimitPurpose(charger.limit_purpose(purpose))
    return ChargingProfile(
        charging_profile_id=PROFILE_ID_BY_PURPOSE[purpose],
        stack_level=charger.stack_level(STACK_LEVEL_BY_PURPOSE[purpose], purpose),
        charging_profile_purpose=ChargingProfilePurposeType(wire_purpose),
        charging_profile_kind=ChargingProfileKindType.absolute,
        charging_schedule=ChargingSchedule(
            charging_rate_unit=ChargingRateUnitType(unit),
            charging_schedule_period=periods,
            duration=duration_s,
            start_schedule=iso_utc(start),
        ),
        transaction_id=transaction_id if wire_purpose == LimitPurpose.TRANSACTION else None,
    )


def _limit_profile(
    *,
    charger: Charger,
    purpose: LimitPurpose,
    limit_w: float,
    now: dt.datetime,
    duration_s: int | None = None,
    phases: int | None = None,
    number_phases: int | None = None,
    transaction_id: int | None = None,
) -> ChargingProfile:
    """One period in the unit and at the stack level the charger accepts. `phases`: what it
    charges on when that is not how it is wired (switched to one phase); `number_phases`: the
    phases a charger that can switch is told to use."""
    unit, limit = limit_in_charger_unit(
        limit_w=limit_w, phases=phases or charger.phases, rate_unit=charger.limit_rate_unit
    )
    return _profile(
        charger=charger,
        purpose=purpose,
        unit=unit,
        periods=[ChargingSchedulePeriod(start_period=0, limit=limit, number_phases=number_phases)],
        start=now,
        duration_s=duration_s or None,
        transaction_id=transaction_id,
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
    profile = _limit_profile(
        charger=charger,
        purpose=purpose,
        limit_w=limit_w,
        now=now,
        duration_s=duration_s,
        phases=phases,
        number_phases=number_phases,
        transaction_id=transaction_id,
    )
    return charger_call(call.SetChargingProfile(connector_id=connector_id, cs_charging_profiles=profile))


def schedule_set(
    *, charger: Charger, purpose: LimitPurpose, periods: list[LimitPeriod], start: dt.datetime, duration_s: int | None
) -> ChargerCall:
    """A plan of several periods for the whole charger (connector 0), in its own unit at its
    wired phases; limits in amps to one decimal; as many periods as it holds."""
    unit = charger.limit_rate_unit
    per_watt = 1 if unit == "W" else 1 / (NOMINAL_VOLTAGE_V * charger.phases)
    periods, duration_s = periods_held(periods, max_periods=charger.max_periods_per_schedule, duration_s=duration_s)
    profile = _profile(
        charger=charger,
        purpose=purpose,
        unit=unit,
        periods=[ChargingSchedulePeriod(start_period=p.start_s, limit=round(p.limit_w * per_watt, 1)) for p in periods],
        start=start,
        duration_s=duration_s,
    )
    return charger_call(call.SetChargingProfile(connector_id=0, cs_charging_profiles=profile))


def limit_clear(*, charger: Charger, purpose: LimitPurpose) -> ChargerCall:
    """By purpose and stack level, whatever profile id the charger holds it under."""
    return charger_call(
        call.ClearChargingProfile(
            charging_profile_purpose=ChargingProfilePurposeType(charger.limit_purpose(purpose)),
            stack_level=charger.stack_level(STACK_LEVEL_BY_PURPOSE[purpose], purpose),
        )
    )


def start(*, connector_id: int, id_tag: str) -> ChargerCall:
    return charger_call(call.RemoteStartTransaction(connector_id=connector_id, id_tag=id_tag))


def stop(*, transaction_id: int) -> ChargerCall:
    return charger_call(call.RemoteStopTransaction(transaction_id=transaction_id))


def configuration_read(*, keys: list[str] | None = None) -> ChargerCall:
    return charger_call(call.GetConfiguration(key=keys or None))


def configuration_change(*, key: str, value: str) -> ChargerCall:
    return charger_call(call.ChangeConfiguration(key=key, value=value))


def composite_schedule_read(*, connector_id: int, duration_s: int) -> ChargerCall:
    return charger_call(call.GetCompositeSchedule(connector_id=connector_id, duration=duration_s))


def composite_answer(answer: dict) -> dict:
    """GetCompositeSchedule's answer as energy control reads it (1.6's own shape)."""
    return answer


def message_trigger(
    *, requested_message: str, evse_id: int | None = None, connector_id: int | None = None
) -> ChargerCall:
    """1.6 has no EVSE: the connector is the outlet (evse_id is 2.0.1's and unused here)."""
    return charger_call(
        call.TriggerMessage(requested_message=MessageTrigger(requested_message), connector_id=connector_id)
    )
