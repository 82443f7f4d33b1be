"""The values of the configuration file, each an Annotated type whose check names what is wrong
in the installer's words ("must be a positive integer (watts)"); the limits and choice lists come
from the models where they have them. parsing.py adds the path to each message."""

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from django.core.exceptions import ValidationError
from django.db import models
from pydantic import PlainValidator
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


def _env_name(value: str) -> str:
    if not _ENV_VAR_NAME.match(value):
        _fail(f"{value!r} is not an environment variable name (letters, digits and _, not starting with a digit)")
    return value


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
TargetMode = choice(TimeOfUse.TargetMode.choices)
Version = _checked(_version)
Rate = _checked(_rate)
TimeZone = text(Site, "time_zone", then=lambda v: _django(validate_time_zone, v, "{message}"))
EnvName = text(Charger, "password_env", blank=False, then=_env_name)
