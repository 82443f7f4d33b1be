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
from energy.configuration.fields import MAX_POWER_W
from energy.configuration.parsing import (
    ChargerConfig,
    ConfigError,
    ConfigFile,
    config_file_parse,
    energy_config_parse,
    loops,
    ocpp_config_parse,
)
from energy.configuration.schema import SiteBlock, given
from energy.models import Circuit, GridResponse, Site, SolarCharging, Tariff, TariffPeriod, TimeOfUse

DEFAULT_SITE_NAME = "Home"
DEFAULT_TARIFF_NAME = "time of use"
DEFAULT_WINDOW_S = 300


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
            shown = ", ".join(f"{name} {_shown(old)} -> {_shown(new)}" for name, (old, new) in changes.items())
            lines.append(f"updated {item}: {shown}")
        lines += [f"unchanged {item}" for item in self.unchanged]
        lines += [f"warning: {warning}" for warning in self.warnings]
        lines += [f"note: {note}" for note in self.notes]
        if self.changed:
            lines.append(f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged.")
        else:
            lines.append("Nothing changed.")
        return lines


def _shown(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str | models.Model):
        return f"'{value}'"
    return str(value)


def ocpp_config_import(*, data: object) -> ImportReport:
    """Apply an installer's ocpp.yaml: all of it, or on any error none of it."""
    config = ocpp_config_parse(data=data)
    report = ImportReport(warnings=list(config.warnings), notes=list(config.notes))
    with transaction.atomic():
        _ocpp_apply(config=config, report=report)
    return report


def energy_config_import(*, data: object, site: Site) -> ImportReport:
    """Apply the energy parts of a loaded file to a site: all of them, or on any error none."""
    config = energy_config_parse(data=data)
    report = ImportReport(warnings=list(config.warnings), notes=list(config.notes))
    with transaction.atomic():
        _energy_apply(config=config, site=site, report=report, power_paths={})
    return report


def config_file_import(*, data: object) -> ImportReport:
    """Apply a file holding any of site:, ocpp:, energy: and the energy blocks: all of it, or on
    any error none of it. Every problem in the file is reported at once."""
    ocpp, energy = config_file_parse(data=data)
    report = ImportReport(warnings=list(ocpp.warnings), notes=list(ocpp.notes))
    with transaction.atomic():
        # Without ocpp:, the site block still names the site the settings are for.
        site = (
            _ocpp_apply(config=ocpp, report=report) if "ocpp" in data else site_apply(config=ocpp.site, report=report)
        )
        report.warnings += energy.warnings
        report.notes += energy.notes
        power_paths = {c.charge_point_id: f"{c.path}.max_power_w" for c in ocpp.chargers if "max_power_w" in c.values}
        _energy_apply(config=energy, site=site, report=report, power_paths=power_paths)
    return report


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
    label = f"site '{config.name}'"
    values = {name: value for name, value in given(config).items() if name != "name"}
    site = Site.objects.filter(name=config.name).first()
    if site is None:
        values.setdefault("time_zone", settings.TIME_ZONE)
        return _create(Site, values=values, label=label, report=report, name=config.name)
    _update(site, values=values, label=label, report=report)
    return site


def _ocpp_apply(*, config: ConfigFile, report: ImportReport) -> Site:
    site = site_apply(config=config.site, report=report)
    for charger_config in config.chargers:
        _charger_apply(config=charger_config, site=site, report=report)
    listed = [charger.charge_point_id for charger in config.chargers]
    others = Charger.objects.filter(site=site).exclude(charge_point_id__in=listed)
    if others_ids := list(others.values_list("charge_point_id", flat=True)):
        report.notes.append(f"on site '{site}' but not in the file, left as they are: {', '.join(others_ids)}")
    return site


def _charger_apply(*, config: ChargerConfig, site: Site, report: ImportReport) -> None:
    label = f"charger '{config.charge_point_id}'"
    charger = Charger.objects.select_related("site").filter(charge_point_id=config.charge_point_id).first()
    if charger is None:
        charger = _create(
            Charger, values=config.values, label=label, report=report, charge_point_id=config.charge_point_id, site=site
        )
    else:
        values = {"site": site, **config.values}
        if charger.site_id != site.pk and charger.circuit_id is not None:
            values["circuit"] = None  # circuits belong to the old site's fuse tree
        _update(charger, values=values, label=label, report=report)
    # Anything presenting the id of a charger with neither a password nor a password_env (often
    # a serial number printed on it) is accepted: say so on every import until it has one.
    if charger.enabled and charger.accepts_anyone:
        report.warnings.append(
            f"{config.path} ({config.charge_point_id}) has no credentials: any device presenting this id is "
            f"accepted. Set password_env for it in ocpp.auth.credentials (or a password in the admin)."
        )
    if label not in report.created and charger.registration == Charger.Registration.PENDING:
        report.notes.append(f"{label} is pending approval; approve it in the admin to let it charge")


def _update(obj: models.Model, *, values: dict[str, Any], label: str, report: ImportReport) -> None:
    """Save what differs and report it; an item touched twice is reported once."""
    changes = {name: (getattr(obj, name), value) for name, value in values.items() if getattr(obj, name) != value}
    if changes:
        for name, (_, value) in changes.items():
            setattr(obj, name, value)
        obj.save(update_fields=list(changes))
        if label not in report.created:
            report.updated.setdefault(label, {}).update(changes)
    if label in report.updated or label in report.created:
        if label in report.unchanged:
            report.unchanged.remove(label)
    elif label not in report.unchanged:
        report.unchanged.append(label)


def _create(model: type[models.Model], *, values: dict[str, Any], label: str, report: ImportReport, **fields):
    report.created.append(label)
    return model.objects.create(**fields, **values)


def _energy_apply(*, config: ConfigFile, site: Site, report: ImportReport, power_paths: dict[str, str]) -> None:
    """`power_paths`: chargers whose max_power_w the same file sets (charger id -> path)."""
    errors: list[str] = []
    if config.balancing.values:
        _update(site, values=config.balancing.values, label=f"load balancing of site '{site}'", report=report)
    circuits = _circuits_apply(config=config, site=site, report=report, errors=errors)
    _chargers_apply(config=config, site=site, circuits=circuits, power_paths=power_paths, report=report, errors=errors)
    values = dict(config.solar.values)
    if config.smoothing_on and "window_s" not in values:
        solar = SolarCharging.objects.filter(site=site).first()
        if solar is not None and solar.window_s == 0:
            values["window_s"] = DEFAULT_WINDOW_S
    _one_per_site(SolarCharging, site=site, values=values, label=f"solar charging of site '{site}'", report=report)
    _tou_apply(config=config, site=site, report=report, errors=errors)
    _periods_apply(config=config, site=site, report=report)
    grid = _one_per_site(
        GridResponse, site=site, values=config.grid.values, label=f"grid response of site '{site}'", report=report
    )
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
        values = {
            name: value for name, value in given(entry).items() if name in ("max_current_a", "phases", "supply_phase")
        }
        if entry.name in by_name:
            _update(by_name[entry.name], values=values, label=label, report=report)
        elif "max_current_a" not in values:
            errors.append(f"{path}.max_current_a: missing (needed to make circuit {entry.name!r})")
        else:
            by_name[entry.name] = _create(
                Circuit, values=values, label=label, report=report, site=site, name=entry.name
            )
    # Parents once every circuit of the file exists, so a child may come before its parent.
    trees = [(path, entry) for path, entry in config.circuits if "parent_name" in given(entry)]
    for path, entry in trees:
        if entry.name not in by_name:
            continue
        parent = by_name.get(entry.parent_name) if entry.parent_name is not None else None
        if entry.parent_name is not None and parent is None:
            errors.append(f"{path}.parent: no circuit {entry.parent_name!r} on site '{site}'")
            continue
        _update(by_name[entry.name], values={"parent": parent}, label=f"circuit '{entry.name}'", report=report)
    names = {circuit.pk: circuit.name for circuit in by_name.values()}
    parents = {circuit.name: names.get(circuit.parent_id) for circuit in by_name.values()}
    errors += loops([(path, entry.name) for path, entry in trees if entry.name in by_name], parents)
    return by_name


def _chargers_apply(
    *,
    config: ConfigFile,
    site: Site,
    circuits: dict[str, Circuit],
    power_paths: dict[str, str],
    report: ImportReport,
    errors: list[str],
) -> None:
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
        charger = found(link.charge_point_id, path)
        if charger is None:
            continue
        changes = values.setdefault(charger.charge_point_id, {})
        if circuit is not None and circuit in circuits:
            changes["circuit"] = circuits[circuit]
        if link.supply_phase is not None:
            changes["supply_phase"] = link.supply_phase
        if link.max_current_a is None:
            continue
        implied_a = round(charger.max_power_w / (NOMINAL_VOLTAGE_V * charger.phases))
        if charger.charge_point_id in power_paths:
            if implied_a != link.max_current_a:
                errors.append(
                    f"{path}.max_current_a: {link.max_current_a} A disagrees with "
                    f"{power_paths[charger.charge_point_id]}: {charger.max_power_w} W ({implied_a} A at "
                    f"{NOMINAL_VOLTAGE_V:.0f} V on {charger.phases} phase(s)); give one of them or make them agree"
                )
        elif implied_a != link.max_current_a:
            power_w = round(link.max_current_a * NOMINAL_VOLTAGE_V * charger.phases)
            if power_w > MAX_POWER_W:
                errors.append(f"{path}.max_current_a: {power_w} W on {charger.phases} phases is too much")
            else:
                changes["max_power_w"] = power_w

    if config.priority is not None:
        listed = [found(charge_point_id, path) for charge_point_id, path in config.priority]
        if all(listed):
            ranks = [charger.priority for charger in listed]
            if any(a >= b for a, b in itertools.pairwise(ranks)):
                for rank, charger in enumerate(listed):
                    values.setdefault(charger.charge_point_id, {})["priority"] = rank
            others = Charger.objects.filter(site=site).exclude(charge_point_id__in=[c.charge_point_id for c in listed])
            if others_ids := list(others.values_list("charge_point_id", flat=True)):
                report.notes.append(f"not in load_balancing.priority, priority left as it is: {', '.join(others_ids)}")
    for charge_point_id, changes in values.items():
        _update(chargers[charge_point_id], values=changes, label=f"charger '{charge_point_id}'", report=report)


def _one_per_site(
    model: type[models.Model], *, site: Site, values: dict[str, Any], label: str, report: ImportReport
) -> models.Model | None:
    if not values:
        return None
    obj = model.objects.filter(site=site).first()
    if obj is None:
        return _create(model, values=values, label=label, report=report, site=site)
    _update(obj, values=values, label=label, report=report)
    return obj


def _tou_apply(*, config: ConfigFile, site: Site, report: ImportReport, errors: list[str]) -> None:
    values = config.tou.values
    tou = _one_per_site(TimeOfUse, site=site, values=values, label=f"time of use of site '{site}'", report=report)
    amounts = {"target_energy_wh": "energy_wh", "target_soc_percent": "soc_percent", "battery_capacity_wh": ""}
    if tou is None or not any(name in values for name in ("target_mode", *amounts)):
        return
    mode_path = config.tou.paths.get("target_mode", "tou_charging.target.mode")
    needs = {"energy": ("target_energy_wh",), "soc": ("target_soc_percent", "battery_capacity_wh")}
    for name in needs.get(tou.target_mode, ()):
        if getattr(tou, name) is None:
            errors.append(f"{mode_path}: {tou.target_mode!r} needs tou_charging.target.{amounts[name] or name}")


def _periods_apply(*, config: ConfigFile, site: Site, report: ImportReport) -> None:
    if config.periods is None:
        return
    tariff = Tariff.objects.filter(site=site, is_active=True).first()
    if tariff is None:
        tariff = Tariff.objects.filter(site=site, name=DEFAULT_TARIFF_NAME).first()
        label = f"tariff '{DEFAULT_TARIFF_NAME}'"
        if tariff is None:
            tariff = _create(Tariff, values={}, label=label, report=report, site=site, name=DEFAULT_TARIFF_NAME)
        else:
            _update(tariff, values={"is_active": True}, label=label, report=report)
    label = f"tariff '{tariff.name}'"
    existing = {period.name: period for period in sorted(tariff.periods.all(), key=period_order)}
    listed = [period.name for _, period in config.periods]
    if removed := [name for name in existing if name not in listed]:
        TariffPeriod.objects.filter(pk__in=[existing[name].pk for name in removed]).delete()
        report.updated.setdefault(label, {})["periods"] = (", ".join(existing), ", ".join(listed))
    # Timed periods first: a period becoming "all other times" must not meet the one it replaces.
    for _, entry in sorted(config.periods, key=lambda item: item[1].start is None):
        values = {name: value for name, value in given(entry).items() if name != "name"}
        values.update(start=entry.start, end=entry.end)
        period_label = f"period '{entry.name}' of {label}"
        if entry.name in existing:
            _update(existing[entry.name], values=values, label=period_label, report=report)
        else:
            _create(TariffPeriod, values=values, label=period_label, report=report, tariff=tariff, name=entry.name)


def period_order(period: TariffPeriod) -> tuple:
    """Timed periods by start, then "all other times", as the spec lists them."""
    return (period.start is None, period.start or dt.time(0), period.name)
