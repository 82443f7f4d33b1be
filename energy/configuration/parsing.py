"""A loaded file read through the schema (schema.py), then by the rules between its blocks and
list items, into what importing.py applies. Pure: no database. Every problem comes with its path
in the file (`ocpp.chargers[1].max_power_w: must be ...`) and all of them at once, so the
installer fixes the file in one pass.
"""

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import models
from pydantic import TypeAdapter, ValidationError

from chargers.models import SecurityProfile
from energy.configuration.schema import (
    ENERGY_BLOCKS,
    OCPP_BLOCKS,
    PROTOCOL_OF_VERSION,
    Block,
    ChargerLink,
    EnergySection,
    LbCircuit,
    LoadBalancing,
    OcppBlock,
    Part,
    Period,
    SiteBlock,
    TouBlock,
    time_text,
)
from energy.models import GridResponse, Site, SolarCharging, TimeOfUse

BLOCKS = {**OCPP_BLOCKS, **ENERGY_BLOCKS}
_ADAPTERS = {key: TypeAdapter(schema) for key, schema in BLOCKS.items()}
_MESSAGES = {
    "missing": "missing",
    "model_type": "must be a mapping (key: value lines)",
    "list_type": "must be a list (lines starting with '- ')",
}
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


class ConfigError(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class Values:
    """Column of `model` -> value for what the file sets, and the path each value came from."""

    model: type[models.Model]
    values: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChargerConfig:
    charge_point_id: str
    values: dict[str, Any]  # Charger column -> value, only for what the file sets
    path: str  # e.g. "ocpp.chargers[1]", for warnings about it


@dataclass
class ConfigFile:
    """What a file asks for; empty where it says nothing."""

    site: SiteBlock | None = None
    chargers: list[ChargerConfig] = field(default_factory=list)
    balancing: Values = field(default_factory=lambda: Values(Site))
    circuits: list[tuple[str, LbCircuit]] = field(default_factory=list)
    # A charger listed under a circuit, or under load_balancing without one: (path, link, circuit or None).
    placements: list[tuple[str, ChargerLink, str | None]] = field(default_factory=list)
    priority: list[tuple[str, str]] | None = None  # (charger id, path)
    solar: Values = field(default_factory=lambda: Values(SolarCharging))
    smoothing_on: bool | None = None
    tou: Values = field(default_factory=lambda: Values(TimeOfUse))
    periods: list[tuple[str, Period]] | None = None
    grid: Values = field(default_factory=lambda: Values(GridResponse))
    tariff: Values = field(default_factory=lambda: Values(Site))  # the feed-in rate
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def load(self, into: Values, block: Block | None, path: str) -> None:
        """Keep the columns a block and its parts set; the same column set twice must agree."""
        if block is None:
            return
        columns = {column.name for column in into.model._meta.concrete_fields}
        for name, value in block.given().items():
            where = f"{path}.{type(block).model_fields[name].alias or name}"
            if isinstance(value, Part):
                self.load(into, value, where)
            elif name in _FIXED_BEHAVIOUR and value is False:
                self.notes.append(f"{where}: false is ignored; {_FIXED_BEHAVIOUR[name]}")
            elif name in columns and name in into.values and into.values[name] != value:
                self.disagree(into.paths[name], into.values[name], where, value)
            elif name in columns:
                into.values[name], into.paths[name] = value, where

    def disagree(self, path: str, value: Any, other_path: str, other: Any) -> None:
        self.errors.append(
            f"{path}: {_show(value)} disagrees with {other_path}: {_show(other)}; give one of them or make them equal"
        )

    def once(self, entries: list[tuple[str, str, str]]) -> dict[str, str]:
        """Each (key, path, what at path) listed again is an error; returns key -> its first path."""
        first: dict[str, str] = {}
        for key, path, at in entries:
            if key in first:
                self.errors.append(f"{path}{at}: {key!r} is listed twice (also {first[key]})")
            first.setdefault(key, path)
        return first


def _show(value: Any) -> str:
    if isinstance(value, dt.time):
        return f"'{time_text(value)}'"
    if isinstance(value, bool):
        return str(value).lower()
    return f"'{value}'" if isinstance(value, str) else str(value)


def _where(path: str, loc: tuple) -> str:
    return path + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def _unknown(value: Any, path: str) -> list[str]:
    if isinstance(value, list):
        return [warning for index, item in enumerate(value) for warning in _unknown(item, f"{path}[{index}]")]
    if not isinstance(value, Block):
        return []
    warnings = [f"{path}.{key}: unknown key; ignored" for key in value.model_extra or {}]
    for name, info in type(value).model_fields.items():
        warnings += _unknown(getattr(value, name), f"{path}.{info.alias or name}")
    return warnings


def _parse(data: object, keys: dict, *, required: tuple[str, ...] = (), warn_unknown: bool = True) -> ConfigFile:
    """The blocks in `keys` read from a file, then the rules of the ocpp and energy parts among them."""
    if not isinstance(data, dict):
        raise ConfigError(["the file: must be a mapping (key: value lines)"])
    config, found = ConfigFile(), {}
    if warn_unknown:
        config.warnings += [f"{key}: unknown key; ignored" for key in data if key not in keys]
    config.errors += [f"{key}: missing" for key in required if key not in data]
    for key in keys:
        if key not in data:
            continue
        try:
            found[key] = _ADAPTERS[key].validate_python(data[key])
        except ValidationError as exc:
            config.errors += [f"{_where(key, e['loc'])}: {_MESSAGES.get(e['type'], e['msg'])}" for e in exc.errors()]
        else:
            config.warnings += _unknown(found[key], key)
    if "ocpp" in keys:
        _ocpp_rules(config, found)
    if "energy" in keys:
        _energy_rules(config, found)
    limit_a, other_a = config.site and config.site.circuit_limit_a, config.balancing.values.get("circuit_limit_a")
    if None not in (limit_a, other_a) and limit_a != other_a:
        config.disagree("site.circuit_limit_a", limit_a, config.balancing.paths["circuit_limit_a"], other_a)
    if config.errors:
        raise ConfigError(config.errors)
    return config


def ocpp_config_parse(*, data: object) -> ConfigFile:
    """The spec's ocpp.yaml (with the site: extension); any other top-level key is a warning."""
    return _parse(data, OCPP_BLOCKS, required=("ocpp",))


def energy_config_parse(*, data: object) -> ConfigFile:
    """The energy settings of a file; its other top-level keys are left to ocpp_config_parse."""
    return _parse(data, ENERGY_BLOCKS, warn_unknown=False)


def config_file_parse(*, data: object) -> ConfigFile:
    """A file holding any of site:, ocpp:, energy: and the energy blocks."""
    if isinstance(data, dict) and "ocpp" not in data and not any(key in data for key in ENERGY_BLOCKS):
        raise ConfigError([f"the file has none of ocpp, {', '.join(ENERGY_BLOCKS)}: nothing to import"])
    return _parse(data, BLOCKS)


def implied_security_profile(*, method: str | None) -> SecurityProfile | None:
    """The security profile auth.method gives the chargers that do not name their own: a client
    certificate is profile 3, a password profile 1 (TLS allowed, not required: the file's
    server.tls is the environment's to set, so requiring it here could lock every charger out;
    a charger's own security_profile: 2 requires it). No method given: chargers keep theirs."""
    if method == "certificate":
        return SecurityProfile.TLS_CLIENT_CERTIFICATE
    if method == "basic":
        return SecurityProfile.BASIC_AUTH
    return None


def _ocpp_rules(config: ConfigFile, found: dict) -> None:
    config.site, ocpp = found.get("site"), found.get("ocpp") or OcppBlock()
    server, auth = ocpp.server, ocpp.auth  # None when left out
    if ocpp.enabled is False:
        config.warnings.append(
            "ocpp.enabled: false is ignored; this server always runs the OCPP bridge "
            "(disable chargers one by one in the admin)"
        )
    if getattr(server, "port", None) is not None:
        config.notes.append(
            f"ocpp.server.port: the server listens on the port in the PORT environment variable "
            f"(now {settings.PORT}); ignored"
        )
    if getattr(server, "tls", None) is not None:
        now = "on" if settings.TLS_CERT_FILE and settings.TLS_KEY_FILE else "off"
        config.notes.append(
            f"ocpp.server.tls: TLS comes from the TLS_CERT_FILE and TLS_KEY_FILE environment variables "
            f"(now {now}); ignored"
        )
    method_profile = implied_security_profile(method=getattr(auth, "method", None))
    password_envs: dict[str, tuple[str, str]] = {}  # charger id -> (path, password_env)
    for index, credential in enumerate(getattr(auth, "credentials", None) or []):
        path, charger_id, env = f"ocpp.auth.credentials[{index}]", credential.charger_id, credential.password_env
        if charger_id in password_envs:
            config.errors.append(
                f"{path}.charger_id: {charger_id!r} already has credentials at {password_envs[charger_id][0]}"
            )
            continue
        password_envs[charger_id] = (path, env)
        if env not in os.environ:
            config.warnings.append(
                f"{path}.password_env: {env} is not set in this environment; "
                f"{charger_id} is refused until the server runs with it set"
            )
    heartbeat_interval = ocpp.protocol.heartbeat_interval if ocpp.protocol else None
    version = ocpp.protocol.version if ocpp.protocol else None
    chargers = [(f"ocpp.chargers[{i}]", charger) for i, charger in enumerate(ocpp.chargers)]
    first = config.once([(charger.charge_point_id, path, ".id") for path, charger in chargers])
    for path, charger in chargers:
        if first[charger.charge_point_id] != path:
            continue
        values = {name: value for name, value in charger.given().items() if name != "charge_point_id"}
        if "heartbeat_interval_s" not in values and heartbeat_interval is not None:
            values["heartbeat_interval_s"] = heartbeat_interval
        charger_version = values.pop("version", version)
        if charger_version is not None:
            values["protocol"] = PROTOCOL_OF_VERSION[charger_version]
        if "security_profile" not in values and method_profile is not None:
            values["security_profile"] = method_profile
        if charger.charge_point_id in password_envs:
            values["password_env"] = password_envs[charger.charge_point_id][1]
        config.chargers.append(ChargerConfig(charge_point_id=charger.charge_point_id, values=values, path=path))
    for charger_id, (path, _) in password_envs.items():
        if charger_id not in first:
            config.errors.append(f"{path}.charger_id: {charger_id!r} is not in ocpp.chargers")
    config.warnings += _tls_warnings(config.chargers)


def _tls_warnings(chargers: list[ChargerConfig]) -> list[str]:
    """Chargers set to a security profile this server, as configured, cannot admit."""
    warnings = []
    for charger in chargers:
        profile = charger.values.get("security_profile")
        if profile == SecurityProfile.TLS_CLIENT_CERTIFICATE and not settings.OCPP_TRUSTED_PROXIES:
            warnings.append(
                f"{charger.path}: {charger.charge_point_id} must use a client certificate, which reaches this "
                "server only through a TLS proxy listed in OCPP_TRUSTED_PROXIES (none is set): it is refused "
                "until one is (docs/security.md)"
            )
        elif profile == SecurityProfile.TLS_BASIC_AUTH and not (
            settings.TLS_CERT_FILE or settings.OCPP_TRUSTED_PROXIES
        ):
            warnings.append(
                f"{charger.path}: {charger.charge_point_id} must use TLS, and this server has neither "
                "TLS_CERT_FILE nor a TLS proxy in OCPP_TRUSTED_PROXIES: it is refused until it has one"
            )
    return warnings


def _energy_rules(config: ConfigFile, found: dict) -> None:
    energy: EnergySection = found.get("energy") or EnergySection()
    for into, key in ((config.solar, "solar_charging"), (config.balancing, "load_balancing"), (config.tou, "tou")):
        config.load(into, getattr(energy, key), f"energy.{key}")
    lb: LoadBalancing = found.get("load_balancing") or LoadBalancing()
    config.load(config.balancing, lb, "load_balancing")
    if lb.circuit is not None:
        config.circuits.append(("load_balancing.circuit", lb.circuit))
    config.placements += [
        (f"load_balancing.chargers[{i}]", link, lb.circuit and lb.circuit.name) for i, link in enumerate(lb.chargers)
    ]
    if lb.priority is not None:
        priority = [(charger_id, f"load_balancing.priority[{i}]") for i, charger_id in enumerate(lb.priority)]
        first = config.once([(charger_id, path, "") for charger_id, path in priority])
        config.priority = [(charger_id, path) for charger_id, path in priority if first[charger_id] == path]
    for index, circuit in enumerate(found.get("circuits", [])):
        path = f"circuits[{index}]"
        config.circuits.append((path, circuit))
        config.placements += [(f"{path}.chargers[{i}]", link, circuit.name) for i, link in enumerate(circuit.chargers)]
    # Each circuit and charger once; no circuit among its own ancestors.
    config.once([(circuit.name, path, ".name") for path, circuit in config.circuits])
    config.once([(link.charge_point_id, path, "") for path, link, _ in config.placements])
    parents = {c.name: c.parent_name for _, c in config.circuits if "parent_name" in c.given()}
    config.errors += loops([(path, c.name) for path, c in config.circuits], parents)
    if (solar := found.get("solar_charging")) is not None:
        config.load(config.solar, solar, "solar_charging")
        smoothing = solar.smoothing.given() if solar.smoothing is not None else {}
        config.smoothing_on = smoothing.get("smoothing_on")
        if config.smoothing_on is False:  # no smoothing: a window of 0 s, the latest reading
            if "window_s" in smoothing:
                config.notes.append("solar_charging.smoothing.window_seconds: ignored while smoothing.enabled is false")
            config.solar.values["window_s"], config.solar.paths["window_s"] = 0, "solar_charging.smoothing.enabled"
    tou: TouBlock = found.get("tou_charging") or TouBlock()
    config.load(config.tou, tou, "tou_charging")
    if tou.periods is not None:
        config.periods = _period_rules(config, tou.periods)
    config.load(config.tariff, found.get("tariff"), "tariff")
    config.load(config.grid, found.get("grid_response"), "grid_response")


def loops(circuits: list[tuple[str, str]], parents: dict[str, str | None]) -> list[str]:
    """An error for each circuit (path, name) among its own ancestors."""
    errors = []
    for path, name in circuits:
        chain, node = [name], parents.get(name)
        while node is not None and node not in chain:
            chain.append(node)
            node = parents.get(node)
        if node == name:
            errors.append(f"{path}.parent: makes a loop ({' -> '.join([*chain, node])})")
    return errors


def _period_rules(config: ConfigFile, periods: list[Period]) -> list[tuple[str, Period]]:
    """The periods named once; one at most covers all other times, and overlaps are warned of."""
    listed = [(f"tou_charging.periods[{index}]", period) for index, period in enumerate(periods)]
    first = config.once([(period.name, where, ".name") for where, period in listed])
    kept = [(where, period) for where, period in listed if first[period.name] == where]
    defaults = [where for where, period in kept if period.start is None]
    if len(defaults) > 1:
        config.errors.append(f"{defaults[1]}: only one period can cover all other times (also {defaults[0]})")
    timed = [(where, period.name, _minutes(period)) for where, period in kept if period.start is not None]
    for index, (where, _, minutes) in enumerate(timed):
        for other_where, other, other_minutes in timed[:index]:
            if minutes & other_minutes:
                config.warnings.append(f"{where}: overlaps {other_where} ('{other}'); only one applies there")
    return kept


def _minutes(period: Period) -> set[int]:
    start = period.start.hour * 60 + period.start.minute
    end = period.end.hour * 60 + period.end.minute
    return set(range(start, end)) if start < end else set(range(start, 1440)) | set(range(end))
