"""Energy control runs: read the site, ask the pure core, send the limits that changed.

Entry points: the rebalance and solar jobs (Celery or the embedded scheduler), the API's
readings and grid-signal endpoints, and a manual limit. Every decision is stored with its
inputs (LimitDecision) so the charger page can say why.
"""

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from chargers import events as charger_events
from chargers.commands import CommandFailed, charger_command_sync
from chargers.models import Charger, LimitDecision
from chargers.remote import charger_active_session, charging_profile
from energy import reasons, selectors
from energy.allocation import NOMINAL_VOLTAGE_V, PHASES
from energy.control import Decision, SiteInputs, apply_order, site_decisions
from energy.grid import grid_limit_percent
from energy.models import EnergyReading, GridResponse, Site, SolarCharging, TimeOfUse
from energy.solar import SolarSettings, SolarState, smoothed_w, solar_budget, surplus_w
from energy.tou import plan_allows, plan_charging, schedule_periods
from energy.triggers import site_lock

logger = logging.getLogger(__name__)

PROTECTION = "ChargePointMaxProfile"  # circuit protection, grid response, manual limits
TOU = "TxDefaultProfile"  # the time-of-use plan
SOLAR = "TxProfile"  # solar surplus, on the running transaction


def energy_reading_record(
    *, site: Site, measured_at: dt.datetime, source: str, **values: float | None
) -> EnergyReading:
    return EnergyReading.objects.create(site=site, measured_at=measured_at, source=source[:50], **values)


def grid_level_set(*, site: Site, level: str, source: str) -> GridResponse:
    grid, _ = GridResponse.objects.get_or_create(site=site)
    grid.level, grid.level_source, grid.level_set_at = level, source[:50], timezone.now()
    grid.save(update_fields=["level", "level_source", "level_set_at"])
    return grid


def charger_manual_limit_set(
    *, charger: Charger, limit_w: int | None, reason: str = "", duration_s: int | None = None
) -> None:
    """A person's cap on one charger; None clears it. It lapses after duration_s."""
    charger.manual_limit_w = limit_w
    charger.manual_limit_reason = reason[:200]
    charger.manual_limit_expires_at = timezone.now() + dt.timedelta(seconds=duration_s) if duration_s else None
    charger.save(update_fields=["manual_limit_w", "manual_limit_reason", "manual_limit_expires_at"])


def _solar_inputs(*, site: Site, solar, ev_power_w: float, now: dt.datetime) -> tuple[float | None, str]:
    if not solar.enabled:
        return None, ""
    samples = []
    # No smoothing (window 0) means the latest reading, as long as the meter is not silent.
    since = now - dt.timedelta(seconds=solar.window_s or site.meter_timeout_s)
    readings = selectors.surplus_samples(site=site, since=since)
    if not solar.window_s:
        readings = readings[-1:]
    for reading in readings:
        value = surplus_w(ev_w=ev_power_w, grid_w=reading.grid_w, solar_w=reading.solar_w, house_w=reading.house_w)
        if value is not None:
            samples.append((reading.measured_at, value))
    settings = SolarSettings(
        mode=solar.mode,
        min_surplus_w=solar.min_surplus_w,
        allow_grid_minimum_w=solar.allow_grid_minimum_w,
        max_grid_w=solar.max_grid_w,
        window_s=solar.window_s,
        start_delay_s=solar.start_delay_s,
        stop_delay_s=solar.stop_delay_s,
    )
    state = SolarState(solar.is_charging, solar.above_since, solar.below_since)
    surplus = smoothed_w(samples, now=now, window_s=solar.window_s or site.meter_timeout_s)
    budget, state, reason = solar_budget(state=state, surplus=surplus, settings=settings, now=now)
    solar.is_charging, solar.above_since, solar.below_since = state.charging, state.above_since, state.below_since
    solar.save(update_fields=["is_charging", "above_since", "below_since"])
    return budget, reason


