"""The spec's configuration file as pydantic models, one per block: site, ocpp ("OCPP Bridge
Configuration"), energy ("Energy Integration Configuration"), load_balancing, circuits,
solar_charging, tou_charging and grid_response. They check types and limits only (the values'
types are in fields.py); the rules between values are in parsing.py.

A field named after a database column fills that column; its alias is the key in the file. A
`Part` is a mapping whose values fill its parent's row (solar_charging.surplus: SolarCharging).
A key left out stays unset (None), and an explicit null is refused unless the type allows it.
"""

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, create_model, model_validator

from chargers.models import Charger
from energy.configuration.fields import (
    DEFAULT_CIRCUIT_NAME,
    MAX_CHARGER_A,
    MAX_POWER_W,
    Algorithm,
    AuthMethod,
    Bool,
    ChargerId,
    EnvName,
    FailsafeAmps,
    Fuse,
    Hertz,
    Info,
    Name,
    NormalPercent,
    Path,
    Percent,
    Phases,
    Rate,
    Seconds,
    SecondsFrom0,
    SolarMode,
    SupplyPhase,
    TargetMode,
    TimeOfDay,
    TimeZone,
    Version,
    WattHours,
    Watts,
    text,
    whole,
)
from energy.models import Site, TariffPeriod


class Block(BaseModel):
    """A mapping of the file; the keys it does not know are kept, to be reported."""

    model_config = ConfigDict(extra="allow")
    _keys: set[str] = PrivateAttr(default_factory=set)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_keys(cls, data: Any, handler: Any) -> "Block":
        # What the file gives (pydantic's model_fields_set also counts an unknown key named like a field).
        block = handler(data)
        block._keys = set(data) if isinstance(data, dict) else set()
        return block


class Part(Block):
    """A mapping whose values fill its block's row (solar_charging.surplus: SolarCharging)."""


def part(**fields: Any) -> type[Part]:
    """A Part from field=type, or field=(type, key in the file) where the column is named otherwise."""
    declared = {
        name: (spec[0], Field(None, alias=spec[1])) if isinstance(spec, tuple) else (spec, None)
        for name, spec in fields.items()
    }
    return create_model("Part", __base__=Part, **declared)


def given(model: Block) -> dict[str, Any]:
    """Field -> value for the declared fields the file gives, in the schema's order."""
    fields = type(model).model_fields.items()
    return {name: getattr(model, name) for name, info in fields if (info.alias or name) in model._keys}


class SiteBlock(Block):
    """An extension: the site the chargers belong to."""

    name: text(Site, "name", blank=False)
    time_zone: TimeZone = None
    circuit_limit_a: Fuse = None


class Credential(Block):
    charger_id: ChargerId
    password_env: EnvName


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
    rate_per_kwh: Rate
    priority: whole(maximum=100, unit="1 = prefer, higher = avoid", minimum=0) = None


class TouBlock(Block):
    enabled: Bool = None
    periods: list[Period] = None
    behavior: part(avoid_peak=Bool, prefer_off_peak=Bool) = None
    # energy_wh, soc_percent and battery_capacity_wh are extensions for the energy and soc modes; null clears.
    target: part(
        target_mode=(TargetMode, "mode"),
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
