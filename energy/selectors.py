"""Reads for energy control: the database turned into the plain data the control core takes."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Avg, F, OuterRef, Q, QuerySet, Subquery, Window
from django.db.models.functions import RowNumber, TruncHour

from chargers.device_model import phases_3to1
from chargers.models import Charger, Connector
from energy import reasons
from energy.allocation import NOMINAL_VOLTAGE_V, PHASES, Fuse
from energy.control import ChargerState
from energy.models import (
    READING_MAX_AHEAD,
    ChargerControl,
    EnergyReading,
    GridResponse,
    LimitDecision,
    Site,
    SolarCharging,
    TimeOfUse,
)
from energy.tou import Period
from sessions.measurands import in_base_unit
from sessions.models import ChargingSession, MeterSample

SITE_FUSE_ID = "main fuse"
# Connector states in which no car wants power. Unknown states count as wanting: the safe
# side of "unknown" is a limit the fuses allow, not a car that never starts.
IDLE_STATUSES = {"Available", "Unavailable", "Faulted", "Finishing", "Reserved"}


def fuse_id(circuit_pk: int | None) -> str:
    return SITE_FUSE_ID if circuit_pk is None else f"circuit {circuit_pk}"


# What a control run reads of a charger (energy/services.py, chargers/protocols/), and all of
# its control record (charger.control), loaded with it.
# The other columns (boot details, timestamps, the whole GetConfiguration answer as JSON) were
# most of the cost of loading the chargers of a steady run.
CONTROL_FIELDS = (
    "site",
    "circuit",
    "charge_point_id",
    "protocol",
    "connection_protocol",
    "is_connected",
    "phases",
    "max_power_w",
    "supply_phase",
    "priority",
    "min_current_a",
    "can_switch_phases",
    "charging_rate_units",
    "rate_unit_override",
    "max_stack_level",
    "max_stack_level_override",
    "quirks",
    "limit_fallbacks",
)


def sites_chargers(*, site_pks: list[int]) -> dict[int, list[Charger]]:
    """Each charger with its `connector_statuses` (what charger_states reads), as plain strings:
    the related manager's cache per charger was a third of a steady control run's time, and
    Connector instances after it about a sixth (bench/control_bench.py)."""
    by_site: dict[int, list[Charger]] = {pk: [] for pk in site_pks}
    chargers = (
        Charger.objects.filter(site__in=site_pks, enabled=True, registration=Charger.Registration.ACCEPTED)
        .select_related("circuit", "control")
        .only(*CONTROL_FIELDS, *(f"control__{f.name}" for f in ChargerControl._meta.concrete_fields))
        .order_by("pk")
    )
    by_pk = {}
    for charger in chargers:
        charger.connector_statuses = []
        by_pk[charger.pk] = charger
        by_site[charger.site_id].append(charger)
    for charger_pk, status in Connector.objects.filter(charger__in=list(by_pk)).values_list("charger_id", "status"):
        by_pk[charger_pk].connector_statuses.append(status)
    return by_site


@dataclass(frozen=True)
class Draw:
    """A charger's latest measured draw in its running session."""

    power_w: float | None
    current_a: float | None


def running_sessions(*, chargers: list[Charger]) -> dict[int, ChargingSession]:
    """Each charger's newest open session (a solar TxProfile rides on it), in one query for the
    whole batch rather than one per charger and run."""
    newest: dict[int, ChargingSession] = {}
    sessions = (
        ChargingSession.objects.filter(charger__in=chargers, stopped_at__isnull=True)
        .order_by("-started_at", "-transaction_id")
        .only("charger_id", "transaction_id", "connector_id", "started_at")
    )
    for session in sessions:
        newest.setdefault(session.charger_id, session)
    return newest


