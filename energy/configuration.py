"""The spec's energy settings in and out of the database: the `energy:` section ("Energy
Integration Configuration") and the `load_balancing`, `solar_charging`, `tou_charging` and
`grid_response` blocks, next to the ocpp.yaml of chargers/configuration.py and by the same
rules. One file may hold any of them; config_file_import / config_file_export (the commands)
handle the whole file in one transaction.

What an installer can rely on:
- A key left out leaves that value as it is. A setting the file creates gets the spec's values
  for what it leaves out (the models' defaults are the spec's values), except `enabled`, which
  stays off until the file or the admin turns it on.
- The `energy:` section repeats some values of the blocks (mode, min_surplus_w, algorithm,
  ready_by...). Both may be given; if they disagree the file is refused, naming both paths. So
  are site.circuit_limit_a against energy.load_balancing.circuit_limit_a, and a charger's ocpp
  max_power_w against its load_balancing max_current_a. Those agree when max_power_w is within
  half an amp of max_current_a × 230 V × phases (7400 W on one phase is 32 A); max_power_w
  is kept. max_current_a alone sets max_power_w to max_current_a × 230 V × phases.
- `smoothing.enabled: false` stores a window of 0 s; turning it back on without a
  window_seconds restores the spec's 300 s.
- `tou_charging.periods` makes the periods of the site's active tariff match the file exactly
  (a tariff named "time of use" is made when the site has no active one).
- `load_balancing.priority` numbers the listed chargers 0, 1, 2... (lower charges first) unless
  their priorities already rise in that order. Equal priorities cannot be written as a list, so
  export writes `priority:` only when the site's chargers all have different ones.
- `load_balancing.chargers` hangs the chargers on `load_balancing.circuit`; chargers already on
  it and not listed stay there.

Extensions to the spec's format, all optional: `load_balancing.circuit` name (default "load
balancing circuit") and supply_phase; `supply_phase` per charger in a chargers list;
`load_balancing.failsafe` (meter_timeout_seconds, current_a); a top-level `circuits:` list for
deeper fuse trees (name, max_current_a, phases, supply_phase, parent, chargers);
`solar_charging.hysteresis` (start_delay_seconds, stop_delay_seconds); `tou_charging.target`
energy_wh, soc_percent and battery_capacity_wh for the energy and soc modes. Export writes them
where needed, so importing an export changes nothing.
"""

import datetime as dt
import itertools
from typing import Any

from django.db import models, transaction

from chargers.configuration import (
    MAX_POWER_W,
    ConfigError,
    ImportReport,
    OcppConfig,
    config_export,
    config_import,
    config_parse,
    site_apply,
)
from chargers.models import Charger
from energy.allocation import NOMINAL_VOLTAGE_V
from energy.configuration_parse import (
    CLEAR,
    ENERGY_KEYS,
    MAX_CHARGER_A,
    EnergyConfig,
    energy_config_parse,
    time_text,
)
from energy.models import Circuit, GridResponse, Site, SolarCharging, Tariff, TariffPeriod, TimeOfUse

__all__ = [
    "config_file_export",
    "config_file_import",
    "energy_config_export",
    "energy_config_import",
    "energy_config_parse",
]

DEFAULT_TARIFF_NAME = "time of use"
DEFAULT_WINDOW_S = 300


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
    if not isinstance(data, dict):
        raise ConfigError(["the file: must be a mapping (key: value lines)"])
    if "ocpp" not in data and not any(key in data for key in ENERGY_KEYS):
        raise ConfigError([f"the file has none of ocpp, {', '.join(ENERGY_KEYS)}: nothing to import"])
    unknown = [f"{key}: unknown key; ignored" for key in data if key not in ("site", "ocpp", *ENERGY_KEYS)]
    # Without ocpp:, the site block is still read (it names the site the settings are for).
    ocpp_part = {key: data[key] for key in ("site", "ocpp") if key in data}
    ocpp_part.setdefault("ocpp", {})

    errors: list[str] = []
    ocpp_config = energy_config = None
    try:
        ocpp_config = config_parse(data=ocpp_part)
    except ConfigError as exc:
        errors += exc.errors
    try:
        energy_config = energy_config_parse(data=data)
    except ConfigError as exc:
        errors += exc.errors
    if ocpp_config is not None and energy_config is not None:
        errors += _cross_check(ocpp_config, energy_config)
    if errors:
        raise ConfigError(errors)
    assert ocpp_config is not None and energy_config is not None

    with transaction.atomic():
        if "ocpp" in data:
            report = config_import(data=ocpp_part)
            # Finds the site config_import has just made or updated; nothing more to report.
            site = site_apply(config=ocpp_config.site, report=ImportReport())
        else:
            report = ImportReport(warnings=list(ocpp_config.warnings), notes=list(ocpp_config.notes))
            site = site_apply(config=ocpp_config.site, report=report)
        report.warnings[:0] = unknown
        energy_report = ImportReport(warnings=list(energy_config.warnings), notes=list(energy_config.notes))
        power_paths = {
            charger.charge_point_id: f"ocpp.chargers[{index}].max_power_w"
            for index, charger in enumerate(ocpp_config.chargers)
            if "max_power_w" in charger.values
        }
        _energy_apply(config=energy_config, site=site, report=energy_report, power_paths=power_paths)
        _merge(report, energy_report)
    return report


