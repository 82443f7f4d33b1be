"""The installer's ocpp.yaml (spec: "OCPP Bridge Configuration") in and out of the database,
and the small writes the admin makes on behalf of installers.

Parsing is pure: the dict from yaml.safe_load becomes plain dataclasses, or a ConfigError
naming every bad path at once, so the installer fixes the file in one pass. Importing applies
the whole file in one transaction or nothing of it.

What an installer can rely on:
- A key left out leaves that value as it is. Nothing in the file deletes anything, and chargers
  that are not in the file are left alone (the report lists them).
- Two extensions to the spec's format, both optional: a top-level ``site:`` block (name,
  time_zone, circuit_limit_a) naming the site the chargers belong to, and a per-charger
  ``heartbeat_interval`` (null: the server default) overriding ``protocol.heartbeat_interval``.
  Export writes them where needed, so importing an export changes nothing.
"""

import os
import re
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import QuerySet

from chargers.models import Charger, IdTag, charge_point_id_validator
from energy.models import Site

SUPPORTED_VERSIONS = ("1.6",)
AUTH_METHODS = ("basic", "certificate")
DEFAULT_SITE_NAME = "Home"
MAX_HEARTBEAT_INTERVAL_S = 86_400
MAX_POWER_W = 1_000_000
MAX_FUSE_A = 10_000
ENV_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_TOP_KEYS = ("site", "ocpp")
_SITE_KEYS = ("name", "time_zone", "circuit_limit_a")
_OCPP_KEYS = ("enabled", "server", "protocol", "auth", "chargers")
_SERVER_KEYS = ("port", "tls")
_TLS_KEYS = ("enabled", "cert_file", "key_file")
_PROTOCOL_KEYS = ("version", "heartbeat_interval")
_AUTH_KEYS = ("method", "credentials")
_CREDENTIAL_KEYS = ("charger_id", "password_env")
_CHARGER_KEYS = ("id", "name", "location", "max_power_w", "phases", "heartbeat_interval")


