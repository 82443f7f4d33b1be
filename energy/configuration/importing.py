"""A parsed file (parsing.py) applied to the database: all of it in one transaction, or on any
error none of it, with a report of what was created, what changed (old -> new) and what did not.
"""

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import models, transaction

from chargers.models import Charger
from energy.allocation import NOMINAL_VOLTAGE_V
from energy.configuration.parsing import (
    ConfigError,
    ConfigFile,
    config_file_parse,
    energy_config_parse,
    loops,
    ocpp_config_parse,
)
from energy.configuration.schema import MAX_POWER_W, SiteBlock
from energy.models import Circuit, GridResponse, Site, SolarCharging, Tariff, TariffPeriod, TimeOfUse

DEFAULT_SITE_NAME = "Home"
DEFAULT_TARIFF_NAME = "time of use"
DEFAULT_WINDOW_S = 300


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    # Item -> field -> (old, new).
    updated: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)  # every item the file touched, changed or not
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    @property
    def unchanged(self) -> list[str]:
        return [item for item in dict.fromkeys(self.seen) if item not in self.created and item not in self.updated]

    def lines(self) -> list[str]:
        lines = [f"created {item}" for item in self.created]
        for item, changes in self.updated.items():
            shown = ", ".join(f"{name} {_shown(old)} -> {_shown(new)}" for name, (old, new) in changes.items())
            lines.append(f"updated {item}: {shown}")
        lines += [f"unchanged {item}" for item in self.unchanged]
        lines += [f"warning: {warning}" for warning in self.warnings]
        lines += [f"note: {note}" for note in self.notes]
        if not self.changed:
            return [*lines, "Nothing changed."]
        return [*lines, f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged."]


def _shown(value: Any) -> str:
    if value is None:
        return "(none)"
    return f"'{value}'" if isinstance(value, str | models.Model) else str(value)


def _applied(config: ConfigFile, apply) -> ImportReport:
    report = ImportReport(warnings=list(config.warnings), notes=list(config.notes))
    with transaction.atomic():
        apply(report)
    return report


def ocpp_config_import(*, data: object) -> ImportReport:
    """Apply an installer's ocpp.yaml: all of it, or on any error none of it."""
    config = ocpp_config_parse(data=data)
    return _applied(config, lambda report: _ocpp_apply(config=config, report=report))


def energy_config_import(*, data: object, site: Site) -> ImportReport:
    """Apply the energy parts of a loaded file to a site: all of them, or on any error none."""
    config = energy_config_parse(data=data)
    return _applied(config, lambda report: _energy_apply(config=config, site=site, report=report))


def config_file_import(*, data: object) -> ImportReport:
    """Apply a file holding any of site:, ocpp:, energy: and the energy blocks: all of it, or on
    any error none of it. Every problem in the file is reported at once."""
    config = config_file_parse(data=data)

    def apply(report: ImportReport) -> None:
        # Without ocpp:, the site block still names the site the settings are for.
        if "ocpp" in data:
            site = _ocpp_apply(config=config, report=report)
        else:
            site = site_apply(config=config.site, report=report)
        _energy_apply(config=config, site=site, report=report)

    return _applied(config, apply)


def only_site(*, prefix: str, hint: str) -> Site | None:
    """The file format describes one site; with several in the database, guessing would move chargers."""
    sites = list(Site.objects.all()[:3])
    if len(sites) > 1:
        names = ", ".join(str(site) for site in sites[:2]) + (", ..." if len(sites) > 2 else "")
        raise ConfigError([f"{prefix}the database has several sites ({names}): {hint}"])
    return sites[0] if sites else None


def site_apply(*, config: SiteBlock | None, report: ImportReport) -> Site:
    if config is None:
        site = only_site(prefix="site: missing; ", hint="add a site: block naming the one these chargers belong to")
        if site is not None:
            return site
        config = SiteBlock(name=DEFAULT_SITE_NAME)
    values = {name: value for name, value in config.given().items() if name != "name"}
    label, new = f"site '{config.name}'", {"time_zone": settings.TIME_ZONE}
    return _save(Site, {"name": config.name}, values, report, label=label, new=new)


def _ocpp_apply(*, config: ConfigFile, report: ImportReport) -> Site:
    site = site_apply(config=config.site, report=report)
    for entry in config.chargers:
        label = f"charger '{entry.charge_point_id}'"
        lookup, values = {"charge_point_id": entry.charge_point_id}, {"site": site, **entry.values}
        if Charger.objects.filter(**lookup, circuit__isnull=False).exclude(site=site).exists():
            values["circuit"] = None  # circuits belong to the old site's fuse tree
        charger = _save(Charger, lookup, values, report, label=label)
        # Anything presenting the id of a charger with neither a password nor a password_env (often
        # a serial number printed on it) is accepted: say so on every import until it has one.
        if charger.enabled and charger.accepts_anyone:
            report.warnings.append(
                f"{entry.path} ({entry.charge_point_id}) has no credentials: any device presenting this id is "
                f"accepted. Set password_env for it in ocpp.auth.credentials (or a password in the admin)."
            )
        if label not in report.created and charger.registration == Charger.Registration.PENDING:
            report.notes.append(f"{label} is pending approval; approve it in the admin to let it charge")
    listed = [entry.charge_point_id for entry in config.chargers]
    _note_others(site, listed, report, f"on site '{site}' but not in the file, left as they are")
    return site


def _note_others(site: Site, listed: list[str], report: ImportReport, note: str) -> None:
    others = Charger.objects.filter(site=site).exclude(charge_point_id__in=listed)
    if others_ids := list(others.values_list("charge_point_id", flat=True)):
        report.notes.append(f"{note}: {', '.join(others_ids)}")


def _update(obj: models.Model, values: dict[str, Any], report: ImportReport, *, label: str):
    """Save what differs and report it; an item touched twice is reported once."""
    changes = {name: (getattr(obj, name), value) for name, value in values.items() if getattr(obj, name) != value}
    for name, (_, value) in changes.items():
        setattr(obj, name, value)
    if changes:
        obj.save(update_fields=list(changes))
        if label not in report.created:
            report.updated.setdefault(label, {}).update(changes)
    report.seen.append(label)
    return obj


def _save(model: type[models.Model], lookup: dict, values: dict, report: ImportReport, *, label: str, new=None):
    """The row `lookup` finds, updated with `values`; or made of them (and `new`) and reported as created."""
    obj = model.objects.filter(**lookup).first()
    if obj is not None:
        return _update(obj, values, report, label=label)
    report.created.append(label)
    return model.objects.create(**{**(new or {}), **lookup, **values})


def _energy_apply(*, config: ConfigFile, site: Site, report: ImportReport) -> None:
    errors: list[str] = []
    if config.balancing.values:
        _update(site, config.balancing.values, report, label=f"load balancing of site '{site}'")
    circuits = _circuits_apply(config=config, site=site, report=report, errors=errors)
    _chargers_apply(config=config, site=site, circuits=circuits, report=report, errors=errors)
    values = dict(config.solar.values)
    if config.smoothing_on and "window_s" not in values:
        solar = SolarCharging.objects.filter(site=site).first()
        if solar is not None and solar.window_s == 0:
            values["window_s"] = DEFAULT_WINDOW_S
    _one_per_site(SolarCharging, site, values, report, label=f"solar charging of site '{site}'")
    tou = _one_per_site(TimeOfUse, site, config.tou.values, report, label=f"time of use of site '{site}'")
    amounts = {"target_energy_wh": "energy_wh", "target_soc_percent": "soc_percent", "battery_capacity_wh": ""}
    if tou is not None and any(name in config.tou.values for name in ("target_mode", *amounts)):
        mode_path = config.tou.paths.get("target_mode", "tou_charging.target.mode")
        needs = {"energy": ("target_energy_wh",), "soc": ("target_soc_percent", "battery_capacity_wh")}
        errors += [
            f"{mode_path}: {tou.target_mode!r} needs tou_charging.target.{amounts[name] or name}"
            for name in needs.get(tou.target_mode, ())
            if getattr(tou, name) is None
        ]
    if config.periods is not None:
        _periods_apply(config=config, site=site, report=report)
    if config.tariff.values:
        _update(site, config.tariff.values, report, label=f"tariff of site '{site}'")
    grid = _one_per_site(GridResponse, site, config.grid.values, report, label=f"grid response of site '{site}'")
    path = config.grid.paths.get("low_frequency_hz") or config.grid.paths.get("high_frequency_hz")
    if grid is not None and path is not None and grid.low_frequency_hz >= grid.high_frequency_hz:
        errors.append(
            f"{path}: low_frequency_hz ({grid.low_frequency_hz:g}) must be below "
            f"high_frequency_hz ({grid.high_frequency_hz:g})"
        )
    if errors:
        raise ConfigError(errors)


def _circuits_apply(*, config: ConfigFile, site: Site, report: ImportReport, errors: list[str]) -> dict[str, Circuit]:
    by_name = {circuit.name: circuit for circuit in Circuit.objects.filter(site=site)}
    for path, entry in config.circuits:
        label = f"circuit '{entry.name}'"
        given = entry.given()
        values = {name: given[name] for name in ("max_current_a", "phases", "supply_phase") if name in given}
        if entry.name not in by_name and "max_current_a" not in values:
            errors.append(f"{path}.max_current_a: missing (needed to make circuit {entry.name!r})")
        else:
            by_name[entry.name] = _save(Circuit, {"site": site, "name": entry.name}, values, report, label=label)
    # Parents once every circuit of the file exists, so a child may come before its parent.
    trees = [(path, entry) for path, entry in config.circuits if "parent_name" in entry.given()]
    for path, entry in trees:
        parent = by_name.get(entry.parent_name)
        if entry.name not in by_name:
            continue
        if entry.parent_name is not None and parent is None:
            errors.append(f"{path}.parent: no circuit {entry.parent_name!r} on site '{site}'")
        else:
            _update(by_name[entry.name], {"parent": parent}, report, label=f"circuit '{entry.name}'")
    names = {circuit.pk: circuit.name for circuit in by_name.values()}
    parents = {circuit.name: names.get(circuit.parent_id) for circuit in by_name.values()}
    errors += loops([(path, entry.name) for path, entry in trees if entry.name in by_name], parents)
    return by_name


def amps(charger: Charger) -> int:
    """The current a charger's max_power_w stands for at the nominal voltage."""
    return round(charger.max_power_w / (NOMINAL_VOLTAGE_V * charger.phases))


def _chargers_apply(
    *, config: ConfigFile, site: Site, circuits: dict[str, Circuit], report: ImportReport, errors: list[str]
) -> None:
    power_paths = {c.charge_point_id: f"{c.path}.max_power_w" for c in config.chargers if "max_power_w" in c.values}
    wanted = {link.charge_point_id for _, link, _ in config.placements} | {cid for cid, _ in config.priority or []}
    chargers = {c.charge_point_id: c for c in Charger.objects.select_related("site").filter(charge_point_id__in=wanted)}

    def found(charge_point_id: str, path: str) -> Charger | None:
        charger = chargers.get(charge_point_id)
        if charger is None:
            errors.append(f"{path}: no charger {charge_point_id!r} (list it in ocpp.chargers, or let it connect first)")
        elif charger.site_id != site.pk:
            errors.append(f"{path}: charger {charge_point_id!r} is on site '{charger.site}', not '{site}'")
        else:
            return charger
        return None

    values: dict[str, dict[str, Any]] = {}
    for path, link, circuit in config.placements:
        if (charger := found(link.charge_point_id, path)) is None:
            continue
        changes = values.setdefault(charger.charge_point_id, {})
        if circuit in circuits:
            changes["circuit"] = circuits[circuit]
        if link.supply_phase is not None:
            changes["supply_phase"] = link.supply_phase
        if link.max_current_a is None or amps(charger) == link.max_current_a:
            continue
        power_w = round(link.max_current_a * NOMINAL_VOLTAGE_V * charger.phases)
        if charger.charge_point_id in power_paths:
            errors.append(
                f"{path}.max_current_a: {link.max_current_a} A disagrees with "
                f"{power_paths[charger.charge_point_id]}: {charger.max_power_w} W ({amps(charger)} A at "
                f"{NOMINAL_VOLTAGE_V:.0f} V on {charger.phases} phase(s)); give one of them or make them agree"
            )
        elif power_w > MAX_POWER_W:
            errors.append(f"{path}.max_current_a: {power_w} W on {charger.phases} phases is too much")
        else:
            changes["max_power_w"] = power_w
    if config.priority is not None:
        listed = [found(charge_point_id, path) for charge_point_id, path in config.priority]
        if all(listed):
            if any(a.priority >= b.priority for a, b in itertools.pairwise(listed)):
                for rank, charger in enumerate(listed):
                    values.setdefault(charger.charge_point_id, {})["priority"] = rank
            ids = [charger.charge_point_id for charger in listed]
            _note_others(site, ids, report, "not in load_balancing.priority, priority left as it is")
    for charge_point_id, changes in values.items():
        _update(chargers[charge_point_id], changes, report, label=f"charger '{charge_point_id}'")


def _one_per_site(model: type[models.Model], site: Site, values: dict[str, Any], report: ImportReport, *, label: str):
    return _save(model, {"site": site}, values, report, label=label) if values else None


def _periods_apply(*, config: ConfigFile, site: Site, report: ImportReport) -> None:
    """The periods of the site's active tariff made to match the file's exactly."""
    tariff = Tariff.objects.filter(site=site, is_active=True).first()
    if tariff is None:
        lookup, label = {"site": site, "name": DEFAULT_TARIFF_NAME}, f"tariff '{DEFAULT_TARIFF_NAME}'"
        tariff = _save(Tariff, lookup, {"is_active": True}, report, label=label)
    label = f"tariff '{tariff.name}'"
    existing = {period.name: period for period in sorted(tariff.periods.all(), key=period_order)}
    listed = [period.name for _, period in config.periods]
    if removed := [name for name in existing if name not in listed]:
        TariffPeriod.objects.filter(pk__in=[existing[name].pk for name in removed]).delete()
        report.updated.setdefault(label, {})["periods"] = (", ".join(existing), ", ".join(listed))
    # Timed periods first: a period becoming "all other times" must not meet the one it replaces.
    for _, entry in sorted(config.periods, key=lambda item: item[1].start is None):
        values = {name: value for name, value in entry.given().items() if name != "name"}
        values.update(start=entry.start, end=entry.end)
        period_label = f"period '{entry.name}' of {label}"
        _save(TariffPeriod, {"tariff": tariff, "name": entry.name}, values, report, label=period_label)


def period_order(period: TariffPeriod) -> tuple:
    """Timed periods by start, then "all other times", as the spec lists them."""
    return (period.start is None, period.start or dt.time(0), period.name)