def _cross_check(ocpp: OcppConfig, energy: EnergyConfig) -> list[str]:
    if ocpp.site is None or ocpp.site.circuit_limit_a is None or "circuit_limit_a" not in energy.site.values:
        return []
    if ocpp.site.circuit_limit_a == energy.site.values["circuit_limit_a"]:
        return []
    return [
        f"site.circuit_limit_a: {ocpp.site.circuit_limit_a} disagrees with {energy.site.paths['circuit_limit_a']}: "
        f"{energy.site.values['circuit_limit_a']}; give one of them or make them equal"
    ]


def _merge(report: ImportReport, other: ImportReport) -> None:
    """One line per item: a charger the ocpp part left unchanged may be updated by load_balancing."""
    report.created += [item for item in other.created if item not in report.created]
    for item, changes in other.updated.items():
        # What a new item was made with is not news.
        if item not in report.created:
            report.updated.setdefault(item, {}).update(changes)
    unchanged = dict.fromkeys(report.unchanged + other.unchanged)
    report.unchanged = [item for item in unchanged if item not in report.updated and item not in report.created]
    report.warnings += other.warnings
    report.notes += other.notes


def _update(obj: models.Model, *, values: dict[str, Any], label: str, report: ImportReport) -> None:
    """Save what differs and report it; an item touched twice is reported once."""
    values = {name: None if value is CLEAR else value for name, value in values.items()}
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
    values = {name: None if value is CLEAR else value for name, value in values.items()}
    report.created.append(label)
    return model.objects.create(**fields, **values)


def _energy_apply(*, config: EnergyConfig, site: Site, report: ImportReport, power_paths: dict[str, str]) -> None:
    """`power_paths`: chargers whose max_power_w the same file sets (charger id -> path)."""
    errors: list[str] = []
    if config.site.values:
        _update(site, values=config.site.values, label=f"load balancing of site '{site}'", report=report)
    circuits = _circuits_apply(config=config, site=site, report=report, errors=errors)
    _chargers_apply(config=config, site=site, circuits=circuits, power_paths=power_paths, report=report, errors=errors)
    _solar_apply(config=config, site=site, report=report)
    _tou_apply(config=config, site=site, report=report, errors=errors)
    _periods_apply(config=config, site=site, report=report)
    _grid_apply(config=config, site=site, report=report, errors=errors)
    if errors:
        raise ConfigError(errors)


def _circuits_apply(*, config: EnergyConfig, site: Site, report: ImportReport, errors: list[str]) -> dict[str, Circuit]:
    by_name = {circuit.name: circuit for circuit in Circuit.objects.filter(site=site)}
    for entry in config.circuits:
        label = f"circuit '{entry.name}'"
        circuit = by_name.get(entry.name)
        if circuit is not None:
            _update(circuit, values=entry.values, label=label, report=report)
        elif "max_current_a" not in entry.values:
            errors.append(f"{entry.path}.max_current_a: missing (needed to make circuit {entry.name!r})")
        else:
            by_name[entry.name] = _create(
                Circuit, values=entry.values, label=label, report=report, site=site, name=entry.name
            )
    # Parents once every circuit of the file exists, so a child may come before its parent.
    for entry in config.circuits:
        if not entry.sets_parent or entry.name not in by_name:
            continue
        parent = by_name.get(entry.parent) if entry.parent is not None else None
        if entry.parent is not None and parent is None:
            errors.append(f"{entry.path}.parent: no circuit {entry.parent!r} on site '{site}'")
            continue
        _update(by_name[entry.name], values={"parent": parent}, label=f"circuit '{entry.name}'", report=report)
    by_pk = {circuit.pk: circuit for circuit in by_name.values()}
    for entry in config.circuits:
        if not entry.sets_parent or entry.name not in by_name:
            continue
        chain, node = [entry.name], by_name[entry.name]
        while node.parent_id in by_pk and len(chain) <= len(by_pk):
            node = by_pk[node.parent_id]
            chain.append(node.name)
            if node.name == entry.name:
                errors.append(f"{entry.path}.parent: makes a loop ({' -> '.join(chain)})")
                break
    return by_name