def _tou_inputs(*, site: Site, tou, chargers: list[Charger], now: dt.datetime):
    """(allowed now, reason, plan) or (None, "", None) when time-of-use is off."""
    if not tou.enabled:
        return None, "", None
    periods = selectors.tariff_periods(site=site)
    if not periods:
        return None, "", None
    needed = None
    if tou.target_mode == "energy" and tou.target_energy_wh:
        needed = tou.target_energy_wh
    elif tou.target_mode == "soc" and tou.target_soc_percent and tou.battery_capacity_wh:
        needed = tou.battery_capacity_wh * tou.target_soc_percent / 100  # SoC unknown here: plan for all of it
    power_w = sum(c.max_power_w for c in chargers) or 7400
    plan = plan_charging(
        now=now,
        ready_by=tou.ready_by,
        tz=selectors.site_zone(site),
        periods=periods,
        power_w=power_w,
        energy_needed_wh=needed,
        avoid_peak=tou.avoid_peak,
        prefer_off_peak=tou.prefer_off_peak,
    )
    allowed = plan_allows(plan, now)
    return allowed, plan.reason, plan


@dataclass
class ControlRun:
    decisions: dict[str, Decision]
    # Per charger pk: what the charger said to the first profile sent, or why none went out.
    outcomes: dict[str, str] = field(default_factory=dict)
    answers: dict[str, dict] = field(default_factory=dict)
    failures: dict[str, CommandFailed] = field(default_factory=dict)


def site_control_run(*, site: Site, trigger: str, now: dt.datetime | None = None) -> ControlRun:
    """Decide every charger's limit on the site and send what changed, lowered ones first."""
    outcome = sites_control_run(site_pks=[site.pk], trigger=trigger, now=now).get(site.pk)
    if outcome is None:
        raise Site.DoesNotExist(f"site {site.pk} no longer exists")
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def sites_control_run(
    *,
    site_pks: list[int],
    trigger: str,
    now: dt.datetime | None = None,
    site_triggers: dict[int, str] | None = None,
) -> dict[int, ControlRun | Exception]:
    """Run several sites with their inputs read together: a handful of queries for all of them
    instead of a handful per site, which was most of what the once-a-minute runs cost with a
    thousand sites on one process. One run per site at a time (two overlapping runs could send
    a stale limit last), so every site's lock is held from the reads to the last write. A site
    whose run failed maps to its exception: one broken site must not stop the others.
    `site_triggers` names a site's own reason when sites asked for different ones (events)."""
    now = now or timezone.now()
    with contextlib.ExitStack() as locks:
        for pk in sorted(set(site_pks)):
            locks.enter_context(site_lock(pk))
        sites = selectors.sites_settings(site_pks=site_pks)
        chargers_by_site = selectors.sites_chargers(site_pks=list(sites))
        chargers = [c for site_chargers in chargers_by_site.values() for c in site_chargers]
        draws = selectors.charger_draws(chargers=chargers, since=now - dt.timedelta(minutes=5))
        readings = selectors.latest_readings(site_pks=list(sites))
        last_decisions = selectors.latest_decisions(chargers=[c for c in chargers if c.is_connected])
        outcomes: dict[int, ControlRun | Exception] = {}
        for pk, (site, solar, tou, grid) in sites.items():
            try:
                outcomes[pk] = _site_control_run(
                    site=site,
                    blocks=(solar, tou, grid),
                    chargers=chargers_by_site[pk],
                    draws=draws,
                    reading=readings.get(pk),
                    last_decisions=last_decisions,
                    trigger=(site_triggers or {}).get(pk, trigger),
                    now=now,
                )
            except Exception as error:
                outcomes[pk] = error
        Site.objects.filter(pk__in=[pk for pk, o in outcomes.items() if isinstance(o, ControlRun)]).update(
            last_rebalanced_at=now
        )
    return outcomes


