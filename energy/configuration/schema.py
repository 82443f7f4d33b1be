"""The spec's configuration file as pydantic models, one per block: site, ocpp ("OCPP Bridge
Configuration"), energy ("Energy Integration Configuration"), load_balancing, circuits,
solar_charging, tou_charging and grid_response. They check types and limits only; the rules
between values are in parsing.py.

A field named after a database column fills that column; its alias is the key in the file. A
`Part` is a mapping whose values fill its parent's row (solar_charging.surplus: SolarCharging).
A key left out stays unset (None), and an explicit null is refused unless the type allows it.
"""

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from django.core.exceptions import ValidationError
from django.db import models
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, create_model
from pydantic_core import PydanticCustomError

from chargers.models import Charger, charge_point_id_validator
from energy.models import (
    ALGORITHM_CHOICES,
    PHASE_CHOICES,
    SUPPLY_PHASE_CHOICES,
    Circuit,
    Site,
    SolarCharging,
    TariffPeriod,
    TimeOfUse,
    validate_time_zone,
)

SUPPORTED_VERSIONS = ("1.6",)
DEFAULT_CIRCUIT_NAME = "load balancing circuit"
# Limits of the file's numbers where the database has none: plausible for a home, refusing typos.
MAX_POWER_W = 1_000_000
MAX_FUSE_A = 10_000
MAX_CHARGER_A = 500
MAX_SECONDS = 86_400
MAX_ENERGY_WH = 1_000_000
_RATE = TariffPeriod._meta.get_field("rate_per_kwh")
MAX_RATE = Decimal(10) ** (_RATE.max_digits - _RATE.decimal_places) - Decimal(1).scaleb(-_RATE.decimal_places)
_ENV_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TIME = re.compile(r"^(\d{1,2}):([0-5]\d)(?::([0-5]\d))?$")


def time_text(value: dt.time) -> str:
    return f"{value:%H:%M}" if value.second == 0 else f"{value:%H:%M:%S}"


def given(model: BaseModel) -> dict[str, Any]:
    """Field -> value for the declared fields the file gives, in the schema's order."""
    return {name: getattr(model, name) for name in type(model).model_fields if name in model.model_fields_set}


def _fail(message: str):
    raise PydanticCustomError("config", message)


def _checked(check) -> Any:
    return Annotated[Any, PlainValidator(check)]


def _is_int(value: Any) -> bool:
    # bool is an int in Python; 'true' is never a number of watts.
    return isinstance(value, int) and not isinstance(value, bool)


def whole(*, maximum: int, unit: str, minimum: int = 1, then=None) -> Any:
    words = "a positive integer" if minimum else "a whole number from 0"

    def check(value: Any) -> int:
        if not _is_int(value) or value < minimum:
            _fail(f"must be {words} ({unit})")
        if value > maximum:
            _fail(f"must be at most {maximum} ({unit})")
        return then(value) if then else value

    return _checked(check)


def number(*, minimum: float, maximum: float, unit: str) -> Any:
    def check(value: Any) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool) or not minimum <= value <= maximum:
            _fail(f"must be a number from {minimum:g} to {maximum:g} ({unit})")
        return float(value)

    return _checked(check)


def text(model: type[models.Model] | int, field: str = "", *, blank: bool = True, then=None) -> Any:
    """A string as long as the model's column allows (or `model` characters)."""
    max_length = model if isinstance(model, int) else model._meta.get_field(field).max_length

    def check(value: Any) -> str:
        if not isinstance(value, str):
            _fail("must be a string (quote it if in doubt)")
        if not blank and not value.strip():
            _fail("must not be empty")
        if len(value) > max_length:
            _fail(f"must be at most {max_length} characters")
        return then(value) if then else value

    return _checked(check)


def choice(choices: list[tuple], message: str = "") -> Any:
    """One of a model's choices, of the same type (True is not the phase count 1)."""
    values = [value for value, _ in choices]
    words = f"{values[0]} or {values[1]}" if len(values) == 2 else f"one of {', '.join(map(str, values))}"

    def check(value: Any) -> Any:
        if not any(type(value) is type(known) and value == known for known in values):
            _fail(message or f"must be {words}")
        return value

    return _checked(check)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        _fail("must be true or false")
    return value


def _django(validator, value: str, template: str) -> str:
    try:
        validator(value)
    except ValidationError as exc:
        _fail(template.format(value=value, message=exc.messages[0]))
    return value


def _version(value: Any) -> str:
    # An unquoted 1.6 is a float in YAML; installers should not have to know that.
    version = str(value) if isinstance(value, float) else value
    if version not in SUPPORTED_VERSIONS:
        _fail(f"{version!r} is not supported yet; this server speaks OCPP {', '.join(SUPPORTED_VERSIONS)} only")
    return version