def _chargers_apply(
    *,
    config: EnergyConfig,
    site: Site,
    circuits: dict[str, Circuit],
    power_paths: dict[str, str],
    report: ImportReport,
    errors: list[str],
) -> None:
    wanted = {link.charge_point_id for link in config.links} | {cid for cid, _ in config.priority or []}
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
    for link in config.links:
        charger = found(link.charge_point_id, link.path)
        if charger is None:
            continue
        changes = values.setdefault(charger.charge_point_id, {})
        if link.circuit is not None and link.circuit in circuits:
            changes["circuit"] = circuits[link.circuit]
        if link.supply_phase is not None:
            changes["supply_phase"] = link.supply_phase
        if link.max_current_a is None:
            continue
        implied_a = round(charger.max_power_w / (NOMINAL_VOLTAGE_V * charger.phases))
        if charger.charge_point_id in power_paths:
            if implied_a != link.max_current_a:
                errors.append(
                    f"{link.path}.max_current_a: {link.max_current_a} A disagrees with "
                    f"{power_paths[charger.charge_point_id]}: {charger.max_power_w} W ({implied_a} A at "
                    f"{NOMINAL_VOLTAGE_V:.0f} V on {charger.phases} phase(s)); give one of them or make them agree"
                )
        elif implied_a != link.max_current_a:
            power_w = round(link.max_current_a * NOMINAL_VOLTAGE_V * charger.phases)
            if power_w > MAX_POWER_W:
                errors.append(f"{link.path}.max_current_a: {power_w} W on {charger.phases} phases is too much")
            else:
                changes["max_power_w"] = power_w

    if config.priority is not None:
        listed = [found(charge_point_id, path) for charge_point_id, path in config.priority]
        if all(listed):
            ranks = [charger.priority for charger in listed]
            if any(a >= b for a, b in itertools.pairwise(ranks)):
                for rank, charger in enumerate(listed):
                    values.setdefault(charger.charge_point_id, {})["priority"] = rank
            ids = [charger.charge_point_id for charger in listed]
            others = Charger.objects.filter(site=site).exclude(charge_point_id__in=ids)
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


def _solar_apply(*, config: EnergyConfig, site: Site, report: ImportReport) -> None:
    values = dict(config.solar.values)
    if config.smoothing_on and "window_s" not in values:
        solar = SolarCharging.objects.filter(site=site).first()
        if solar is not None and solar.window_s == 0:
            values["window_s"] = DEFAULT_WINDOW_S
    _one_per_site(SolarCharging, site=site, values=values, label=f"solar charging of site '{site}'", report=report)


def _tou_apply(*, config: EnergyConfig, site: Site, report: ImportReport, errors: list[str]) -> None:
    tou = _one_per_site(
        TimeOfUse, site=site, values=config.tou.values, label=f"time of use of site '{site}'", report=report
    )
    targets = ("target_mode", "target_energy_wh", "target_soc_percent", "battery_capacity_wh")
    if tou is None or not any(name in config.tou.values for name in targets):
        return
    mode_path = config.tou.paths.get("target_mode", "tou_charging.target.mode")
    needs = {"energy": ("target_energy_wh",), "soc": ("target_soc_percent", "battery_capacity_wh")}
    keys = {
        "target_energy_wh": "energy_wh",
        "target_soc_percent": "soc_percent",
        "battery_capacity_wh": "battery_capacity_wh",
    }
    for name in needs.get(tou.target_mode, ()):
        if getattr(tou, name) is None:
            errors.append(f"{mode_path}: {tou.target_mode!r} needs tou_charging.target.{keys[name]}")