def _site_control_run(
    *,
    site: Site,
    blocks: tuple[SolarCharging, TimeOfUse, GridResponse],
    chargers: list[Charger],
    draws: dict[int, selectors.Draw],
    reading: EnergyReading | None,
    last_decisions: dict[int, LimitDecision],
    trigger: str,
    now: dt.datetime,
) -> ControlRun:
    solar, tou, grid = blocks
    online = [c for c in chargers if c.is_connected]
    states = selectors.charger_states(chargers=online, draws=draws, now=now)

    ev_by_phase: dict[str, float] = {}
    for state in states:
        for phase in PHASES if state.phases == 3 else (state.connected_phase,):
            ev_by_phase[phase] = ev_by_phase.get(phase, 0.0) + (state.measured_current_a or 0.0)
    # Offline chargers keep their last profile: count it as load we cannot move.
    fixed_loads = [
        (
            selectors.fuse_id(c.circuit_id),
            PHASES if c.phases == 3 else (c.supply_phase,),
            c.applied_profiles["decision_a"],
        )
        for c in chargers
        if not c.is_connected and c.applied_profiles.get("decision_a")
    ]
    failsafe, failsafe_reason = None, ""
    if reading is not None and now - reading.measured_at > dt.timedelta(seconds=site.meter_timeout_s):
        failsafe = site.failsafe_current_a
        failsafe_reason = reasons.meter_silent(reading.measured_at.astimezone(selectors.site_zone(site)), failsafe)
        reading = None
    ev_power_w = sum(d.power_w or 0.0 for d in draws.values())
    solar_budget_w, solar_reason = _solar_inputs(site=site, solar=solar, ev_power_w=ev_power_w, now=now)
    tou_allows, tou_reason, plan = _tou_inputs(site=site, tou=tou, chargers=online, now=now)
    grid_percent, grid_reason = 100, ""
    if grid.enabled:
        levels = {"normal": 100, "moderate": grid.moderate_limit_percent, "high": grid.high_limit_percent}
        grid_percent, grid_reason = grid_limit_percent(
            level=grid.level,
            frequency_hz=reading.frequency_hz if reading else None,
            frequency_response=grid.frequency_response_enabled,
            low_frequency_hz=grid.low_frequency_hz,
            high_frequency_hz=grid.high_frequency_hz,
            level_percent=levels,
        )

    decisions = site_decisions(
        SiteInputs(
            fuses=selectors.site_fuses(
                site=site, reading=reading, ev_current_by_phase=ev_by_phase, fixed_loads=fixed_loads
            ),
            chargers=states,
            algorithm=site.algorithm,
            grid_percent=grid_percent,
            grid_reason=grid_reason,
            solar_budget_w=solar_budget_w,
            solar_reason=solar_reason,
            tou_allows=tou_allows,
            tou_reason=tou_reason,
            failsafe_current_a=failsafe,
            failsafe_reason=failsafe_reason,
        )
    )
    run = ControlRun(decisions)
    _apply(
        run,
        by_pk={str(c.pk): c for c in online},
        last_decisions=last_decisions,
        trigger=trigger,
        plan=plan,
        now=now,
        solar_on=solar_budget_w is not None,
    )
    return run


def _apply(
    run: ControlRun,
    *,
    by_pk: dict[str, Charger],
    last_decisions: dict[int, LimitDecision],
    trigger: str,
    plan,
    now,
    solar_on: bool,
) -> None:
    protection_now = {cid: by_pk[cid].applied_profiles.get(PROTECTION) for cid in run.decisions}
    protection_new = {cid: d.protection_limit_w for cid, d in run.decisions.items()}
    # Lowered limits go out (and are answered) before raised ones.
    for cid in apply_order(protection_now, protection_new):
        _send_profile(run, by_pk[cid], PROTECTION, run.decisions[cid], protection_new[cid], trigger)
    for cid, decision in run.decisions.items():
        charger = by_pk[cid]
        if solar_on and charger.applied_profiles.get(SOLAR) != decision.limit_w:
            _send_profile(run, charger, SOLAR, decision, decision.limit_w, trigger)
        if plan is not None:
            periods = schedule_periods(plan, start=now, limit=round(charger.max_power_w))
            if charger.applied_profiles.get(TOU) != periods:
                _send_tou(run, charger, periods, plan, now, trigger)
        _record(charger, decision, run.outcomes.get(cid, "unchanged"), now, last=last_decisions.get(charger.pk))


