"""Parsing of the spec's energy settings (see energy/configuration.py for what they mean to an
installer): the dict from yaml.safe_load becomes plain dataclasses, or a ConfigError naming every
bad path at once. Pure: no database.
"""

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from chargers.configuration import MAX_FUSE_A, MAX_POWER_W, ConfigError, ConfigReader
from chargers.models import charge_point_id_validator

ENERGY_KEYS = ("energy", "load_balancing", "circuits", "solar_charging", "tou_charging", "grid_response")
ALGORITHMS = ("proportional", "priority", "round_robin")
SOLAR_MODES = ("solar_only", "solar_priority", "mixed")
TARGET_MODES = ("time", "energy", "soc")
PHASE_NAMES = ("L1", "L2", "L3")
GRID_LEVELS = {"normal": None, "moderate": "moderate_limit_percent", "high": "high_limit_percent"}
DEFAULT_CIRCUIT_NAME = "load balancing circuit"
MAX_SECONDS = 86_400
MAX_CHARGER_A = 500
MAX_ENERGY_WH = 1_000_000
MAX_RATE = Decimal("9999.9999")

_ENERGY_SECTION_KEYS = ("solar_charging", "load_balancing", "tou")
_LB_KEYS = ("circuit", "chargers", "algorithm", "priority", "rebalance", "failsafe")
_CIRCUIT_KEYS = ("name", "max_current_a", "phases", "supply_phase", "parent", "chargers")
_LINK_KEYS = ("id", "max_current_a", "supply_phase")
_PERIOD_KEYS = ("name", "start", "end", "rate_per_kwh", "priority")
_TIME = re.compile(r"^(\d{1,2}):([0-5]\d)(?::([0-5]\d))?$")

# Spec keys describing what this server always does: accepted, with a note when set to false.
_FIXED_BEHAVIOUR = {
    "on_charger_change": "chargers are always rebalanced when one starts, stops or changes state",
    "on_power_change": "chargers are always rebalanced when new readings arrive",
    "charge_only_from_solar": "solar_only always charges from surplus only (see mode solar_priority or mixed)",
    "stop_if_no_surplus": "solar_only always stops without surplus, after the stop delay",
    "prefer_solar": "solar_priority always uses the surplus first",
    "use_available_solar": "mixed always uses the surplus first",
    "top_up_from_grid": "mixed always tops up from the grid, up to max_grid_w",
}


@dataclass
class Values:
    """Model field -> value for what the file sets, and the path each value came from."""

    values: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChargerLink:
    path: str
    charge_point_id: str
    circuit: str | None  # the circuit it hangs on; None: leave its circuit alone
    max_current_a: int | None = None
    supply_phase: str | None = None


@dataclass(frozen=True)
class CircuitConfig:
    path: str
    name: str
    values: dict[str, Any]  # max_current_a, phases, supply_phase
    sets_parent: bool
    parent: str | None = None  # a circuit's name; None: directly under the main fuse


@dataclass(frozen=True)
class PeriodConfig:
    name: str
    start: dt.time | None
    end: dt.time | None
    rate_per_kwh: Decimal
    priority: int | None


@dataclass(frozen=True)
class EnergyConfig:
    site: Values
    circuits: list[CircuitConfig]
    links: list[ChargerLink]
    priority: list[tuple[str, str]] | None  # (charger id, path)
    solar: Values
    smoothing_on: bool | None
    tou: Values
    periods: list[PeriodConfig] | None
    grid: Values
    warnings: list[str]
    notes: list[str]


def _show(value: Any) -> str:
    if isinstance(value, dt.time):
        return f"'{time_text(value)}'"
    if isinstance(value, bool):
        return str(value).lower()
    return f"'{value}'" if isinstance(value, str) else str(value)


def time_text(value: dt.time) -> str:
    return f"{value:%H:%M}" if value.second == 0 else f"{value:%H:%M:%S}"