def _periods_apply(*, config: EnergyConfig, site: Site, report: ImportReport) -> None:
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
    existing = {period.name: period for period in sorted(tariff.periods.all(), key=_period_order)}
    listed = [period.name for period in config.periods]
    removed = [name for name in existing if name not in listed]
    if removed:
        TariffPeriod.objects.filter(pk__in=[existing[name].pk for name in removed]).delete()
        report.updated.setdefault(label, {})["periods"] = (", ".join(existing), ", ".join(listed))
    # Timed periods first: a period becoming "all other times" must not meet the one it replaces.
    for entry in sorted(config.periods, key=lambda period: period.start is None):
        values = {"start": entry.start, "end": entry.end, "rate_per_kwh": entry.rate_per_kwh}
        if entry.priority is not None:
            values["priority"] = entry.priority
        period_label = f"period '{entry.name}' of {label}"
        if entry.name in existing:
            _update(existing[entry.name], values=values, label=period_label, report=report)
        else:
            _create(TariffPeriod, values=values, label=period_label, report=report, tariff=tariff, name=entry.name)


def _period_order(period: TariffPeriod) -> tuple:
    """Timed periods by start, then "all other times", as the spec lists them."""
    return (period.start is None, period.start or dt.time(0), period.name)


def _grid_apply(*, config: EnergyConfig, site: Site, report: ImportReport, errors: list[str]) -> None:
    grid = _one_per_site(
        GridResponse, site=site, values=config.grid.values, label=f"grid response of site '{site}'", report=report
    )
    path = config.grid.paths.get("low_frequency_hz") or config.grid.paths.get("high_frequency_hz")
    if grid is not None and path is not None and grid.low_frequency_hz >= grid.high_frequency_hz:
        errors.append(
            f"{path}: low_frequency_hz ({grid.low_frequency_hz:g}) must be below "
            f"high_frequency_hz ({grid.high_frequency_hz:g})"
        )


def energy_config_export(*, site: Site) -> dict:
    """The site's energy settings in the spec's layout; importing the result changes nothing.
    Settings the site has never had (no solar, time-of-use or grid row) are left out."""
    solar = SolarCharging.objects.filter(site=site).first()
    tou = TimeOfUse.objects.filter(site=site).first()
    tariff = Tariff.objects.filter(site=site, is_active=True).prefetch_related("periods").first()
    grid = GridResponse.objects.filter(site=site).first()

    energy: dict[str, Any] = {}
    if solar is not None:
        energy["solar_charging"] = {
            "enabled": solar.enabled,
            "mode": solar.mode,
            "min_surplus_w": solar.min_surplus_w,
            "update_interval_seconds": solar.update_interval_s,
        }
    energy["load_balancing"] = {
        "enabled": site.load_balancing_enabled,
        "circuit_limit_a": site.circuit_limit_a,
        "algorithm": site.algorithm,
    }
    if tou is not None:
        energy["tou"] = {"enabled": tou.enabled, "avoid_peak": tou.avoid_peak, "ready_by": time_text(tou.ready_by)}

    data: dict[str, Any] = {"energy": energy, **_load_balancing_export(site)}
    if solar is not None:
        data["solar_charging"] = {
            "enabled": solar.enabled,
            "surplus": {"min_surplus_w": solar.min_surplus_w},
            "behavior": {
                "mode": solar.mode,
                "solar_priority": {"allow_grid_minimum": solar.allow_grid_minimum_w},
                "mixed": {"max_grid_w": solar.max_grid_w},
            },
            "update_interval_seconds": solar.update_interval_s,
            "smoothing": {"enabled": True, "window_seconds": solar.window_s} if solar.window_s else {"enabled": False},
            "hysteresis": {"start_delay_seconds": solar.start_delay_s, "stop_delay_seconds": solar.stop_delay_s},
        }
    if tou is not None or tariff is not None:
        data["tou_charging"] = _tou_export(tou, tariff)
    if grid is not None:
        data["grid_response"] = {
            "enabled": grid.enabled,
            "demand_response": {
                "levels": {
                    "normal": {"limit_percent": 100},
                    "moderate": {"limit_percent": grid.moderate_limit_percent},
                    "high": {"limit_percent": grid.high_limit_percent},
                }
            },
            "frequency_response": {
                "enabled": grid.frequency_response_enabled,
                "low_frequency_hz": grid.low_frequency_hz,
                "high_frequency_hz": grid.high_frequency_hz,
            },
        }
    return data


