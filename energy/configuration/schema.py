"""The spec's configuration file as pydantic models, one per block: site, ocpp ("OCPP Bridge
Configuration"), energy ("Energy Integration Configuration"), load_balancing, circuits,
solar_charging, tou_charging, tariff and grid_response, with the values' types above them.

Each type's check names what is wrong in the installer's words ("must be a positive integer
(watts)"); the limits and choice lists come from the models where they have them, and
parsing.py adds the path. A field named after a database column fills that column; its alias is
the key in the file. A `Part` is a mapping whose values fill its parent's row
(solar_charging.surplus: SolarCharging). A key left out stays unset, and an explicit null is
refused unless the type allows it.
"""

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from django.core.exceptions import ValidationError
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from chargers.models import OCPP16, OCPP201, Charger, SecurityProfile, charge_point_id_validator
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

# protocol.version in the file -> the charger's protocol column (the one a charger that offers no
# WebSocket subprotocol is spoken to in).
PROTOCOL_OF_VERSION = {"1.6": OCPP16, "2.0.1": OCPP201}
VERSION_OF_PROTOCOL = {protocol: version for version, protocol in PROTOCOL_OF_VERSION.items()}
DEFAULT_CIRCUIT_NAME = "load balancing circuit"
# Limits of the file's numbers where the database has none: plausible for a home, refusing typos.
MAX_POWER_W = 1_000_000
MAX_CHARGER_A = 500
_RATE = TariffPeriod._meta.get_field("rate_per_kwh")
MAX_RATE = Decimal(10) ** (_RATE.max_digits - _RATE.decimal_places) - Decimal(1).scaleb(-_RATE.decimal_places)
_FEED_IN = Site._meta.get_field("feed_in_per_kwh")
MAX_FEED_IN = Decimal(100)  # the site_feed_in_in_range constraint: an export may also cost (negative)
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


def whole(unit: str, *, maximum: int, minimum: int = 1) -> Any:
    words = "a positive integer" if minimum else "a whole number from 0"

    def check(value: Any) -> int:
        if not _is_int(value) or value < minimum:
            _fail(f"must be {words} ({unit})")
        if value > maximum:
            _fail(f"must be at most {maximum} ({unit})")
        return value

    return _checked(check)


def number(unit: str, *, minimum: float, maximum: float) -> Any:
    def check(value: Any) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool) or not minimum <= value <= maximum:
            _fail(f"must be a number from {minimum:g} to {maximum:g} ({unit})")
        return float(value)

    return _checked(check)


def text(max_length: int, *, blank: bool = True, validator=None, template: str = "{message}") -> Any:
    """A string of at most `max_length` characters; `validator` is a Django one, its message
    shown through `template`."""

    def check(value: Any) -> str:
        if not isinstance(value, str):
            _fail("must be a string (quote it if in doubt)")
        if not blank and not value.strip():
            _fail("must not be empty")
        if len(value) > max_length:
            _fail(f"must be at most {max_length} characters")
        try:
            if validator:
                validator(value)
        except ValidationError as exc:
            _fail(template.format(value=value, message=exc.messages[0]))
        return value

    return _checked(check)


def column(model, field: str, **options: Any) -> Any:
    """A string as long as the model's column allows."""
    return text(model._meta.get_field(field).max_length, **options)


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
    return value if isinstance(value, bool) else _fail("must be true or false")


def _version(value: Any) -> str:
    # An unquoted 1.6 is a float in YAML; installers should not have to know that.
    version = str(value) if isinstance(value, float) else value
    if version not in PROTOCOL_OF_VERSION:
        _fail(f'{version!r} is not an OCPP version this server speaks: "1.6" or "2.0.1"')
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


def _feed_in(value: Any) -> Decimal:
    rate = Decimal(str(value)) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if rate is None or not rate.is_finite() or not -MAX_FEED_IN <= rate <= MAX_FEED_IN:
        _fail(f"must be a number from {-MAX_FEED_IN} to {MAX_FEED_IN} (what an exported kWh earns)")
    if rate.as_tuple().exponent < -_FEED_IN.decimal_places:
        _fail(f"at most {_FEED_IN.decimal_places} decimal places")
    return rate


def _env_name(value: str) -> None:
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
        raise ValidationError("is not an environment variable name (letters, digits and _, not starting with a digit)")