def _send_profile(
    run: ControlRun, charger: Charger, purpose: str, decision: Decision, limit_w: int, trigger: str
) -> None:
    profile = charging_profile(charger=charger, purpose=purpose, limit_w=limit_w, phases=decision.phases)
    if charger.can_switch_phases and decision.phases in (1, 3):
        profile["chargingSchedule"]["chargingSchedulePeriod"][0]["numberPhases"] = decision.phases
    connector = 0 if purpose == PROTECTION else 1
    if purpose == SOLAR:
        session = charger_active_session(charger=charger)
        if session is None:
            return
        profile["transactionId"] = session.transaction_id
        connector = session.connector_id
    _send(run, charger, purpose, {"connectorId": connector, "csChargingProfiles": profile}, limit_w, trigger)


def _send_tou(run: ControlRun, charger: Charger, periods: list[dict], plan, now: dt.datetime, trigger: str) -> None:
    profile = charging_profile(charger=charger, purpose=TOU, limit_w=charger.max_power_w, now=now)
    unit = profile["chargingSchedule"]["chargingRateUnit"]
    per_watt = 1 if unit == "W" else 1 / (NOMINAL_VOLTAGE_V * charger.phases)
    profile["chargingSchedule"]["chargingSchedulePeriod"] = [
        {"startPeriod": p["startPeriod"], "limit": round(p["limit"] * per_watt, 1)} for p in periods
    ]
    if plan.slots:
        profile["chargingSchedule"]["duration"] = int((plan.slots[-1].end - now).total_seconds())
    _send(run, charger, TOU, {"connectorId": 0, "csChargingProfiles": profile}, periods, trigger)


def _send(run: ControlRun, charger: Charger, purpose: str, payload: dict, applied_value, trigger: str) -> None:
    """Send one profile; the first outcome per charger is what the run reports for it."""
    cid = str(charger.pk)
    try:
        answer = charger_command_sync(
            charge_point_id=charger.charge_point_id,
            action="SetChargingProfile",
            payload=payload,
            requested_by=f"energy:{trigger}",
        )
    except CommandFailed as failure:
        logger.warning("%s: %s not applied: %s", charger.charge_point_id, purpose, failure.message)
        run.failures.setdefault(cid, failure)
        run.outcomes.setdefault(cid, failure.outcome)
        return
    status = answer.get("status", "?")
    run.answers.setdefault(cid, answer)
    run.outcomes.setdefault(cid, f"{purpose} {status}")
    if status == "Accepted":
        charger.applied_profiles = {**charger.applied_profiles, purpose: applied_value}
        Charger.objects.filter(pk=charger.pk).update(applied_profiles=charger.applied_profiles)


def _record(
    charger: Charger, decision: Decision, outcome: str, now: dt.datetime, *, last: LimitDecision | None
) -> None:
    """Keep the decision when anything about it changed (`last` is the newest one kept), and the
    limit now in force. A run that changes nothing writes nothing: on SQLite every write waits
    for the one writer lock."""
    decision_changed = (
        last is None
        or outcome != "unchanged"
        or (last.limit_w, last.source, last.reason) != (decision.limit_w, decision.source, decision.reason[:300])
    )
    paused = decision.limit_w == 0 and decision.source != "idle"
    applied = {**charger.applied_profiles, "decision_a": decision.current_a}
    fields = {"applied_profiles": applied, "paused_since": (charger.paused_since or now) if paused else None}
    if outcome == "unchanged" or outcome.endswith("Accepted"):
        # Only a limit the charger took is "in force".
        fields.update(
            limit_w=decision.limit_w,
            limit_source=decision.source,
            limit_reason=decision.reason[:200],
            active_phases=decision.phases,
        )
    charger_row_changed = any(getattr(charger, name) != value for name, value in fields.items())
    if decision_changed or charger_row_changed:
        with transaction.atomic():
            if decision_changed:
                LimitDecision.objects.create(
                    charger=charger,
                    limit_w=decision.limit_w,
                    current_a=decision.current_a,
                    phases=decision.phases,
                    source=decision.source,
                    reason=decision.reason[:300],
                    inputs=decision.inputs,
                    outcome=outcome,
                )
            if charger_row_changed:
                Charger.objects.filter(pk=charger.pk).update(**fields)
        charger.applied_profiles = applied
    if (fields.get("limit_w", charger.limit_w), fields.get("limit_source", charger.limit_source)) != (
        charger.limit_w,
        charger.limit_source,
    ):
        charger_events.charger_changed(charger_pk=charger.pk)
