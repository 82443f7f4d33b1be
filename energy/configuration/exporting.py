"""The database written in the file's layout (schema.py): importing an export changes nothing.
Settings the site has never had (no solar, time-of-use or grid row) are left out, and the
extensions are written only where needed."""

import datetime as dt
from collections import Counter
from typing import Any

from django.db import models
from pydantic import BaseModel

from chargers.models import Charger
from energy.allocation import NOMINAL_VOLTAGE_V
from energy.configuration.fields import MAX_CHARGER_A, SUPPORTED_VERSIONS, time_text
from energy.configuration.importing import only_site, period_order
from energy.configuration.schema import (
    EnergySection,
    GridBlock,
    LoadBalancing,
    Part,
    SolarBlock,
    TouBlock,
)
from energy.models import Circuit, GridResponse, Site, SolarCharging, Tariff, TimeOfUse


def config_file_export(*, site: Site | None = None) -> dict:
    """The site's chargers (ocpp.yaml) and energy settings as one file for config_file_import."""
    data = ocpp_config_export(site=site)
    if site is None and "site" in data:
        site = Site.objects.get(name=data["site"]["name"])
    if site is not None:
        data.update(energy_config_export(site=site))
    return data


def ocpp_config_export(*, site: Site | None = None) -> dict:
    """The site's chargers as an ocpp.yaml."""
    if site is None:
        site = only_site(prefix="", hint="choose the site to export")
    chargers = list(Charger.objects.filter(site=site).order_by("charge_point_id")) if site else []
    # The most common interval goes in protocol:, the rest per charger.
    common = Counter(c.heartbeat_interval_s for c in chargers).most_common(1)[0][0] if chargers else None
    protocol: dict[str, Any] = {"version": SUPPORTED_VERSIONS[0]}
    if common is not None:
        protocol["heartbeat_interval"] = common
    entries = []
    for charger in chargers:
        entry = {key: getattr(charger, key) for key in ("name", "location", "max_power_w", "phases")}
        entries.append({"id": charger.charge_point_id, **entry})
        if charger.heartbeat_interval_s != common:
            entries[-1]["heartbeat_interval"] = charger.heartbeat_interval_s
    data: dict[str, Any] = {}
    if site is not None:
        data["site"] = {"name": site.name, "time_zone": site.time_zone, "circuit_limit_a": site.circuit_limit_a}
    credentials = [
        {"charger_id": c.charge_point_id, "password_env": c.password_env} for c in chargers if c.password_env
    ]
    data["ocpp"] = {
        "enabled": True,
        "protocol": protocol,
        "auth": {"method": "basic", "credentials": credentials},
        "chargers": entries,
    }
    return data


def energy_config_export(*, site: Site) -> dict:
    """The site's energy settings in the spec's layout."""
    solar = SolarCharging.objects.filter(site=site).first()
    tou = TimeOfUse.objects.filter(site=site).first()
    tariff = Tariff.objects.filter(site=site, is_active=True).prefetch_related("periods").first()
    grid = GridResponse.objects.filter(site=site).first()
    rows = {"solar_charging": solar, "load_balancing": site, "tou": tou}
    energy = {key: _export(EnergySection.model_fields[key].annotation, row) for key, row in rows.items() if row}
    data: dict[str, Any] = {"energy": energy, **_load_balancing_export(site)}
    if solar is not None:
        smoothing = {"enabled": True, "window_seconds": solar.window_s} if solar.window_s else {"enabled": False}
        data["solar_charging"] = _export(SolarBlock, solar, smoothing=smoothing)
    if tariff is not None:
        periods = [
            {
                "name": period.name,
                "start": time_text(period.start) if period.start is not None else None,
                "end": time_text(period.end) if period.end is not None else None,
                "rate_per_kwh": float(period.rate_per_kwh),
                "priority": period.priority,
            }
            for period in sorted(tariff.periods.all(), key=period_order)
        ]
        data["tou_charging"] = _export(TouBlock, tou, periods=periods)
    elif tou is not None:
        data["tou_charging"] = _export(TouBlock, tou)
    if grid is not None:
        data["grid_response"] = _export(GridBlock, grid)
        demand = data["grid_response"]["demand_response"]
        demand["levels"] = {"normal": {"limit_percent": 100}, **demand["levels"]}  # the normal level does not limit
    return data


def _export(block: type[BaseModel], row: models.Model | None, **given: Any) -> dict[str, Any]:
    """A block in the schema's order: `given` values, else the row's columns under their keys in
    the file (a part's from the same row); None and empty parts are left out."""
    columns = {column.name for column in row._meta.concrete_fields} if row is not None else set()
    data: dict[str, Any] = {}
    for name, info in block.model_fields.items():
        key = info.alias or name
        if key in given:
            data[key] = given[key]
        elif isinstance(info.annotation, type) and issubclass(info.annotation, Part):
            if part := _export(info.annotation, row):
                data[key] = part
        elif name in columns and (value := getattr(row, name)) is not None:
            data[key] = time_text(value) if isinstance(value, dt.time) else value
    return data


def _load_balancing_export(site: Site) -> dict[str, Any]:
    """One circuit goes in load_balancing.circuit as in the spec; a deeper tree in `circuits:`."""
    circuits = list(Circuit.objects.filter(site=site).order_by("name"))
    chargers = list(Charger.objects.filter(site=site).order_by("charge_point_id"))
    on_circuit: dict[int, list[Charger]] = {}
    for charger in chargers:
        on_circuit.setdefault(charger.circuit_id, []).append(charger)

    given: dict[str, Any] = {}
    if len(circuits) == 1:
        given["circuit"] = _circuit_export(circuits[0])
        given["chargers"] = [_link_export(charger) for charger in on_circuit.get(circuits[0].pk, [])]
    # Equal priorities cannot be written as a list.
    if chargers and len({charger.priority for charger in chargers}) == len(chargers):
        given["priority"] = [charger.charge_point_id for charger in sorted(chargers, key=lambda c: c.priority)]
    lb = _export(LoadBalancing, site, **given)
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