def _time_of_day(value: Any) -> dt.time:
    # YAML 1.1 reads an unquoted 7:00 as the base-60 number 420 (07:00, with its leading zero,
    # stays a string). Such a number is minutes since midnight; one below 60 cannot come from
    # h:mm, so it is a mistake rather than a time.
    if _is_int(value) and 60 <= value <= 1440:
        return dt.time(value // 60 % 24, value % 60)
    match = _TIME.match(value.strip()) if isinstance(value, str) else None
    if match and (int(match[1]) < 24 or (match[1] == "24" and match[2] == "00" and not match[3])):
        return dt.time(int(match[1]) % 24, int(match[2]), int(match[3] or 0))  # 24:00 is midnight
    _fail('must be a time of day such as "07:00" (in quotes)')


def _rate(value: Any) -> Decimal:
    try:
        rate = Decimal(str(value)) if isinstance(value, int | float) and not isinstance(value, bool) else None
    except InvalidOperation:
        rate = None
    if rate is None or not rate.is_finite() or not 0 <= rate <= MAX_RATE:
        _fail(f"must be a number from 0 to {MAX_RATE} (price per kWh)")
    if rate.as_tuple().exponent < -_RATE.decimal_places:
        _fail(f"at most {_RATE.decimal_places} decimal places")
    return rate


Bool = _checked(_boolean)
ChargerId = text(
    Charger,
    "charge_point_id",
    blank=False,
    then=lambda v: _django(charge_point_id_validator, v, "{value!r}: {message}"),
)
Name = text(Circuit, "name", blank=False)
Phases = choice(PHASE_CHOICES)
SupplyPhase = choice(SUPPLY_PHASE_CHOICES)
Fuse = whole(maximum=MAX_FUSE_A, unit="amps")
Watts = whole(maximum=MAX_POWER_W, unit="watts", minimum=0)
Seconds = whole(maximum=MAX_SECONDS, unit="seconds")
SecondsFrom0 = whole(maximum=MAX_SECONDS, unit="seconds", minimum=0)
Percent = whole(maximum=100, unit="percent", minimum=0)
TimeOfDay = _checked(_time_of_day)
Info = text(200)  # what the spec shows for information (a source, a formula): checked, not stored
SolarMode = choice(SolarCharging.Mode.choices)
Algorithm = choice(ALGORITHM_CHOICES)
Hertz = number(minimum=40, maximum=70, unit="hertz")
WattHours = whole(maximum=MAX_ENERGY_WH, unit="watt-hours")
FailsafeAmps = number(minimum=0, maximum=MAX_CHARGER_A, unit="amps per charger; 0 stops charging")
NormalPercent = whole(
    maximum=100,
    unit="percent",
    minimum=0,
    then=lambda v: v if v == 100 else _fail("must be 100 (the normal level does not limit)"),
)
Path = text(4096)
AuthMethod = choice([("basic", ""), ("certificate", "")], 'must be "basic" or "certificate"')


def _env_name(value: str) -> str:
    if not _ENV_VAR_NAME.match(value):
        _fail(f"{value!r} is not an environment variable name (letters, digits and _, not starting with a digit)")
    return value


class Block(BaseModel):
    """A mapping of the file; the keys it does not know are kept, to be reported."""

    model_config = ConfigDict(extra="allow")


class Part(Block):
    """A mapping whose values fill its block's row (solar_charging.surplus: SolarCharging)."""


def part(**fields: Any) -> type[Part]:
    """A Part from field=type, or field=(type, key in the file) where the column is named otherwise."""
    declared = {
        name: (spec[0], Field(None, alias=spec[1])) if isinstance(spec, tuple) else (spec, None)
        for name, spec in fields.items()
    }
    return create_model("Part", __base__=Part, **declared)


class SiteBlock(Block):
    """An extension: the site the chargers belong to."""

    name: text(Site, "name", blank=False)
    time_zone: text(Site, "time_zone", then=lambda v: _django(validate_time_zone, v, "{message}")) = None
    circuit_limit_a: Fuse = None


class Credential(Block):
    charger_id: ChargerId
    password_env: text(Charger, "password_env", blank=False, then=_env_name)


class OcppCharger(Block):
    charge_point_id: ChargerId = Field(alias="id")
    name: text(Charger, "name") = None
    location: text(Charger, "location") = None
    max_power_w: whole(maximum=MAX_POWER_W, unit="watts, e.g. 7400") = None
    phases: Phases = None
    # An extension; null: the server default, overriding protocol.heartbeat_interval.
    heartbeat_interval_s: Seconds | None = Field(None, alias="heartbeat_interval")


class OcppBlock(Block):
    enabled: Bool = None
    server: part(
        port=whole(maximum=65535, unit="a TCP port"), tls=part(enabled=Bool, cert_file=Path, key_file=Path)
    ) = None
    protocol: part(version=_checked(_version), heartbeat_interval=Seconds) = None
    auth: part(method=AuthMethod, credentials=(list[Credential], "credentials")) = None
    chargers: list[OcppCharger] = []


class EnergySection(Block):
    """Repeats values of the blocks below; where both give one, they must agree."""

    solar_charging: part(
        enabled=Bool, mode=SolarMode, min_surplus_w=Watts, update_interval_s=(Seconds, "update_interval_seconds")
    ) = None
    load_balancing: part(load_balancing_enabled=(Bool, "enabled"), circuit_limit_a=Fuse, algorithm=Algorithm) = None
    tou: part(enabled=Bool, avoid_peak=Bool, ready_by=TimeOfDay) = None


class ChargerLink(Block):
    """A charger on a circuit: its id, or a mapping with id and the extensions."""

    charge_point_id: ChargerId = Field(alias="id")
    max_current_a: whole(maximum=MAX_CHARGER_A, unit="amps") = None
    supply_phase: SupplyPhase = None


Link = Annotated[ChargerLink, BeforeValidator(lambda value: {"id": value} if isinstance(value, str) else value)]


class LbCircuit(Block):
    name: Name = DEFAULT_CIRCUIT_NAME
    max_current_a: Fuse = None
    phases: Phases = None
    supply_phase: SupplyPhase = None


class TreeCircuit(LbCircuit):
    """An extension: a `circuits:` entry of a deeper fuse tree."""

    name: Name
    parent_name: Name | None = Field(None, alias="parent")  # null: directly under the main fuse
    chargers: list[Link] = []


class LoadBalancing(Block):
    circuit: LbCircuit = None
    chargers: list[Link] = []
    algorithm: Algorithm = None
    priority: list[ChargerId] = None
    rebalance: part(
        on_charger_change=Bool, on_power_change=Bool, min_interval_s=(SecondsFrom0, "min_interval_seconds")
    ) = None
    failsafe: part(
        meter_timeout_s=(Seconds, "meter_timeout_seconds"), failsafe_current_a=(FailsafeAmps, "current_a")
    ) = None


class SolarBlock(Block):
    enabled: Bool = None
    surplus: part(source=Info, formula=Info, min_surplus_w=Watts) = None
    behavior: part(
        mode=SolarMode,
        solar_only=part(charge_only_from_solar=Bool, stop_if_no_surplus=Bool),
        solar_priority=part(prefer_solar=Bool, allow_grid_minimum_w=(Watts, "allow_grid_minimum")),
        mixed=part(use_available_solar=Bool, top_up_from_grid=Bool, max_grid_w=Watts),
    ) = None
    update_interval_s: Seconds = Field(None, alias="update_interval_seconds")
    # Off: a window of 0 s, the latest reading.
    smoothing: part(smoothing_on=(Bool, "enabled"), window_s=(Seconds, "window_seconds")) = None
    hysteresis: part(
        start_delay_s=(SecondsFrom0, "start_delay_seconds"), stop_delay_s=(SecondsFrom0, "stop_delay_seconds")
    ) = None


class Period(Block):
    name: text(TariffPeriod, "name", blank=False)
    start: TimeOfDay | None = None  # start and end null: all other times
    end: TimeOfDay | None = None
    rate_per_kwh: _checked(_rate)
    priority: whole(maximum=100, unit="1 = prefer, higher = avoid", minimum=0) = None


class TouBlock(Block):
    enabled: Bool = None
    periods: list[Period] = None
    behavior: part(avoid_peak=Bool, prefer_off_peak=Bool) = None
    # energy_wh, soc_percent and battery_capacity_wh are extensions for the energy and soc modes; null clears.
    target: part(
        target_mode=(choice(TimeOfUse.TargetMode.choices), "mode"),
        ready_by=TimeOfDay,
        target_energy_wh=(WattHours | None, "energy_wh"),
        target_soc_percent=(whole(maximum=100, unit="percent") | None, "soc_percent"),
        battery_capacity_wh=(WattHours | None, "battery_capacity_wh"),
    ) = None


class GridBlock(Block):
    enabled: Bool = None
    demand_response: part(
        source=Info,
        levels=part(
            normal=part(normal_limit_percent=(NormalPercent, "limit_percent")),
            moderate=part(moderate_limit_percent=(Percent, "limit_percent")),
            high=part(high_limit_percent=(Percent, "limit_percent")),
        ),
    ) = None
    frequency_response: part(
        frequency_response_enabled=(Bool, "enabled"), low_frequency_hz=Hertz, high_frequency_hz=Hertz
    ) = None


OCPP_BLOCKS = {"site": SiteBlock, "ocpp": OcppBlock}
ENERGY_BLOCKS = {
    "energy": EnergySection,
    "load_balancing": LoadBalancing,
    "circuits": list[TreeCircuit],
    "solar_charging": SolarBlock,
    "tou_charging": TouBlock,
    "grid_response": GridBlock,
}