class _EnergyReader(ConfigReader):
    def load(
        self, section: dict | None, key: str, path: str, into: Values, name: str, parse: Callable[[Any, str], Any]
    ) -> None:
        """Read section[key] with parse and keep it as field `name`; the same field given in two
        places must agree."""
        if section is None or key not in section:
            return
        where = f"{path}.{key}"
        value = parse(section[key], where)
        if value is None:  # the reader has recorded why
            return
        if name in into.values and into.values[name] != value:
            self.errors.append(
                f"{into.paths[name]}: {_show(into.values[name])} disagrees with {where}: {_show(value)}; "
                "give one of them or make them equal"
            )
            return
        into.values[name] = value
        into.paths[name] = where

    def sub(self, section: dict | None, key: str, path: str, known: tuple[str, ...]) -> dict | None:
        if section is None or key not in section:
            return None
        return self.mapping(section[key], f"{path}.{key}", known)

    def count(self, value: Any, path: str, *, maximum: int, unit: str) -> int | None:
        """A whole number from 0."""
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            self.errors.append(f"{path}: must be a whole number from 0 ({unit})")
        elif value > maximum:
            self.errors.append(f"{path}: must be at most {maximum} ({unit})")
        else:
            return value
        return None

    def number(self, value: Any, path: str, *, minimum: float, maximum: float, unit: str) -> float | None:
        if not isinstance(value, int | float) or isinstance(value, bool) or not minimum <= value <= maximum:
            self.errors.append(f"{path}: must be a number from {minimum:g} to {maximum:g} ({unit})")
            return None
        return float(value)

    def choice(self, value: Any, path: str, *, choices: tuple[str, ...]) -> str | None:
        if not isinstance(value, str) or value not in choices:
            self.errors.append(f"{path}: must be one of {', '.join(choices)}")
            return None
        return value

    def phases(self, value: Any, path: str) -> int | None:
        if value in (1, 3) and type(value) is int:
            return value
        self.errors.append(f"{path}: must be 1 or 3")
        return None

    def nullable(self, parse: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
        """null clears the value; parse's None (an error) must not."""
        return lambda value, path: CLEAR if value is None else parse(value, path)

    def time_of_day(self, value: Any, path: str) -> dt.time | None:
        # YAML 1.1 reads an unquoted 7:00 as the base-60 number 420 (07:00, with its leading zero,
        # stays a string). Such a number is minutes since midnight; one below 60 cannot come from
        # h:mm, so it is a mistake rather than a time.
        if isinstance(value, int) and not isinstance(value, bool) and 60 <= value <= 1440:
            return dt.time(value // 60 % 24, value % 60)
        match = _TIME.match(value.strip()) if isinstance(value, str) else None
        if match and (int(match[1]) < 24 or (match[1] == "24" and match[2] == "00" and not match[3])):
            # 24:00 is the end of the day: midnight.
            return dt.time(int(match[1]) % 24, int(match[2]), int(match[3] or 0))
        self.errors.append(f'{path}: must be a time of day such as "07:00" (in quotes)')
        return None

    def charger_id(self, value: Any, path: str) -> str | None:
        charge_point_id = self.string(value, path, max_length=48, blank=False)
        if charge_point_id is not None and not charge_point_id_validator.regex.match(charge_point_id):
            self.errors.append(f"{path}: {charge_point_id!r}: {charge_point_id_validator.message}")
            return None
        return charge_point_id

    def fixed(self, section: dict | None, path: str, keys: tuple[str, ...]) -> None:
        for key in keys:
            if section is not None and key in section and self.boolean(section[key], f"{path}.{key}") is False:
                self.notes.append(f"{path}.{key}: false is ignored; {_FIXED_BEHAVIOUR[key]}")

    def text(self, section: dict | None, key: str, path: str) -> None:
        """An informational string the spec shows (a source, a formula): checked, not stored."""
        if section is not None and key in section:
            self.string(section[key], f"{path}.{key}", max_length=200)


class _Clear:
    def __repr__(self) -> str:
        return "null"


CLEAR = _Clear()  # a nullable field set to null; None would mean "invalid, already reported"


def energy_config_parse(*, data: object) -> EnergyConfig:
    """Validate the energy parts of a loaded file without touching the database. Top-level keys
    that are not energy settings (site, ocpp) are left to config_parse."""
    if not isinstance(data, dict):
        raise ConfigError(["the file: must be a mapping (key: value lines)"])
    reader = _EnergyReader()
    site, solar, tou, grid = Values(), Values(), Values(), Values()
    if "energy" in data:
        _parse_energy_section(reader, data["energy"], site=site, solar=solar, tou=tou)
    circuits: list[CircuitConfig] = []
    links: list[ChargerLink] = []
    priority = None
    if "load_balancing" in data:
        priority = _parse_load_balancing(reader, data["load_balancing"], site=site, circuits=circuits, links=links)
    for index, entry in enumerate(reader.sequence(data["circuits"], "circuits") if "circuits" in data else []):
        _parse_circuit(reader, entry, f"circuits[{index}]", _CIRCUIT_KEYS, None, circuits=circuits, links=links)
    _check_tree(reader, circuits, links)
    smoothing_on = _parse_solar(reader, data["solar_charging"], solar) if "solar_charging" in data else None
    periods = _parse_tou(reader, data["tou_charging"], tou) if "tou_charging" in data else None
    if "grid_response" in data:
        _parse_grid(reader, data["grid_response"], grid)
    if reader.errors:
        raise ConfigError(reader.errors)
    return EnergyConfig(
        site=site,
        circuits=circuits,
        links=links,
        priority=priority,
        solar=solar,
        smoothing_on=smoothing_on,
        tou=tou,
        periods=periods,
        grid=grid,
        warnings=reader.warnings,
        notes=reader.notes,
    )


def _parse_energy_section(reader: _EnergyReader, value: Any, *, site: Values, solar: Values, tou: Values) -> None:
    energy = reader.mapping(value, "energy", _ENERGY_SECTION_KEYS)
    path = "energy.solar_charging"
    section = reader.sub(
        energy, "solar_charging", "energy", ("enabled", "mode", "min_surplus_w", "update_interval_seconds")
    )
    reader.load(section, "enabled", path, solar, "enabled", reader.boolean)
    reader.load(section, "mode", path, solar, "mode", partial(reader.choice, choices=SOLAR_MODES))
    reader.load(
        section, "min_surplus_w", path, solar, "min_surplus_w", partial(reader.count, maximum=MAX_POWER_W, unit="watts")
    )
    interval = partial(reader.positive_int, maximum=MAX_SECONDS, unit="seconds")
    reader.load(section, "update_interval_seconds", path, solar, "update_interval_s", interval)

    path = "energy.load_balancing"
    section = reader.sub(energy, "load_balancing", "energy", ("enabled", "circuit_limit_a", "algorithm"))
    reader.load(section, "enabled", path, site, "load_balancing_enabled", reader.boolean)
    fuse = partial(reader.positive_int, maximum=MAX_FUSE_A, unit="amps")
    reader.load(section, "circuit_limit_a", path, site, "circuit_limit_a", fuse)
    reader.load(section, "algorithm", path, site, "algorithm", partial(reader.choice, choices=ALGORITHMS))

    path = "energy.tou"
    section = reader.sub(energy, "tou", "energy", ("enabled", "avoid_peak", "ready_by"))
    reader.load(section, "enabled", path, tou, "enabled", reader.boolean)
    reader.load(section, "avoid_peak", path, tou, "avoid_peak", reader.boolean)
    reader.load(section, "ready_by", path, tou, "ready_by", reader.time_of_day)


def _parse_load_balancing(
    reader: _EnergyReader, value: Any, *, site: Values, circuits: list[CircuitConfig], links: list[ChargerLink]
) -> list[tuple[str, str]] | None:
    path = "load_balancing"
    lb = reader.mapping(value, path, _LB_KEYS)
    if lb is None:
        return None
    circuit_name = None
    if "circuit" in lb:
        known = ("name", "max_current_a", "phases", "supply_phase")
        circuit = _parse_circuit(reader, lb["circuit"], f"{path}.circuit", known, DEFAULT_CIRCUIT_NAME, circuits, links)
        circuit_name = circuit.name if circuit else None
    if "chargers" in lb:
        links += _parse_links(reader, lb["chargers"], f"{path}.chargers", circuit_name)
    reader.load(lb, "algorithm", path, site, "algorithm", partial(reader.choice, choices=ALGORITHMS))

    rebalance = reader.sub(lb, "rebalance", path, ("on_charger_change", "on_power_change", "min_interval_seconds"))
    reader.fixed(rebalance, f"{path}.rebalance", ("on_charger_change", "on_power_change"))
    interval = partial(reader.count, maximum=MAX_SECONDS, unit="seconds")
    reader.load(rebalance, "min_interval_seconds", f"{path}.rebalance", site, "min_interval_s", interval)
    failsafe = reader.sub(lb, "failsafe", path, ("meter_timeout_seconds", "current_a"))
    timeout = partial(reader.positive_int, maximum=MAX_SECONDS, unit="seconds")
    reader.load(failsafe, "meter_timeout_seconds", f"{path}.failsafe", site, "meter_timeout_s", timeout)
    current = partial(reader.number, minimum=0, maximum=MAX_CHARGER_A, unit="amps per charger; 0 stops charging")
    reader.load(failsafe, "current_a", f"{path}.failsafe", site, "failsafe_current_a", current)

    if "priority" not in lb:
        return None
    priority: list[tuple[str, str]] = []
    for index, entry in enumerate(reader.sequence(lb["priority"], f"{path}.priority")):
        where = f"{path}.priority[{index}]"
        charge_point_id = reader.charger_id(entry, where)
        if charge_point_id in dict(priority):
            reader.errors.append(
                f"{where}: {charge_point_id!r} is listed twice (also {dict(priority)[charge_point_id]})"
            )
        elif charge_point_id is not None:
            priority.append((charge_point_id, where))
    return priority


def _parse_circuit(
    reader: _EnergyReader,
    value: Any,
    path: str,
    known: tuple[str, ...],
    default_name: str | None,
    circuits: list[CircuitConfig],
    links: list[ChargerLink],
) -> CircuitConfig | None:
    entry = reader.mapping(value, path, known)
    if entry is None:
        return None
    if "name" not in entry and default_name is None:
        reader.errors.append(f"{path}.name: missing")
        return None
    name = (
        reader.string(entry["name"], f"{path}.name", max_length=100, blank=False) if "name" in entry else default_name
    )
    into = Values()
    reader.load(
        entry,
        "max_current_a",
        path,
        into,
        "max_current_a",
        partial(reader.positive_int, maximum=MAX_FUSE_A, unit="amps"),
    )
    reader.load(entry, "phases", path, into, "phases", reader.phases)
    reader.load(entry, "supply_phase", path, into, "supply_phase", partial(reader.choice, choices=PHASE_NAMES))
    parent = None
    if entry.get("parent") is not None:
        parent = reader.string(entry["parent"], f"{path}.parent", max_length=100, blank=False)
    if name is None:
        return None
    if "chargers" in entry:
        links += _parse_links(reader, entry["chargers"], f"{path}.chargers", name)
    circuit = CircuitConfig(path=path, name=name, values=into.values, sets_parent="parent" in entry, parent=parent)
    circuits.append(circuit)
    return circuit


def _parse_links(reader: _EnergyReader, value: Any, path: str, circuit: str | None) -> list[ChargerLink]:
    """A chargers list: ids, or mappings with id and optional max_current_a / supply_phase."""
    links = []
    for index, entry in enumerate(reader.sequence(value, path)):
        where = f"{path}[{index}]"
        if isinstance(entry, str):
            entry, id_path = {"id": entry}, where
        else:
            entry, id_path = reader.mapping(entry, where, _LINK_KEYS), f"{where}.id"
            if entry is not None and "id" not in entry:
                reader.errors.append(f"{id_path}: missing")
                continue
        if entry is None:
            continue
        charge_point_id = reader.charger_id(entry["id"], id_path)
        into = Values()
        amps = partial(reader.positive_int, maximum=MAX_CHARGER_A, unit="amps")
        reader.load(entry, "max_current_a", where, into, "max_current_a", amps)
        reader.load(entry, "supply_phase", where, into, "supply_phase", partial(reader.choice, choices=PHASE_NAMES))
        if charge_point_id is not None:
            links.append(ChargerLink(where, charge_point_id, circuit, **into.values))
    return links


def _check_tree(reader: _EnergyReader, circuits: list[CircuitConfig], links: list[ChargerLink]) -> None:
    """Each circuit and charger once; no circuit among its own ancestors."""
    seen: dict[str, str] = {}
    for circuit in circuits:
        if circuit.name in seen:
            reader.errors.append(f"{circuit.path}.name: {circuit.name!r} is listed twice (also {seen[circuit.name]})")
        seen.setdefault(circuit.name, circuit.path)
    placed: dict[str, str] = {}
    for link in links:
        if link.charge_point_id in placed:
            reader.errors.append(
                f"{link.path}: {link.charge_point_id!r} is listed twice (also {placed[link.charge_point_id]})"
            )
        placed.setdefault(link.charge_point_id, link.path)
    parents = {c.name: c.parent for c in circuits if c.sets_parent}
    for circuit in circuits:
        chain, node = [circuit.name], parents.get(circuit.name)
        while node is not None and node not in chain:
            chain.append(node)
            node = parents.get(node)
        if node == circuit.name:
            reader.errors.append(f"{circuit.path}.parent: makes a loop ({' -> '.join([*chain, node])})")


def _parse_solar(reader: _EnergyReader, value: Any, solar: Values) -> bool | None:
    """Returns smoothing.enabled when given."""
    path = "solar_charging"
    block = reader.mapping(
        value, path, ("enabled", "surplus", "behavior", "update_interval_seconds", "smoothing", "hysteresis")
    )
    watts = partial(reader.count, maximum=MAX_POWER_W, unit="watts")
    seconds = partial(reader.positive_int, maximum=MAX_SECONDS, unit="seconds")
    reader.load(block, "enabled", path, solar, "enabled", reader.boolean)
    surplus = reader.sub(block, "surplus", path, ("source", "formula", "min_surplus_w"))
    reader.text(surplus, "source", f"{path}.surplus")
    reader.text(surplus, "formula", f"{path}.surplus")
    reader.load(surplus, "min_surplus_w", f"{path}.surplus", solar, "min_surplus_w", watts)

    behavior = reader.sub(block, "behavior", path, ("mode", *SOLAR_MODES))
    where = f"{path}.behavior"
    reader.load(behavior, "mode", where, solar, "mode", partial(reader.choice, choices=SOLAR_MODES))
    only = reader.sub(behavior, "solar_only", where, ("charge_only_from_solar", "stop_if_no_surplus"))
    reader.fixed(only, f"{where}.solar_only", ("charge_only_from_solar", "stop_if_no_surplus"))
    priority = reader.sub(behavior, "solar_priority", where, ("prefer_solar", "allow_grid_minimum"))
    reader.fixed(priority, f"{where}.solar_priority", ("prefer_solar",))
    reader.load(priority, "allow_grid_minimum", f"{where}.solar_priority", solar, "allow_grid_minimum_w", watts)
    mixed = reader.sub(behavior, "mixed", where, ("use_available_solar", "top_up_from_grid", "max_grid_w"))
    reader.fixed(mixed, f"{where}.mixed", ("use_available_solar", "top_up_from_grid"))
    reader.load(mixed, "max_grid_w", f"{where}.mixed", solar, "max_grid_w", watts)
    reader.load(block, "update_interval_seconds", path, solar, "update_interval_s", seconds)

    smoothing = reader.sub(block, "smoothing", path, ("enabled", "window_seconds"))
    smoothing_on = None
    if smoothing is not None and "enabled" in smoothing:
        smoothing_on = reader.boolean(smoothing["enabled"], f"{path}.smoothing.enabled")
    if smoothing_on is False:
        # No smoothing is a window of 0 s: the latest reading.
        reader.load(smoothing, "enabled", f"{path}.smoothing", solar, "window_s", lambda value, where: 0)
        if "window_seconds" in smoothing and seconds(smoothing["window_seconds"], f"{path}.smoothing.window_seconds"):
            reader.notes.append(f"{path}.smoothing.window_seconds: ignored while smoothing.enabled is false")
    else:
        reader.load(smoothing, "window_seconds", f"{path}.smoothing", solar, "window_s", seconds)
    hysteresis = reader.sub(block, "hysteresis", path, ("start_delay_seconds", "stop_delay_seconds"))
    delay = partial(reader.count, maximum=MAX_SECONDS, unit="seconds")
    reader.load(hysteresis, "start_delay_seconds", f"{path}.hysteresis", solar, "start_delay_s", delay)
    reader.load(hysteresis, "stop_delay_seconds", f"{path}.hysteresis", solar, "stop_delay_s", delay)
    return smoothing_on


def _parse_tou(reader: _EnergyReader, value: Any, tou: Values) -> list[PeriodConfig] | None:
    path = "tou_charging"
    block = reader.mapping(value, path, ("enabled", "periods", "behavior", "target"))
    reader.load(block, "enabled", path, tou, "enabled", reader.boolean)
    behavior = reader.sub(block, "behavior", path, ("avoid_peak", "prefer_off_peak"))
    reader.load(behavior, "avoid_peak", f"{path}.behavior", tou, "avoid_peak", reader.boolean)
    reader.load(behavior, "prefer_off_peak", f"{path}.behavior", tou, "prefer_off_peak", reader.boolean)
    target = reader.sub(block, "target", path, ("mode", "ready_by", "energy_wh", "soc_percent", "battery_capacity_wh"))
    where = f"{path}.target"
    reader.load(target, "mode", where, tou, "target_mode", partial(reader.choice, choices=TARGET_MODES))
    reader.load(target, "ready_by", where, tou, "ready_by", reader.time_of_day)
    energy = reader.nullable(partial(reader.positive_int, maximum=MAX_ENERGY_WH, unit="watt-hours"))
    reader.load(target, "energy_wh", where, tou, "target_energy_wh", energy)
    reader.load(target, "battery_capacity_wh", where, tou, "battery_capacity_wh", energy)
    percent = reader.nullable(partial(reader.positive_int, maximum=100, unit="percent"))
    reader.load(target, "soc_percent", where, tou, "target_soc_percent", percent)
    if block is None or "periods" not in block:
        return None
    return _parse_periods(reader, block["periods"], f"{path}.periods")


def _parse_periods(reader: _EnergyReader, value: Any, path: str) -> list[PeriodConfig]:
    periods: list[PeriodConfig] = []
    paths: dict[str, str] = {}
    for index, entry in enumerate(reader.sequence(value, path)):
        where = f"{path}[{index}]"
        period = reader.mapping(entry, where, _PERIOD_KEYS)
        if period is None:
            continue
        missing = [key for key in ("name", "rate_per_kwh") if key not in period]
        reader.errors += [f"{where}.{key}: missing" for key in missing]
        if missing:
            continue
        name = reader.string(period["name"], f"{where}.name", max_length=50, blank=False)
        start = reader.time_of_day(period["start"], f"{where}.start") if period.get("start") is not None else None
        end = reader.time_of_day(period["end"], f"{where}.end") if period.get("end") is not None else None
        if (period.get("start") is None) != (period.get("end") is None):
            reader.errors.append(f"{where}: give both start and end, or neither (null: all other times)")
        elif start is not None and start == end:
            reader.errors.append(f"{where}.end: equals start, so the period would never apply")
        rate = _rate(reader, period["rate_per_kwh"], f"{where}.rate_per_kwh")
        priority = None
        if "priority" in period:
            priority = reader.count(
                period["priority"], f"{where}.priority", maximum=100, unit="1 = prefer, higher = avoid"
            )
        if name in paths:
            reader.errors.append(f"{where}.name: {name!r} is listed twice (also {paths[name]})")
        elif name is not None and rate is not None:
            paths[name] = where
            periods.append(PeriodConfig(name, start, end, rate, priority))
    defaults = [paths[p.name] for p in periods if p.start is None and p.end is None]
    if len(defaults) > 1:
        reader.errors.append(f"{defaults[1]}: only one period can cover all other times (also {defaults[0]})")
    minutes = {p.name: _minutes(p) for p in periods if p.start is not None and p.end is not None}
    names = list(minutes)
    for i, name in enumerate(names):
        for other in names[:i]:
            if minutes[name] & minutes[other]:
                reader.warnings.append(f"{paths[name]}: overlaps {paths[other]} ('{other}'); only one applies there")
    return periods


def _minutes(period: PeriodConfig) -> set[int]:
    start = period.start.hour * 60 + period.start.minute
    end = period.end.hour * 60 + period.end.minute
    return set(range(start, end)) if start < end else set(range(start, 1440)) | set(range(end))


def _rate(reader: _EnergyReader, value: Any, path: str) -> Decimal | None:
    try:
        rate = Decimal(str(value)) if isinstance(value, int | float) and not isinstance(value, bool) else None
    except InvalidOperation:
        rate = None
    if rate is None or not rate.is_finite() or not 0 <= rate <= MAX_RATE:
        reader.errors.append(f"{path}: must be a number from 0 to {MAX_RATE} (price per kWh)")
    elif rate.as_tuple().exponent < -4:
        reader.errors.append(f"{path}: at most 4 decimal places")
    else:
        return rate
    return None


def _parse_grid(reader: _EnergyReader, value: Any, grid: Values) -> None:
    path = "grid_response"
    block = reader.mapping(value, path, ("enabled", "demand_response", "frequency_response"))
    reader.load(block, "enabled", path, grid, "enabled", reader.boolean)
    demand = reader.sub(block, "demand_response", path, ("source", "levels"))
    reader.text(demand, "source", f"{path}.demand_response")
    levels = reader.sub(demand, "levels", f"{path}.demand_response", tuple(GRID_LEVELS))
    for level, name in GRID_LEVELS.items():
        where = f"{path}.demand_response.levels.{level}"
        entry = reader.sub(levels, level, f"{path}.demand_response.levels", ("limit_percent",))
        percent = partial(reader.count, maximum=100, unit="percent")
        if name is not None:
            reader.load(entry, "limit_percent", where, grid, name, percent)
        elif (
            entry is not None
            and "limit_percent" in entry
            and percent(entry["limit_percent"], f"{where}.limit_percent") not in (100, None)
        ):
            reader.errors.append(f"{where}.limit_percent: must be 100 (the normal level does not limit)")
    where = f"{path}.frequency_response"
    frequency = reader.sub(block, "frequency_response", path, ("enabled", "low_frequency_hz", "high_frequency_hz"))
    reader.load(frequency, "enabled", where, grid, "frequency_response_enabled", reader.boolean)
    hertz = partial(reader.number, minimum=40, maximum=70, unit="hertz")
    reader.load(frequency, "low_frequency_hz", where, grid, "low_frequency_hz", hertz)
    reader.load(frequency, "high_frequency_hz", where, grid, "high_frequency_hz", hertz)