def charger_draws(*, chargers: list[Charger], since: dt.datetime) -> dict[int, Draw]:
    """Latest Power.Active.Import and Current.Import of each charger's running sessions (summed
    when two connectors charge at once), in one query for the whole site."""
    latest = (
        MeterSample.objects.filter(
            session__charger__in=chargers,
            session__stopped_at__isnull=True,
            timestamp__gte=since,
            value__isnull=False,
        )
        .filter(Q(measurand="Power.Active.Import", phase="") | Q(measurand="Current.Import"))
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("session_id"), F("measurand")],
                order_by=[F("timestamp").desc(), F("id").desc()],
            )
        )
        .filter(rank=1)
        .values_list("session__charger_id", "measurand", "value", "unit")
    )
    power: dict[int, float] = {}
    current: dict[int, float] = {}
    for charger_pk, measurand, value, unit in latest:
        if measurand == "Power.Active.Import":
            power[charger_pk] = power.get(charger_pk, 0.0) + in_base_unit(value, unit)
        else:
            current[charger_pk] = current.get(charger_pk, 0.0) + value
    draws = {}
    for charger in chargers:
        power_w, current_a = power.get(charger.pk), current.get(charger.pk)
        if power_w is not None and current_a is None:
            current_a = power_w / (NOMINAL_VOLTAGE_V * charger.phases)
        draws[charger.pk] = _within_rating(Draw(power_w, current_a), charger)
    return draws


def _within_rating(draw: Draw, charger: Charger) -> Draw:
    """A charger cannot draw more than its rating: a meter saying so (broken, or a row stored
    before samples were bounded) is counted at the rating. The house load is the grid's reading
    less what the chargers draw, so an inflated draw would hide house load from the fuse."""
    rated_w = float(charger.max_power_w)
    rated_a = rated_w / (NOMINAL_VOLTAGE_V * charger.phases)
    return Draw(
        None if draw.power_w is None else min(draw.power_w, rated_w),
        None if draw.current_a is None else min(draw.current_a, rated_a),
    )


def _newest_of_each(model, *, parent: str, parents: QuerySet, order_by: tuple[str, ...], **filters) -> QuerySet:
    """Each parent's newest row of `model`, in one query that looks each one up in the index on
    (parent, order_by): these tables are kept for ever, so ranking all of a parent's rows would
    make every control run slower by the day (bench/control_bench.py --readings-per-site)."""
    newest_pk = model.objects.filter(**{parent: OuterRef("pk")}, **filters).order_by(*order_by).values("pk")[:1]
    return model.objects.filter(pk__in=parents.annotate(newest=Subquery(newest_pk)).values("newest"))


def latest_decisions(*, chargers: list[Charger]) -> dict[int, LimitDecision]:
    """Each charger's newest LimitDecision (index decision_latest_by_charger)."""
    newest = _newest_of_each(
        LimitDecision,
        parent="charger",
        parents=Charger.objects.filter(pk__in=[c.pk for c in chargers]),
        order_by=("-decided_at", "-id"),
    )
    return {decision.charger_id: decision for decision in newest.only("charger_id", "limit_w", "source", "reason")}


def charger_states(*, chargers: list[Charger], draws: dict[int, Draw], now: dt.datetime) -> list[ChargerState]:
    states = []
    for charger in chargers:
        statuses = [status for status in charger.connector_statuses if status]
        wants = not statuses or any(s not in IDLE_STATUSES for s in statuses)
        control = charger.control
        manual = control.manual_limit_w
        if control.manual_limit_expires_at is not None and control.manual_limit_expires_at <= now:
            manual = None
        external = control.external_limit_w
        if control.external_limit_expires_at is not None and control.external_limit_expires_at <= now:
            external = None
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
                turn=control.paused_since.timestamp() if control.paused_since else now.timestamp(),
                min_current_a=charger.min_current_a,
                measured_current_a=draws[charger.pk].current_a,
                current_limit_a=control.decision_current_a,
                manual_limit_w=manual,
                external_limit_w=external,
                external_limit_reason=""
                if external is None
                else reasons.external_limit(control.external_limit_source, external),
                # A station whose device model says it cannot would reject every 1-phase profile.
                can_switch_phases=charger.can_switch_phases and phases_3to1(charger.configuration) is not False,
                active_phases=control.active_phases,
                mode=control.mode,
            )
        )
    return states


