"""The database written in the file's layout (schema.py): importing an export changes nothing.
Settings the site has never had (no solar, time-of-use or grid row) are left out, and the
extensions are written only where needed."""

import datetime as dt
from collections import Counter
from typing import Any

from django.db import models

from chargers.models import Charger
from energy.configuration.importing import amps, only_site, period_order
from energy.configuration.parsing import implied_security_profile
from energy.configuration.schema import (
    MAX_CHARGER_A,
    VERSION_OF_PROTOCOL,
    Block,
    EnergySection,
    GridBlock,
    LoadBalancing,
    OcppCharger,
    Part,
    Period,
    SiteBlock,
    SolarBlock,
    TariffBlock,
    TouBlock,
    time_text,
)
from energy.models import Circuit, GridResponse, Site, SolarCharging, Tariff, TimeOfUse


def config_file_export(*, site: Site | None = None) -> dict:
    """The site's chargers (ocpp.yaml) and energy settings as one file for config_file_import."""
    site = site or only_site(prefix="", hint="choose the site to export")
    return {**ocpp_config_export(site=site), **(energy_config_export(site=site) if site else {})}


def ocpp_config_export(*, site: Site | None = None) -> dict:
    """The site's chargers as an ocpp.yaml."""
    site = site or only_site(prefix="", hint="choose the site to export")
    chargers = list(Charger.objects.filter(site=site).order_by("charge_point_id")) if site else []
    # The most common interval goes in protocol:, the rest per charger.
    common = _most_common([c.heartbeat_interval_s for c in chargers], None)
    version = _most_common([VERSION_OF_PROTOCOL[c.protocol] for c in chargers], "1.6")
    method = _most_common(["certificate" if c.security_profile == 3 else "basic" for c in chargers], "basic")
    implied = implied_security_profile(method=method)
    protocol: dict[str, Any] = {"version": version}
    if common is not None:
        protocol["heartbeat_interval"] = common
    entries = []
    for charger in chargers:
        own = {
            "heartbeat_interval": charger.heartbeat_interval_s,
            "protocol": VERSION_OF_PROTOCOL[charger.protocol],
            "security_profile": charger.security_profile,
        }
        entries.append(_export(OcppCharger, charger, **own))
        for key, same in (
            ("heartbeat_interval", common),
            ("protocol", version),
            ("security_profile", implied),
        ):
            if own[key] == same:
                del entries[-1][key]
    credentials = [
        {"charger_id": c.charge_point_id, "password_env": c.password_env} for c in chargers if c.password_env
    ]
    ocpp = {"enabled": True, "protocol": protocol, "auth": {"method": method, "credentials": credentials}}
    return {**({"site": _export(SiteBlock, site)} if site else {}), "ocpp": {**ocpp, "chargers": entries}}


def _most_common(values: list, default: Any) -> Any:
    """What most chargers have goes in the file's common block, the rest per charger."""
    return Counter(values).most_common(1)[0][0] if values else default


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
            _export(Period, period, start=period.start, end=period.end, rate_per_kwh=float(period.rate_per_kwh))
            for period in sorted(tariff.periods.all(), key=period_order)
        ]
        data["tou_charging"] = _export(TouBlock, tou, periods=periods)
    elif tou is not None:
        data["tou_charging"] = _export(TouBlock, tou)
    if site.feed_in_per_kwh:  # left out at its default, like the blocks a site never had
        data["tariff"] = _export(TariffBlock, site, feed_in_per_kwh=float(site.feed_in_per_kwh))
    if grid is not None:
        data["grid_response"] = _export(GridBlock, grid)
        demand = data["grid_response"]["demand_response"]
        demand["levels"] = {"normal": {"limit_percent": 100}, **demand["levels"]}  # the normal level does not limit
    return data


def _export(block: type[Block], row: models.Model | None, **given: Any) -> dict[str, Any]:
    """A block in the schema's order: `given` values (None too), else the row's columns under
    their keys in the file (a part's from the same row); None and empty parts are left out."""
    columns = {column.name for column in row._meta.concrete_fields} if row is not None else set()
    data: dict[str, Any] = {}
    for name, info in block.model_fields.items():
        key = info.alias or name
        if key in given:
            value = given[key]
        elif isinstance(info.annotation, type) and issubclass(info.annotation, Part):
            value = _export(info.annotation, row) or None
        else:
            value = getattr(row, name) if name in columns else None
        if value is not None or key in given:
            data[key] = time_text(value) if isinstance(value, dt.time) else value
    return data


def _load_balancing_export(site: Site) -> dict[str, Any]:
    """One circuit goes in load_balancing.circuit as in the spec; a deeper tree in `circuits:`."""
    circuits = {circuit.pk: circuit for circuit in Circuit.objects.filter(site=site).order_by("name")}
    chargers = list(Charger.objects.filter(site=site).order_by("charge_point_id"))

    def links(circuit: Circuit) -> list[dict[str, Any]]:
        return [_link_export(charger) for charger in chargers if charger.circuit_id == circuit.pk]

    def depth(circuit: Circuit) -> int:
        ancestors = []
        while circuit.parent_id in circuits and circuit.pk not in ancestors:  # a loop made outside the admin ends
            ancestors.append(circuit.pk)
            circuit = circuits[circuit.parent_id]
        return len(ancestors)

    given: dict[str, Any] = {}
    if len(circuits) == 1:
        (circuit,) = circuits.values()
        given = {"circuit": _circuit_export(circuit), "chargers": links(circuit)}
    # Equal priorities cannot be written as a list.
    if chargers and len({charger.priority for charger in chargers}) == len(chargers):
        given["priority"] = [charger.charge_point_id for charger in sorted(chargers, key=lambda c: c.priority)]
    data = {"load_balancing": _export(LoadBalancing, site, **given)}
    if len(circuits) > 1:  # parents before their children
        data["circuits"] = [
            {
                **_circuit_export(circuit),
                "parent": circuits[circuit.parent_id].name if circuit.parent_id in circuits else None,
                "chargers": links(circuit),
            }
            for circuit in sorted(circuits.values(), key=lambda circuit: (depth(circuit), circuit.name))
        ]
    return data


def _circuit_export(circuit: Circuit) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": circuit.name, "max_current_a": circuit.max_current_a, "phases": circuit.phases}
    if circuit.phases == 1:
        entry["supply_phase"] = circuit.supply_phase
    return entry


def _link_export(charger: Charger) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": charger.charge_point_id}
    if 1 <= amps(charger) <= MAX_CHARGER_A:
        entry["max_current_a"] = amps(charger)
    if charger.phases == 1:
        entry["supply_phase"] = charger.supply_phase
    return entry