def _load_balancing_export(site: Site) -> dict[str, Any]:
    """One circuit goes in load_balancing.circuit as in the spec; a deeper tree in `circuits:`."""
    circuits = list(Circuit.objects.filter(site=site).order_by("name"))
    chargers = list(Charger.objects.filter(site=site).order_by("charge_point_id"))
    on_circuit: dict[int, list[Charger]] = {}
    for charger in chargers:
        on_circuit.setdefault(charger.circuit_id, []).append(charger)

    lb: dict[str, Any] = {}
    if len(circuits) == 1:
        lb["circuit"] = _circuit_export(circuits[0])
        lb["chargers"] = [_link_export(charger) for charger in on_circuit.get(circuits[0].pk, [])]
    lb["algorithm"] = site.algorithm
    if chargers and len({charger.priority for charger in chargers}) == len(chargers):
        lb["priority"] = [charger.charge_point_id for charger in sorted(chargers, key=lambda c: c.priority)]
    lb["rebalance"] = {"min_interval_seconds": site.min_interval_s}
    lb["failsafe"] = {"meter_timeout_seconds": site.meter_timeout_s, "current_a": site.failsafe_current_a}
    if len(circuits) < 2:
        return {"load_balancing": lb}

    names = {circuit.pk: circuit.name for circuit in circuits}
    children: dict[int | None, list[Circuit]] = {}
    for circuit in circuits:
        children.setdefault(circuit.parent_id if circuit.parent_id in names else None, []).append(circuit)
    ordered: list[Circuit] = []
    stack = list(reversed(children.get(None, [])))
    while stack:  # parents before their children
        circuit = stack.pop()
        ordered.append(circuit)
        stack += reversed(children.get(circuit.pk, []))
    ordered += [circuit for circuit in circuits if circuit not in ordered]  # a loop made outside the admin
    entries = [
        {
            **_circuit_export(circuit),
            "parent": names.get(circuit.parent_id),
            "chargers": [_link_export(charger) for charger in on_circuit.get(circuit.pk, [])],
        }
        for circuit in ordered
    ]
    return {"load_balancing": lb, "circuits": entries}


def _circuit_export(circuit: Circuit) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": circuit.name, "max_current_a": circuit.max_current_a, "phases": circuit.phases}
    if circuit.phases == 1:
        entry["supply_phase"] = circuit.supply_phase
    return entry


def _link_export(charger: Charger) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": charger.charge_point_id}
    amps = round(charger.max_power_w / (NOMINAL_VOLTAGE_V * charger.phases))
    if 1 <= amps <= MAX_CHARGER_A:
        entry["max_current_a"] = amps
    if charger.phases == 1:
        entry["supply_phase"] = charger.supply_phase
    return entry


def _tou_export(tou: TimeOfUse | None, tariff: Tariff | None) -> dict[str, Any]:
    block: dict[str, Any] = {}
    if tou is not None:
        block["enabled"] = tou.enabled
    if tariff is not None:
        periods = sorted(tariff.periods.all(), key=_period_order)
        block["periods"] = [
            {
                "name": period.name,
                "start": time_text(period.start) if period.start is not None else None,
                "end": time_text(period.end) if period.end is not None else None,
                "rate_per_kwh": float(period.rate_per_kwh),
                "priority": period.priority,
            }
            for period in periods
        ]
    if tou is not None:
        block["behavior"] = {"avoid_peak": tou.avoid_peak, "prefer_off_peak": tou.prefer_off_peak}
        target: dict[str, Any] = {"mode": tou.target_mode, "ready_by": time_text(tou.ready_by)}
        extras = {"energy_wh": tou.target_energy_wh, "soc_percent": tou.target_soc_percent}
        extras["battery_capacity_wh"] = tou.battery_capacity_wh
        target.update({key: value for key, value in extras.items() if value is not None})
        block["target"] = target
    return block


def config_file_export(*, site: Site | None = None) -> dict:
    """The site's chargers (ocpp.yaml) and energy settings as one file for config_file_import."""
    data = config_export(site=site)
    if site is None and "site" in data:
        site = Site.objects.get(name=data["site"]["name"])
    if site is not None:
        data.update(energy_config_export(site=site))
    return data
