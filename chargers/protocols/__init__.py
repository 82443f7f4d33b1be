"""What every protocol module builds from: the calls the domain makes to a connected charger,
in words of no OCPP version. chargers.link picks the module by the charger's protocol; OCPP 1.6
is ocpp16.py and OCPP 2.0.1 ocpp201.py, each building the same calls from the `ocpp` library's
typed calls of its version."""

import dataclasses
import functools
from dataclasses import dataclass
from enum import Enum, StrEnum

from ocpp.charge_point import snake_to_camel_case


class LimitPurpose(StrEnum):
    """What a limit is for; a charger holds one of each, and the lower wins. The values are
    1.6's profile purposes because applied limits are stored under them."""

    CHARGER_MAX = "ChargePointMaxProfile"  # the fuses, grid response, a person's cap
    DEFAULT = "TxDefaultProfile"  # the time-of-use plan
    TRANSACTION = "TxProfile"  # the solar surplus, on the running transaction


@dataclass(frozen=True)
class LimitPeriod:
    """From start_s seconds into the schedule on, at most limit_w."""

    start_s: int
    limit_w: float


def periods_held(
    periods: list[LimitPeriod], *, max_periods: int | None, duration_s: int | None
) -> tuple[list[LimitPeriod], int | None]:
    """A plan cut to what the charger holds (1.6 ChargingScheduleMaxPeriods, 2.0.1
    PeriodsPerSchedule), which would refuse it whole: its first periods, ending where the next
    would start. Energy control sends the rest in a later run, as the plan moves on."""
    if not max_periods or len(periods) <= max_periods:
        return periods, duration_s
    end_s = periods[max_periods].start_s
    return periods[:max_periods], min(duration_s, end_s) if duration_s else end_s


@dataclass(frozen=True)
class ChargerCall:
    """One call to a charger, ready for the command path: the action and its wire payload."""

    action: str
    payload: dict


@functools.cache
def _camel(name: str) -> str:
    """The wire name of a field, with the library's own spelling rules (soc -> SoC, ...)."""
    return next(iter(snake_to_camel_case({name: None})))


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, str], ...]:
    return tuple((f.name, _camel(f.name)) for f in dataclasses.fields(cls))


def _wire(value):
    """A typed value as it goes on the wire: camelCase keys, unset fields left out, enums as
    their values (the payload crosses the channel layer and is stored as JSON). One walk: the
    library's asdict-based serialize_as_dict cost a third of a control run's sending."""
    if dataclasses.is_dataclass(value):
        pairs = ((wire, getattr(value, name)) for name, wire in _fields(type(value)))
        return {wire: _wire(item) for wire, item in pairs if item is not None}
    if isinstance(value, dict):
        return {_camel(key): _wire(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_wire(item) for item in value if item is not None]
    return value.value if isinstance(value, Enum) else value


def wire_payload(request) -> dict:
    """The camelCase wire payload of a typed request (an ocpp.v16 or ocpp.v201 call dataclass)."""
    return _wire(request)


def charger_call(request) -> ChargerCall:
    """A typed request (an ocpp.v16 or ocpp.v201 call dataclass, named after its action) for the
    command path."""
    return ChargerCall(action=type(request).__name__, payload=_wire(request))