Bool = _checked(_boolean)
ChargerId = column(
    Charger, "charge_point_id", blank=False, validator=charge_point_id_validator, template="{value!r}: {message}"
)
Name = column(Circuit, "name", blank=False)
Phases = choice(PHASE_CHOICES)
SupplyPhase = choice(SUPPLY_PHASE_CHOICES)
Fuse = whole("amps", maximum=10_000)
Watts = whole("watts", maximum=MAX_POWER_W, minimum=0)
Seconds = whole("seconds", maximum=86_400)
SecondsFrom0 = whole("seconds", maximum=86_400, minimum=0)
Percent = whole("percent", maximum=100, minimum=0)
WattHours = whole("watt-hours", maximum=1_000_000)
TimeOfDay = _checked(_time_of_day)
Info = text(200)  # what the spec shows for information (a source, a formula): checked, not stored
Path = text(4096)
SolarMode = choice(SolarCharging.Mode.choices)
Algorithm = choice(ALGORITHM_CHOICES)
TargetMode = choice(TimeOfUse.TargetMode.choices)
AuthMethod = choice([("basic", ""), ("certificate", "")], 'must be "basic" or "certificate"')
Profile = choice(SecurityProfile.choices)
Hertz = number("hertz", minimum=40, maximum=70)
FailsafeAmps = number("amps per charger; 0 stops charging", minimum=0, maximum=MAX_CHARGER_A)
NormalPercent = _checked(
    lambda v: v if _is_int(v) and v == 100 else _fail("must be 100 (the normal level does not limit)")
)
Version = _checked(_version)
Rate = _checked(_rate)
FeedIn = _checked(_feed_in)
TimeZone = column(Site, "time_zone", validator=validate_time_zone)
EnvName = column(Charger, "password_env", blank=False, validator=_env_name, template="{value!r} {message}")


class Block(BaseModel):
    """A mapping of the file; the keys it does not know are kept, to be reported."""

    model_config = ConfigDict(extra="allow")
    _keys: set[str] = PrivateAttr(default_factory=set)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_keys(cls, data: Any, handler: Any) -> "Block":
        # pydantic's model_fields_set also counts an unknown key spelled like a field's name.
        block = handler(data)
        block._keys = set(data) if isinstance(data, dict) else set()
        return block

    def given(self) -> dict[str, Any]:
        """Field -> value for the fields the file gives, in the schema's order."""
        fields = type(self).model_fields.items()
        return {name: getattr(self, name) for name, info in fields if (info.alias or name) in self._keys}


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

    name: column(Site, "name", blank=False)
    time_zone: TimeZone = None
    circuit_limit_a: Fuse = None


class Credential(Block):
    charger_id: ChargerId
    password_env: EnvName


class OcppCharger(Block):
    charge_point_id: ChargerId = Field(alias="id")
    name: column(Charger, "name") = None
    location: column(Charger, "location") = None
    max_power_w: whole("watts, e.g. 7400", maximum=MAX_POWER_W) = None
    phases: Phases = None
    # An extension; null: the server default, overriding protocol.heartbeat_interval.
    heartbeat_interval_s: Seconds | None = Field(None, alias="heartbeat_interval")
    # Extensions overriding protocol.version and auth.method for this charger.
    version: Version = Field(None, alias="protocol")
    security_profile: Profile = None


class OcppBlock(Block):
    enabled: Bool = None
    server: part(port=whole("a TCP port", maximum=65535), tls=part(enabled=Bool, cert_file=Path, key_file=Path)) = None
    protocol: part(version=Version, heartbeat_interval=Seconds) = None
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
    max_current_a: whole("amps", maximum=MAX_CHARGER_A) = None
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
    name: column(TariffPeriod, "name", blank=False)
    start: TimeOfDay | None = None  # start and end null: all other times
    end: TimeOfDay | None = None
    rate_per_kwh: Rate
    priority: whole("1 = prefer, higher = avoid", maximum=100, minimum=0) = None

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: dt.time | None, info: Any) -> dt.time | None:
        if end is not None and end == info.data.get("start"):
            _fail("equals start, so the period would never apply")
        return end

    @model_validator(mode="after")
    def _start_with_end(self) -> "Period":
        if (self.start is None) != (self.end is None):
            _fail("give both start and end, or neither (null: all other times)")
        return self


class TouBlock(Block):
    enabled: Bool = None
    periods: list[Period] = None
    behavior: part(avoid_peak=Bool, prefer_off_peak=Bool) = None
    # energy_wh, soc_percent and battery_capacity_wh are extensions for the energy and soc modes; null clears.
    target: part(
        target_mode=(TargetMode, "mode"),
        ready_by=TimeOfDay,
        target_energy_wh=(WattHours | None, "energy_wh"),
        target_soc_percent=(whole("percent", maximum=100) | None, "soc_percent"),
        battery_capacity_wh=(WattHours | None, "battery_capacity_wh"),
    ) = None


class TariffBlock(Block):
    """An extension: what the site's tariff pays for export (the periods are tou_charging's)."""

    feed_in_per_kwh: FeedIn = None


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
    "tariff": TariffBlock,
    "grid_response": GridBlock,
}