def latest_readings(*, site_pks: list[int], now: dt.datetime) -> dict[int, EnergyReading]:
    """Each site's newest main-meter reading (index reading_by_site_time); sites without one are
    left out. A reading dated beyond READING_MAX_AHEAD is never current."""
    newest = _newest_of_each(
        EnergyReading,
        parent="site",
        parents=Site.objects.filter(pk__in=site_pks),
        order_by=("-measured_at", "-id"),
        measured_at__lte=now + READING_MAX_AHEAD,
    )
    return {reading.site_id: reading for reading in newest}


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
    described.append((SITE_FUSE_ID, site.circuit_limit_a, site_phases, "main"))
    if site.load_balancing_enabled:
        for circuit in site.circuits.all():
            parent_of[fuse_id(circuit.pk)] = fuse_id(circuit.parent_id)
            phases = PHASES if circuit.phases == 3 else (circuit.supply_phase,)
            described.append((fuse_id(circuit.pk), circuit.max_current_a, phases, circuit.name))

    other_load: dict[str, dict[str, float]] = {fid: {} for fid, *_ in described}
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
    return [Fuse(fid, limit, phases, parent_of[fid], other_load[fid], name) for fid, limit, phases, name in described]


def surplus_samples(*, site: Site, since: dt.datetime, now: dt.datetime) -> list[EnergyReading]:
    return list(
        EnergyReading.objects.filter(
            site=site, measured_at__gte=since, measured_at__lte=now + READING_MAX_AHEAD
        ).order_by("measured_at")
    )


def site_series(
    *, site: Site, start: dt.datetime, end: dt.datetime
) -> tuple[list[tuple[dt.datetime, dt.datetime, float]], list[tuple[dt.datetime, dt.datetime, float]]]:
    """The site's posted prices and solar forecast over [start, end), as (start, end, value)."""
    prices = (
        site.price_slots.filter(end__gt=start, start__lt=end)
        .order_by("start")
        .values_list("start", "end", "price_per_kwh")
    )
    forecast = (
        site.solar_forecast.filter(end__gt=start, start__lt=end)
        .order_by("start")
        .values_list("start", "end", "solar_w")
    )
    return [(a, b, float(v)) for a, b, v in prices], [(a, b, float(v)) for a, b, v in forecast]


# A forecast made from the site's own meter: the mean production of each hour of the day over
# this many recent days, when nobody posts one.
SOLAR_HISTORY_DAYS = 3


def solar_by_hour_of_day(*, site: Site, now: dt.datetime) -> dict[int, float]:
    """Mean solar production (W) per local hour of the day over the last few days' readings; an
    hour with no reading is left out (the plan counts no sun then)."""
    rows = (
        EnergyReading.objects.filter(
            site=site,
            measured_at__gte=now - dt.timedelta(days=SOLAR_HISTORY_DAYS),
            measured_at__lt=now,
            solar_w__isnull=False,
        )
        .annotate(hour=TruncHour("measured_at", tzinfo=site.zone))
        .values("hour")
        .annotate(mean_w=Avg("solar_w"))
    )
    by_hour: dict[int, list[float]] = {}
    for row in rows:
        by_hour.setdefault(row["hour"].astimezone(site.zone).hour, []).append(max(0.0, row["mean_w"]))
    return {hour: sum(means) / len(means) for hour, means in by_hour.items()}


def tariff_currency(*, site: Site) -> str:
    return site.tariffs.filter(is_active=True).values_list("currency", flat=True).first() or "GBP"


def tariff_periods(*, site: Site) -> list[Period]:
    tariff = site.tariffs.filter(is_active=True).prefetch_related("periods").first()
    if tariff is None:
        return []
    return [Period(p.name, float(p.rate_per_kwh), p.priority, p.start, p.end) for p in tariff.periods.all()]


def sites_settings(*, site_pks: list[int]) -> dict[int, tuple[Site, SolarCharging, TimeOfUse, GridResponse]]:
    """Each site read afresh with its three blocks and its circuits, in two queries: a run keeps
    the solar state it reads, so it must not start from a stale copy. Every site has the three
    blocks; defaults (all off) are made on first use. Sites that no longer exist are left out."""
    fresh = Site.objects.filter(pk__in=site_pks).select_related("solar_charging", "time_of_use", "grid_response")
    by_site = {}
    for site in fresh.prefetch_related("circuits"):
        blocks = []
        for model, name in (
            (SolarCharging, "solar_charging"),
            (TimeOfUse, "time_of_use"),
            (GridResponse, "grid_response"),
        ):
            try:
                blocks.append(getattr(site, name))
            except model.DoesNotExist:
                blocks.append(model.objects.get_or_create(site=site)[0])
        by_site[site.pk] = (site, *blocks)
    return by_site
