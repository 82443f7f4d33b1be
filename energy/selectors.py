"""Reads for energy control: the database turned into the plain data the control core takes."""

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from chargers.models import Charger
from energy.allocation import NOMINAL_VOLTAGE_V, PHASES, Fuse
from energy.control import ChargerState
from energy.models import EnergyReading, GridResponse, Site, SolarCharging, TimeOfUse
from energy.tou import Period
from sessions.models import ChargingSession, MeterSample

SITE_FUSE_ID = "main fuse"
# Connector states in which no car wants power. Unknown states count as wanting: the safe
# side of "unknown" is a limit the fuses allow, not a car that never starts.
IDLE_STATUSES = {"Available", "Unavailable", "Faulted", "Finishing", "Reserved"}


def fuse_id(circuit_pk: int | None) -> str:
    return SITE_FUSE_ID if circuit_pk is None else f"circuit {circuit_pk}"


def site_chargers(*, site: Site) -> list[Charger]:
    return list(
        Charger.objects.filter(site=site, enabled=True, registration=Charger.Registration.ACCEPTED)
        .select_related("circuit")
        .prefetch_related("connectors")
        .order_by("pk")
    )


@dataclass(frozen=True)
class Draw:
    """A charger's latest measured draw in its running session."""

    power_w: float | None
    current_a: float | None


def charger_draws(*, chargers: list[Charger], since: dt.datetime) -> dict[int, Draw]:
    """Latest Power.Active.Import and Current.Import of each charger's running session."""
    sessions = dict(
        ChargingSession.objects.filter(charger__in=chargers, stopped_at__isnull=True).values_list(
            "charger_id", "transaction_id"
        )
    )
    draws = {}
    for charger in chargers:
        if charger.pk not in sessions:
            draws[charger.pk] = Draw(None, None)
            continue
        samples = MeterSample.objects.filter(
            session_id=sessions[charger.pk],
            measurand__in=["Power.Active.Import", "Current.Import"],
            timestamp__gte=since,
            value__isnull=False,
        ).order_by("-timestamp")[:6]
        power = current = None
        for sample in samples:
            if sample.measurand == "Power.Active.Import" and power is None and sample.phase == "":
                power = sample.value * (1000 if sample.unit == "kW" else 1)
            if sample.measurand == "Current.Import" and current is None:
                current = sample.value
        if power is not None and current is None:
            current = power / (NOMINAL_VOLTAGE_V * charger.phases)
        draws[charger.pk] = Draw(power, current)
    return draws


def charger_states(*, chargers: list[Charger], draws: dict[int, Draw], now: dt.datetime) -> list[ChargerState]:
    states = []
    for charger in chargers:
        statuses = [c.status for c in charger.connectors.all() if c.status]
        wants = not statuses or any(s not in IDLE_STATUSES for s in statuses)
        manual = charger.manual_limit_w
        if charger.manual_limit_expires_at is not None and charger.manual_limit_expires_at <= now:
            manual = None
        previous = charger.applied_profiles.get("decision_a")
        states.append(
            ChargerState(
                id=str(charger.pk),
                fuse_id=fuse_id(
                    charger.circuit_id if charger.circuit and charger.circuit.site_id == charger.site_id else None
                ),
                phases=charger.phases,
                max_power_w=charger.max_power_w,
                wants_power=wants,
                connected_phase=charger.circuit.supply_phase
                if charger.circuit and charger.circuit.phases == 1
                else charger.supply_phase,
                priority=charger.priority,
                turn=charger.paused_since.timestamp() if charger.paused_since else now.timestamp(),
                min_current_a=charger.min_current_a,
                measured_current_a=draws[charger.pk].current_a,
                current_limit_a=previous,
                manual_limit_w=manual,
                can_switch_phases=charger.can_switch_phases,
                active_phases=charger.active_phases,
            )
        )
    return states


def latest_reading(*, site: Site) -> EnergyReading | None:
    return EnergyReading.objects.filter(site=site).order_by("-measured_at").first()


def site_fuses(
    *,
    site: Site,
    reading: EnergyReading | None,
    ev_current_by_phase: dict[str, float],
    fixed_loads: list[tuple[str, tuple[str, ...], float]],
) -> list[Fuse]:
    """The main fuse (with the non-EV load the main meter sees) and the circuits below it.
    `fixed_loads` are chargers we cannot steer now (offline, still on their last profile):
    (fuse id, phases, amps) counted as load on that fuse and every fuse above it."""
    parent_of = {SITE_FUSE_ID: None}
    described = []
    site_phases = PHASES if site.phases == 3 else ("L1",)
    described.append((SITE_FUSE_ID, site.circuit_limit_a, site_phases))
    if site.load_balancing_enabled:
        for circuit in site.circuits.all():
            parent_of[fuse_id(circuit.pk)] = fuse_id(circuit.parent_id)
            phases = PHASES if circuit.phases == 3 else (circuit.supply_phase,)
            described.append((fuse_id(circuit.pk), circuit.max_current_a, phases))

    other_load: dict[str, dict[str, float]] = {fid: {} for fid, _, _ in described}
    if reading is not None:
        grid = (reading.grid_l1_a, reading.grid_l2_a, reading.grid_l3_a)
        for phase, grid_a in zip(PHASES, grid, strict=True):
            if grid_a is not None:
                other_load[SITE_FUSE_ID][phase] = max(0.0, grid_a - ev_current_by_phase.get(phase, 0.0))
    for start, phases, amps in fixed_loads:
        node = start if start in parent_of else SITE_FUSE_ID
        while node is not None:
            for phase in phases:
                other_load[node][phase] = other_load[node].get(phase, 0.0) + amps
            node = parent_of[node]
    return [Fuse(fid, limit, phases, parent_of[fid], other_load[fid]) for fid, limit, phases in described]


def surplus_samples(*, site: Site, since: dt.datetime) -> list[EnergyReading]:
    return list(EnergyReading.objects.filter(site=site, measured_at__gte=since).order_by("measured_at"))


def tariff_periods(*, site: Site) -> list[Period]:
    tariff = site.tariffs.filter(is_active=True).prefetch_related("periods").first()
    if tariff is None:
        return []
    return [Period(p.name, float(p.rate_per_kwh), p.priority, p.start, p.end) for p in tariff.periods.all()]


def site_settings(*, site: Site) -> tuple[SolarCharging, TimeOfUse, GridResponse]:
    """Every site has the three blocks; defaults (all off) are made on first use."""
    solar, _ = SolarCharging.objects.get_or_create(site=site)
    tou, _ = TimeOfUse.objects.get_or_create(site=site)
    grid, _ = GridResponse.objects.get_or_create(site=site)
    return solar, tou, grid


def site_zone(site: Site) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(site.time_zone)