class ConfigError(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class SiteConfig:
    name: str
    time_zone: str | None = None
    circuit_limit_a: int | None = None


@dataclass(frozen=True)
class ChargerConfig:
    charge_point_id: str
    # Charger model field -> value, only for what the file sets.
    values: dict[str, Any]
    # Where it is in the file, e.g. "ocpp.chargers[1]", for warnings about it.
    path: str = ""


@dataclass(frozen=True)
class OcppConfig:
    site: SiteConfig | None
    chargers: list[ChargerConfig]
    warnings: list[str]
    notes: list[str]


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    # Item -> field -> (old, new).
    updated: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def lines(self) -> list[str]:
        lines = [f"created {item}" for item in self.created]
        for item, changes in self.updated.items():
            shown = ", ".join(f"{name} {_show(old)} -> {_show(new)}" for name, (old, new) in changes.items())
            lines.append(f"updated {item}: {shown}")
        lines += [f"unchanged {item}" for item in self.unchanged]
        lines += [f"warning: {warning}" for warning in self.warnings]
        lines += [f"note: {note}" for note in self.notes]
        if self.changed:
            lines.append(f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged.")
        else:
            lines.append("Nothing changed.")
        return lines


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str | models.Model):
        return f"'{value}'"
    return str(value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class ConfigReader:
    """Collects every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.notes: list[str] = []

    def mapping(self, value: Any, path: str, known: tuple[str, ...]) -> dict | None:
        if not isinstance(value, dict):
            self.errors.append(f"{path or 'the file'}: must be a mapping (key: value lines)")
            return None
        for key in value:
            if key not in known:
                self.warnings.append(f"{_join(path, str(key))}: unknown key; ignored")
        return value

    def sequence(self, value: Any, path: str) -> list:
        if not isinstance(value, list):
            self.errors.append(f"{path}: must be a list (lines starting with '- ')")
            return []
        return value

    def string(self, value: Any, path: str, *, max_length: int, blank: bool = True) -> str | None:
        if not isinstance(value, str):
            self.errors.append(f"{path}: must be a string (quote it if in doubt)")
        elif not blank and not value.strip():
            self.errors.append(f"{path}: must not be empty")
        elif len(value) > max_length:
            self.errors.append(f"{path}: must be at most {max_length} characters")
        else:
            return value
        return None

    def positive_int(self, value: Any, path: str, *, maximum: int, unit: str) -> int | None:
        # bool is an int in Python; 'true' is never a number of watts.
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            self.errors.append(f"{path}: must be a positive integer ({unit})")
        elif value > maximum:
            self.errors.append(f"{path}: must be at most {maximum} ({unit})")
        else:
            return value
        return None

    def boolean(self, value: Any, path: str) -> bool | None:
        if not isinstance(value, bool):
            self.errors.append(f"{path}: must be true or false")
            return None
        return value


def config_parse(*, data: object) -> OcppConfig:
    """Validate a loaded ocpp.yaml without touching the database."""
    reader = ConfigReader()
    top = reader.mapping(data, "", _TOP_KEYS)
    if top is None:
        raise ConfigError(reader.errors)
    site = _parse_site(reader, top["site"]) if "site" in top else None
    chargers: list[ChargerConfig] = []
    if "ocpp" not in top:
        reader.errors.append("ocpp: missing")
    else:
        ocpp = reader.mapping(top["ocpp"], "ocpp", _OCPP_KEYS)
        if ocpp is not None:
            chargers = _parse_ocpp(reader, ocpp)
    if reader.errors:
        raise ConfigError(reader.errors)
    return OcppConfig(site=site, chargers=chargers, warnings=reader.warnings, notes=reader.notes)


def _parse_site(reader: ConfigReader, value: Any) -> SiteConfig | None:
    site = reader.mapping(value, "site", _SITE_KEYS)
    if site is None:
        return None
    if "name" not in site:
        reader.errors.append("site.name: missing")
        return None
    name = reader.string(site["name"], "site.name", max_length=100, blank=False)
    time_zone = None
    if "time_zone" in site:
        time_zone = reader.string(site["time_zone"], "site.time_zone", max_length=64)
        if time_zone is not None and time_zone not in zoneinfo.available_timezones():
            reader.errors.append(f"site.time_zone: {time_zone!r} is not an IANA time zone (e.g. Europe/London)")
    circuit_limit_a = None
    if "circuit_limit_a" in site:
        circuit_limit_a = reader.positive_int(
            site["circuit_limit_a"], "site.circuit_limit_a", maximum=MAX_FUSE_A, unit="amps"
        )
    if name is None:
        return None
    return SiteConfig(name=name, time_zone=time_zone, circuit_limit_a=circuit_limit_a)


def _parse_ocpp(reader: ConfigReader, ocpp: dict) -> list[ChargerConfig]:
    if "enabled" in ocpp and reader.boolean(ocpp["enabled"], "ocpp.enabled") is False:
        reader.warnings.append(
            "ocpp.enabled: false is ignored; this server always runs the OCPP bridge "
            "(disable chargers one by one in the admin)"
        )
    if "server" in ocpp:
        _parse_server(reader, ocpp["server"])
    heartbeat_interval = _parse_protocol(reader, ocpp["protocol"]) if "protocol" in ocpp else None
    password_envs = _parse_auth(reader, ocpp["auth"]) if "auth" in ocpp else {}

    chargers: list[ChargerConfig] = []
    first_seen: dict[str, str] = {}
    for index, entry in enumerate(reader.sequence(ocpp.get("chargers", []), "ocpp.chargers")):
        path = f"ocpp.chargers[{index}]"
        charger = _parse_charger(reader, entry, path, heartbeat_interval, password_envs)
        if charger is None:
            continue
        if charger.charge_point_id in first_seen:
            reader.errors.append(
                f"{path}.id: {charger.charge_point_id!r} is listed twice (also {first_seen[charger.charge_point_id]})"
            )
            continue
        first_seen[charger.charge_point_id] = path
        chargers.append(charger)

    for charger_id, (path, _) in password_envs.items():
        if charger_id not in first_seen:
            reader.errors.append(f"{path}.charger_id: {charger_id!r} is not in ocpp.chargers")
    return chargers


def _parse_server(reader: ConfigReader, value: Any) -> None:
    server = reader.mapping(value, "ocpp.server", _SERVER_KEYS)
    if server is None:
        return
    if "port" in server and reader.positive_int(server["port"], "ocpp.server.port", maximum=65535, unit="a TCP port"):
        reader.notes.append(
            f"ocpp.server.port: the server listens on the port in the PORT environment variable "
            f"(now {settings.PORT}); ignored"
        )
    if "tls" in server:
        tls = reader.mapping(server["tls"], "ocpp.server.tls", _TLS_KEYS)
        if tls is None:
            return
        if "enabled" in tls:
            reader.boolean(tls["enabled"], "ocpp.server.tls.enabled")
        for key in ("cert_file", "key_file"):
            if key in tls:
                reader.string(tls[key], f"ocpp.server.tls.{key}", max_length=4096)
        now = "on" if settings.TLS_CERT_FILE and settings.TLS_KEY_FILE else "off"
        reader.notes.append(
            f"ocpp.server.tls: TLS comes from the TLS_CERT_FILE and TLS_KEY_FILE environment variables "
            f"(now {now}); ignored"
        )


def _parse_protocol(reader: ConfigReader, value: Any) -> int | None:
    protocol = reader.mapping(value, "ocpp.protocol", _PROTOCOL_KEYS)
    if protocol is None:
        return None
    if "version" in protocol:
        version = protocol["version"]
        # An unquoted 1.6 is a float in YAML; installers should not have to know that.
        if isinstance(version, float):
            version = str(version)
        if version not in SUPPORTED_VERSIONS:
            reader.errors.append(
                f"ocpp.protocol.version: {version!r} is not supported yet; this server speaks OCPP "
                f"{', '.join(SUPPORTED_VERSIONS)} only"
            )
    if "heartbeat_interval" in protocol:
        return reader.positive_int(
            protocol["heartbeat_interval"],
            "ocpp.protocol.heartbeat_interval",
            maximum=MAX_HEARTBEAT_INTERVAL_S,
            unit="seconds",
        )
    return None


def _parse_auth(reader: ConfigReader, value: Any) -> dict[str, tuple[str, str]]:
    """Return charger id -> (path of its entry, password_env)."""
    auth = reader.mapping(value, "ocpp.auth", _AUTH_KEYS)
    if auth is None:
        return {}
    if "method" in auth:
        method = auth["method"]
        if method not in AUTH_METHODS:
            reader.errors.append('ocpp.auth.method: must be "basic" or "certificate"')
        elif method == "certificate":
            reader.warnings.append(
                "ocpp.auth.method: certificate authentication is not supported yet; chargers "
                "authenticate with HTTP Basic (password_env, or a password set in the admin)"
            )
    password_envs: dict[str, tuple[str, str]] = {}
    for index, entry in enumerate(reader.sequence(auth.get("credentials", []), "ocpp.auth.credentials")):
        path = f"ocpp.auth.credentials[{index}]"
        credential = reader.mapping(entry, path, _CREDENTIAL_KEYS)
        if credential is None:
            continue
        missing = [key for key in _CREDENTIAL_KEYS if key not in credential]
        for key in missing:
            reader.errors.append(f"{path}.{key}: missing")
        if missing:
            continue
        charger_id = reader.string(credential["charger_id"], f"{path}.charger_id", max_length=48, blank=False)
        password_env = reader.string(credential["password_env"], f"{path}.password_env", max_length=100, blank=False)
        if charger_id is None or password_env is None:
            continue
        if not ENV_VAR_NAME.match(password_env):
            reader.errors.append(
                f"{path}.password_env: {password_env!r} is not an environment variable name "
                "(letters, digits and _, not starting with a digit)"
            )
        elif charger_id in password_envs:
            reader.errors.append(
                f"{path}.charger_id: {charger_id!r} already has credentials at {password_envs[charger_id][0]}"
            )
        else:
            password_envs[charger_id] = (path, password_env)
            if password_env not in os.environ:
                reader.warnings.append(
                    f"{path}.password_env: {password_env} is not set in this environment; "
                    f"{charger_id} is refused until the server runs with it set"
                )
    return password_envs


def _parse_charger(
    reader: ConfigReader,
    value: Any,
    path: str,
    heartbeat_interval: int | None,
    password_envs: dict[str, tuple[str, str]],
) -> ChargerConfig | None:
    entry = reader.mapping(value, path, _CHARGER_KEYS)
    if entry is None:
        return None
    if "id" not in entry:
        reader.errors.append(f"{path}.id: missing")
        return None
    charge_point_id = reader.string(entry["id"], f"{path}.id", max_length=48, blank=False)
    if charge_point_id is None:
        return None
    if not charge_point_id_validator.regex.match(charge_point_id):
        reader.errors.append(f"{path}.id: {charge_point_id!r}: {charge_point_id_validator.message}")
        return None

    values: dict[str, Any] = {}
    for key in ("name", "location"):
        if key in entry:
            values[key] = reader.string(entry[key], f"{path}.{key}", max_length=100)
    if "max_power_w" in entry:
        values["max_power_w"] = reader.positive_int(
            entry["max_power_w"], f"{path}.max_power_w", maximum=MAX_POWER_W, unit="watts, e.g. 7400"
        )
    if "phases" in entry:
        if entry["phases"] in (1, 3) and type(entry["phases"]) is int:
            values["phases"] = entry["phases"]
        else:
            reader.errors.append(f"{path}.phases: must be 1 or 3")
    if "heartbeat_interval" in entry:
        # null here means "the server default", overriding protocol.heartbeat_interval.
        if entry["heartbeat_interval"] is None:
            values["heartbeat_interval_s"] = None
        else:
            values["heartbeat_interval_s"] = reader.positive_int(
                entry["heartbeat_interval"],
                f"{path}.heartbeat_interval",
                maximum=MAX_HEARTBEAT_INTERVAL_S,
                unit="seconds",
            )
    elif heartbeat_interval is not None:
        values["heartbeat_interval_s"] = heartbeat_interval
    if charge_point_id in password_envs:
        values["password_env"] = password_envs[charge_point_id][1]
    return ChargerConfig(charge_point_id=charge_point_id, values=values, path=path)


def config_import(*, data: object) -> ImportReport:
    """Apply an installer's ocpp.yaml: all of it, or on any error none of it."""
    config = config_parse(data=data)
    report = ImportReport(warnings=list(config.warnings), notes=list(config.notes))
    with transaction.atomic():
        site = site_apply(config=config.site, report=report)
        for charger_config in config.chargers:
            _charger_apply(config=charger_config, site=site, report=report)
        listed = [charger.charge_point_id for charger in config.chargers]
        others = Charger.objects.filter(site=site).exclude(charge_point_id__in=listed)
        others_ids = list(others.values_list("charge_point_id", flat=True))
        if others_ids:
            report.notes.append(f"on site '{site}' but not in the file, left as they are: {', '.join(others_ids)}")
    return report


def site_apply(*, config: SiteConfig | None, report: ImportReport) -> Site:
    if config is None:
        site = _only_site(prefix="site: missing; ", hint="add a site: block naming the one these chargers belong to")
        if site is not None:
            return site
        config = SiteConfig(name=DEFAULT_SITE_NAME)

    label = f"site '{config.name}'"
    values = {"time_zone": config.time_zone, "circuit_limit_a": config.circuit_limit_a}
    values = {name: value for name, value in values.items() if value is not None}
    site = Site.objects.filter(name=config.name).first()
    if site is None:
        values.setdefault("time_zone", settings.TIME_ZONE)
        report.created.append(label)
        return Site.objects.create(name=config.name, **values)
    _update(site, values=values, label=label, report=report)
    return site


def _only_site(*, prefix: str, hint: str) -> Site | None:
    """The file format describes one site; with several in the database, guessing would move chargers."""
    sites = list(Site.objects.all()[:3])
    if len(sites) > 1:
        names = ", ".join(str(site) for site in sites[:2]) + (", ..." if len(sites) > 2 else "")
        raise ConfigError([f"{prefix}the database has several sites ({names}): {hint}"])
    return sites[0] if sites else None


def _charger_apply(*, config: ChargerConfig, site: Site, report: ImportReport) -> None:
    label = f"charger '{config.charge_point_id}'"
    charger = Charger.objects.select_related("site").filter(charge_point_id=config.charge_point_id).first()
    if charger is None:
        charger = Charger.objects.create(charge_point_id=config.charge_point_id, site=site, **config.values)
        report.created.append(label)
        _warn_if_open(charger=charger, config=config, report=report)
        return
    values = {"site": site, **config.values}
    if charger.site_id != site.pk and charger.circuit_id is not None:
        # Circuits belong to the old site's fuse tree.
        values["circuit"] = None
    _update(charger, values=values, label=label, report=report)
    _warn_if_open(charger=charger, config=config, report=report)
    if charger.registration == Charger.Registration.PENDING:
        report.notes.append(f"{label} is pending approval; approve it in the admin to let it charge")


def _warn_if_open(*, charger: Charger, config: ChargerConfig, report: ImportReport) -> None:
    """A charger with neither a password nor a password_env accepts any device that presents
    its id (often a serial number printed on it): say so on every import until it has one."""
    if charger.enabled and charger.accepts_anyone:
        report.warnings.append(
            f"{config.path} ({config.charge_point_id}) has no credentials: any device presenting this id is "
            f"accepted. Set password_env for it in ocpp.auth.credentials (or a password in the admin)."
        )


def _update(obj: models.Model, *, values: dict[str, Any], label: str, report: ImportReport) -> None:
    changes = {name: (getattr(obj, name), value) for name, value in values.items() if getattr(obj, name) != value}
    if not changes:
        report.unchanged.append(label)
        return
    for name, (_, value) in changes.items():
        setattr(obj, name, value)
    obj.save(update_fields=list(changes))
    report.updated[label] = changes


def config_export(*, site: Site | None = None) -> dict:
    """The site's chargers as an ocpp.yaml; importing the result changes nothing."""
    if site is None:
        site = _only_site(prefix="", hint="choose the site to export")
    chargers = list(Charger.objects.filter(site=site).order_by("charge_point_id")) if site else []

    # The most common interval goes in protocol:, the rest per charger.
    common_interval = None
    if chargers:
        common_interval = Counter(charger.heartbeat_interval_s for charger in chargers).most_common(1)[0][0]
    protocol: dict[str, Any] = {"version": SUPPORTED_VERSIONS[0]}
    if common_interval is not None:
        protocol["heartbeat_interval"] = common_interval

    entries = []
    for charger in chargers:
        entry: dict[str, Any] = {
            "id": charger.charge_point_id,
            "name": charger.name,
            "location": charger.location,
            "max_power_w": charger.max_power_w,
            "phases": charger.phases,
        }
        if charger.heartbeat_interval_s != common_interval:
            entry["heartbeat_interval"] = charger.heartbeat_interval_s
        entries.append(entry)

    data: dict[str, Any] = {}
    if site is not None:
        data["site"] = {"name": site.name, "time_zone": site.time_zone, "circuit_limit_a": site.circuit_limit_a}
    data["ocpp"] = {
        "enabled": True,
        "protocol": protocol,
        "auth": {
            "method": "basic",
            "credentials": [
                {"charger_id": charger.charge_point_id, "password_env": charger.password_env}
                for charger in chargers
                if charger.password_env
            ],
        },
        "chargers": entries,
    }
    return data


def id_tags_set_status(*, id_tags: QuerySet[IdTag], status: str) -> int:
    """Tags chargers present unannounced arrive as Invalid; installers accept or block them in bulk."""
    return id_tags.update(status=status)
