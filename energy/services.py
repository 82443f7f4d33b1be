"""Energy control runs: read the site, ask the pure core, send the limits that changed.

Entry points: the rebalance and solar jobs (Celery or the embedded scheduler), the API's
readings and grid-signal endpoints, and a manual limit. Every decision is stored with its
inputs (LimitDecision) so the charger page can say why; the calls and records of a run are
energy/sending.py's.
"""

import bisect
import contextlib
import datetime as dt
import zoneinfo
from dataclasses import replace

from asgiref.sync import async_to_sync
from django.utils import timezone

from chargers import events as charger_events
from chargers.models import Charger, ChargerEvent
from chargers.profiles import limit_in_charger_unit
from chargers.services import charger_event_record
from energy import reasons, selectors
from energy.allocation import NOMINAL_VOLTAGE_V, PHASES
from energy.control import SiteInputs, site_decisions
from energy.grid import grid_limit_percent, level_percents
from energy.locks import site_lock
from energy.models import ChargerControl, EnergyReading, GridResponse, LimitDecision, Site, SolarCharging, TimeOfUse
from energy.planner import (
    HORIZON_MAX,
    SLOT,
    CarPlan,
    PlanCar,
    PlanSlot,
    plan_reason,
    plan_site,
    plan_summary,
    slots_between,
)
from energy.sending import (
    NOTHING_HELD,
    PROTECTION,
    SOLAR,
    TOU,
    ControlRun,
    SitePlan,
    site_calls_plan,
    site_finish,
    sites_send,
)
from energy.solar import SolarSettings, SolarState, smoothed_w, solar_budget, surplus_w
from energy.sources import ChargeMode
from energy.tou import (
    OFF_PEAK_PRIORITY,
    PEAK_PRIORITY,
    CarNeed,
    Period,
    Plan,
    Target,
    charger_target,
    next_local_time,
    period_at,
)
from energy.tou import Slot as TouSlot
from sessions.models import ChargingSession
from sessions.services import running_car_needs, running_delivered_wh


def energy_reading_record(
    *, site: Site, measured_at: dt.datetime, source: str, **values: float | None
) -> EnergyReading:
    return EnergyReading.objects.create(site=site, measured_at=measured_at, source=source[:50], **values)


def grid_level_set(*, site: Site, level: str, source: str) -> GridResponse:
    grid, _ = GridResponse.objects.get_or_create(site=site)
    grid.level, grid.level_source, grid.level_set_at = level, source[:50], timezone.now()
    grid.save(update_fields=["level", "level_source", "level_set_at"])
    return grid


def charger_profiles_unknown(*, charger_pk: int) -> None:
    """A charger that booted holds whatever it kept in flash: its fuse limit is sent again, a
    time-of-use plan is re-sent or cleared (it is unknown), and a solar TxProfile ended with its
    transaction. Recorded before the boot is answered, so a run deciding from then on (another
    charger's boot on the site) sends the charger everything, and its own run after has nothing
    to send again. No site lock: a run writes only the fields of the limits it sent, once the
    charger (booted by then) accepted them, so it cannot undo this."""
    forgotten = {**NOTHING_HELD[PROTECTION], **NOTHING_HELD[SOLAR], **NOTHING_HELD[TOU], "tou_unknown": True}
    ChargerControl.objects.filter(pk=charger_pk).update(**forgotten)


def _forget_profiles(*, charger_pk: int, held: dict[str, object]) -> None:
    """Under the site's lock: a run under way writes back what it read, and would undo this."""
    site_pk = Charger.objects.values_list("site_id", flat=True).get(pk=charger_pk)
    with site_lock(site_pk):
        ChargerControl.objects.filter(pk=charger_pk).update(**held)


def charger_protect_before_start(*, charger: Charger, trigger: str) -> None:
    """A car told to start draws at once: a charger that does not hold its share of the fuses
    yet (it booted a moment ago) gets it first."""
    if ChargerControl.objects.values_list("protection_w", flat=True).get(pk=charger.pk) is None:
        site_control_run(site=charger.site, trigger=trigger, protection_only=True)


def charger_held_limit_check(*, charger_pk: int, composite: dict) -> bool:
    """Whether the charger's composite schedule (GetCompositeSchedule on connector 0) holds the
    ChargePointMaxProfile limit we sent. If not, the installer is told (a charger event) and the
    limit is forgotten, so that the next run sends it again. With none known to be held (a send
    that never got its answer), False: the next run sends it."""
    charger = Charger.objects.select_related("control").filter(pk=charger_pk).first()
    if charger is None:  # deleted while connected
        return True
    sent_w = charger.control.protection_w
    if sent_w is None:
        return False
    phases = charger.control.active_phases or charger.phases
    unit, expected = limit_in_charger_unit(limit_w=sent_w, phases=phases, rate_unit=charger.limit_rate_unit)
    schedule = composite.get("chargingSchedule") or {}
    periods = schedule.get("chargingSchedulePeriod") or [{}]
    held = periods[0].get("limit")
    if held is not None and schedule.get("chargingRateUnit", unit) != unit:
        per_amp = NOMINAL_VOLTAGE_V * phases
        held = held * per_amp if unit == "W" else held / per_amp
    tolerance = 0.5 if unit == "A" else 0.5 * NOMINAL_VOLTAGE_V * phases
    if held is not None and abs(held - expected) <= tolerance:
        return True
    charger_event_record(
        charge_point_id=charger.charge_point_id,
        charger_pk=charger.pk,
        kind=ChargerEvent.Kind.PROFILE_MISMATCH,
        message=f"the charger holds {held if held is not None else 'no limit'} {unit} where {expected:g} {unit} was "
        "sent: sending it again",
        payload=composite,
    )
    _forget_profiles(charger_pk=charger_pk, held=NOTHING_HELD[PROTECTION])
    return False


def charger_manual_limit_set(
    *, charger: Charger, limit_w: int | None, reason: str = "", duration_s: int | None = None
) -> None:
    """A person's cap on one charger; None clears it. It lapses after duration_s."""
    control = charger.control
    control.manual_limit_w = limit_w
    control.manual_limit_reason = reason[:200]
    control.manual_limit_expires_at = timezone.now() + dt.timedelta(seconds=duration_s) if duration_s else None
    control.save(update_fields=["manual_limit_w", "manual_limit_reason", "manual_limit_expires_at"])


def _solar_inputs(
    *, site: Site, solar, chargers: list[Charger], ev_power_w: float, now: dt.datetime
) -> tuple[float | None, float | None, str]:
    """(the budget under the site's solar mode, the part of it that is surplus, why). With solar
    charging off, a charger the owner set to solar mode still gets the surplus: (None, it, "")."""
    solar_mode = any(c.control.mode == ChargeMode.SOLAR for c in chargers)
    if not solar.enabled and not solar_mode:
        return None, None, ""
    samples = []
    # No smoothing (window 0) means the latest reading, as long as the meter is not silent.
    since = now - dt.timedelta(seconds=solar.window_s or site.meter_timeout_s)
    readings = selectors.surplus_samples(site=site, since=since, now=now)
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
    if surplus is not None and samples:
        # A cloud is taken at once, the sun's return over the window: a car drawing more than the
        # panels give buys the rest at the full price, one drawing less forgoes only the feed-in.
        surplus = min(surplus, samples[-1][1])
    budget, new_state, reason = solar_budget(state=state, surplus=surplus, settings=settings, now=now)
    # The same hysteresis without the mode's grid top-up: what time-of-use leaves a car.
    surplus_only, _, _ = solar_budget(
        state=state, surplus=surplus, settings=replace(settings, mode="solar_only", allow_grid_minimum_w=0), now=now
    )
    if not solar.enabled:
        return None, surplus_only, ""
    state = new_state
    solar.is_charging, solar.above_since, solar.below_since = state.charging, state.above_since, state.below_since
    solar.save(update_fields=["is_charging", "above_since", "below_since"])
    return budget, surplus_only, reason


def _target(
    *,
    control: ChargerControl,
    site_target: Target | None,
    cars: list[CarNeed],
    delivered_wh: float,
    now: dt.datetime,
    tz: zoneinfo.ZoneInfo,
) -> Target | None:
    """A charger's target: the owner's, else what its car told (OCPP 2.0.1 NotifyEVChargingNeeds),
    else the site's time-of-use target. The energy is what is still to add this session."""
    if control.target_ready_by is not None:
        wanted = control.target_energy_wh
        if wanted is None and control.target_soc_percent and control.battery_capacity_wh:
            wanted = control.battery_capacity_wh * control.target_soc_percent / 100  # SoC unknown: all of it
        return Target(next_local_time(now, control.target_ready_by, tz), max(0.0, (wanted or 0) - delivered_wh))
    if site_target is None and not cars:
        return None
    fallback = site_target or Target(deadline=now + HORIZON_MAX, energy_wh=None)
    target = charger_target(fallback, cars, now=now)
    if target == fallback and site_target is None:
        return None
    return target


def _series_at(series: list[tuple[dt.datetime, dt.datetime, float]], at: dt.datetime) -> float | None:
    """The value of the series slot (in start order, not overlapping) that covers `at`."""
    i = bisect.bisect_right(series, (at, dt.datetime.max.replace(tzinfo=dt.UTC))) - 1
    return series[i][2] if i >= 0 and series[i][0] <= at < series[i][1] else None


def _plan_slots(*, site: Site, tou, periods, reading, ev_power_w: float, now: dt.datetime, end: dt.datetime):
    """The horizon's slots: the posted price, else the tariff period's rate; the posted solar
    forecast, else what recent days made at that hour; the house as the meter reads it now (the
    slot under way takes the live reading)."""
    prices, forecast = selectors.site_series(site=site, start=now, end=end)
    history = {} if forecast else selectors.solar_by_hour_of_day(site=site, now=now)
    house_w = max(0.0, (reading.house_w or 0.0) - ev_power_w) if reading is not None and reading.house_w else 0.0
    live_solar_w = reading.solar_w if reading is not None and reading.solar_w is not None else None
    tz = site.zone
    bounds = slots_between(now, end)
    off_peak = tou.prefer_off_peak and any(
        (p := period_at(periods, a, tz)) is not None and p.priority <= OFF_PEAK_PRIORITY for a, _ in bounds
    )
    slots = []
    for i, (start, stop) in enumerate(bounds):
        period = period_at(periods, start, tz)
        price = _series_at(prices, start)
        if price is None and period is None and prices:
            # Past the posted series, with no tariff period: its last price holds, not a free grid.
            price = prices[max(0, bisect.bisect_right(prices, (start,)) - 1)][2]
        solar_w = _series_at(forecast, start)
        if solar_w is None:
            solar_w = history.get(start.astimezone(tz).hour, 0.0)
        if i == 0 and live_solar_w is not None:
            solar_w = live_solar_w
        peak = period is not None and period.priority >= PEAK_PRIORITY
        slots.append(
            PlanSlot(
                start=start,
                end=stop,
                price_per_kwh=price if price is not None else (period.rate_per_kwh if period else 0.0),
                solar_w=solar_w,
                house_w=house_w,
                peak=peak,
                preferred=(period is not None and period.priority <= OFF_PEAK_PRIORITY) if off_peak else not peak,
                period=period.name if period is not None and price is None else "",
            )
        )
    return slots


def _plan_inputs(
    *,
    site: Site,
    tou: TimeOfUse,
    chargers: list[Charger],
    wanting: set[int],
    cars: dict[int, list[CarNeed]],
    delivered: dict[int, float],
    reading: EnergyReading | None,
    ev_power_w: float,
    solar: SolarCharging,
    now: dt.datetime,
) -> dict[int, tuple[bool, str, Plan]]:
    """Each planned charger's (grid allowed now, why, its plan as time-of-use slots for the
    TxDefaultProfile): chargers in smart mode with a target (the owner's, the car's, the site's)
    or on a time-of-use site. The cars that want power are planned together (they share the
    fuse); a charger without one is planned alone, for when a car comes. Plans start on a whole
    second, as the profile's startSchedule does; each is kept on the charger's control record."""
    now = now.replace(microsecond=0)
    tz = site.zone
    periods = selectors.tariff_periods(site=site) if tou.enabled else []
    site_target = None
    if tou.enabled and periods:
        needed = None
        if tou.target_mode == "energy" and tou.target_energy_wh:
            needed = tou.target_energy_wh
        elif tou.target_mode == "soc" and tou.target_soc_percent and tou.battery_capacity_wh:
            needed = tou.battery_capacity_wh * tou.target_soc_percent / 100
        site_target = Target(deadline=next_local_time(now, tou.ready_by, tz), energy_wh=needed)
    # The site's solar mode stays its owner's policy for the grid: solar only buys none.
    solar_grid_w = {SolarCharging.Mode.SOLAR_ONLY: 0.0, SolarCharging.Mode.MIXED: float(solar.max_grid_w)}.get(
        solar.mode if solar.enabled else None
    )
    planned: dict[int, PlanCar] = {}
    for charger in chargers:
        control = charger.control
        if control.mode != ChargeMode.SMART:
            continue
        target = _target(
            control=control,
            site_target=site_target,
            cars=cars.get(charger.pk, []),
            delivered_wh=delivered.get(charger.pk, 0.0),
            now=now,
            tz=tz,
        )
        time_of_use = tou.enabled and bool(periods)
        if target is None and not time_of_use:
            continue
        planned[charger.pk] = PlanCar(
            id=str(charger.pk),
            phases=PHASES if charger.phases == 3 else (charger.supply_phase,),
            max_power_w=charger.max_power_w,
            target_wh=target.energy_wh if target is not None else None,
            deadline=target.deadline if target is not None else None,
            avoid_peak=tou.avoid_peak if time_of_use else True,
            charge_in_preferred=time_of_use and (target is None or target.energy_wh is None),
            max_grid_w=solar_grid_w,
        )
    unplanned = [c.pk for c in chargers if c.pk not in planned and c.control.plan_summary]
    if unplanned:  # a plan that no longer steers the car is not shown as if it did
        ChargerControl.objects.filter(pk__in=unplanned).update(plan=None, plan_summary="", plan_cost=None)
    if not planned:
        return {}
    deadlines = [c.deadline for c in planned.values() if c.deadline is not None]
    if tou.enabled and periods:
        deadlines.append(next_local_time(now, tou.ready_by, tz))
    end = min(max(deadlines, default=now + SLOT), now + HORIZON_MAX)
    all_slots = _plan_slots(
        site=site, tou=tou, periods=periods, reading=reading, ev_power_w=ev_power_w, now=now, end=end
    )
    fuse_a = float(site.circuit_limit_a)
    feed_in = float(site.feed_in_per_kwh)
    together = [car for pk, car in planned.items() if pk in wanting]
    # A site with solar takes the grid as late as it can: the sun may yet give it.
    sunny = solar.enabled or any(slot.solar_w > 0 for slot in all_slots)
    plans = plan_site(slots=all_slots, cars=together, fuse_a=fuse_a, feed_in_per_kwh=feed_in, just_in_time=sunny)
    for pk, car in planned.items():
        if pk not in wanting:
            plans.update(
                plan_site(slots=all_slots, cars=[car], fuse_a=fuse_a, feed_in_per_kwh=feed_in, just_in_time=sunny)
            )
    currency = selectors.tariff_currency(site=site)
    controls = {c.pk: c.control for c in chargers}
    outcome = {}
    for pk, car in planned.items():
        car_plan = plans[car.id]
        slots = [TouSlot(s.start, s.end, Period(s.period or "planned", s.price_per_kwh)) for s in car_plan.grid_slots()]
        reason = plan_reason(car_plan, now=now, tz=tz)
        outcome[pk] = (car_plan.charging_now, reason, Plan(slots, reason))
        _plan_keep(
            control=controls[pk], plan=car_plan, summary=plan_summary(car_plan, tz=tz, currency=currency), now=now
        )
    return outcome


def _plan_keep(*, control: ChargerControl, plan: CarPlan, summary: str, now: dt.datetime) -> None:
    """The plan on the charger's record (read with the run's chargers), for the Now page, the API
    and MQTT; written only when it changed."""
    # Slots on their quarter hour, watts to the ten: a run a minute later writes nothing new.
    slots = [
        [int(s.start.timestamp()) // 900 * 900, round(w, -1)] for s, w in zip(plan.slots, plan.grid_w, strict=True)
    ]
    fields = {"plan": slots, "plan_summary": summary[:300], "plan_cost": round(plan.cost, 4)}
    if all(getattr(control, name) == value for name, value in fields.items()):
        return
    ChargerControl.objects.filter(pk=control.pk).update(**fields, plan_made_at=now)
    charger_events.charger_changed(charger_pk=control.pk)  # MQTT and the pages show it now


def site_control_run(
    *, site: Site, trigger: str, now: dt.datetime | None = None, protection_only: bool = False
) -> ControlRun:
    """Decide every charger's limit on the site and send what changed, lowered ones first."""
    outcome = sites_control_run(site_pks=[site.pk], trigger=trigger, now=now, protection_only=protection_only).get(
        site.pk
    )
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
    protection_only: bool = False,
) -> dict[int, ControlRun | Exception]:
    """Run several sites with their inputs read together: a handful of queries for all of them
    instead of a handful per site, which was most of what the once-a-minute runs cost with a
    thousand sites on one process. One run per site at a time (two overlapping runs could send
    a stale limit last), so each site's lock is held from the reads to its last write. The
    sites are decided together; then each sends its own calls, side by side with the others,
    and lets its lock go once they are answered: a charger slow to answer holds up its own
    site, not the batch. A site whose run failed maps to its exception: one broken site must
    not stop the others. `site_triggers` names a site's own reason when sites asked for
    different ones (events). `protection_only` sends only the fuse-keeping
    ChargePointMaxProfiles and records nothing: what a car that is starting needs before its
    transaction is answered."""
    now = now or timezone.now()
    outcomes: dict[int, ControlRun | Exception] = {}
    with contextlib.ExitStack() as batch:
        site_locks: dict[int, contextlib.ExitStack] = {}
        for pk in sorted(set(site_pks)):
            site_locks[pk] = batch.enter_context(contextlib.ExitStack())
            site_locks[pk].enter_context(site_lock(pk))
        sites = selectors.sites_settings(site_pks=site_pks)
        chargers_by_site = selectors.sites_chargers(site_pks=list(sites))
        chargers = [c for site_chargers in chargers_by_site.values() for c in site_chargers]
        draws = selectors.charger_draws(chargers=chargers, since=now - dt.timedelta(minutes=5))
        readings = selectors.latest_readings(site_pks=list(sites), now=now)
        online = [c for c in chargers if c.is_connected]
        last_decisions = selectors.latest_decisions(chargers=online)
        solar_sites = any(solar.enabled for _, solar, _, _ in sites.values())
        owner_modes = any(c.control.mode in (ChargeMode.OFF, ChargeMode.SOLAR) for c in online)
        sessions = selectors.running_sessions(chargers=online) if solar_sites or owner_modes else {}
        tou_sites = any(tou.enabled for _, _, tou, _ in sites.values())
        cars = running_car_needs(charger_pks=[c.pk for c in online]) if tou_sites else {}
        targeted = [c.pk for c in online if c.control.target_ready_by is not None]
        delivered = running_delivered_wh(charger_pks=targeted) if targeted else {}
        plans: dict[int, SitePlan] = {}
        for pk, (site, solar, tou, grid) in sites.items():
            try:
                plans[pk] = _site_control_plan(
                    site=site,
                    blocks=(solar, tou, grid),
                    chargers=chargers_by_site[pk],
                    draws=draws,
                    sessions=sessions,
                    cars=cars,
                    delivered=delivered,
                    reading=readings.get(pk),
                    last_decisions=last_decisions,
                    trigger=(site_triggers or {}).get(pk, trigger),
                    now=now,
                    protection_only=protection_only,
                )
            except Exception as error:
                outcomes[pk] = error
        Site.objects.filter(pk__in=list(plans)).update(last_rebalanced_at=now)
        sending = {pk: plan for pk, plan in plans.items() if plan.sends}
        for pk in plans.keys() - sending.keys():
            outcomes[pk] = site_finish(plans[pk], site_locks[pk])
        if sending:
            try:
                outcomes.update(async_to_sync(sites_send)(sending, site_locks=site_locks))
            except Exception as error:
                outcomes.update(dict.fromkeys(sending, error))
    return outcomes


def _site_control_plan(
    *,
    site: Site,
    blocks: tuple[SolarCharging, TimeOfUse, GridResponse],
    chargers: list[Charger],
    draws: dict[int, selectors.Draw],
    sessions: dict[int, ChargingSession],
    cars: dict[int, list[CarNeed]],
    delivered: dict[int, float],
    reading: EnergyReading | None,
    last_decisions: dict[int, LimitDecision],
    trigger: str,
    now: dt.datetime,
    protection_only: bool = False,
) -> SitePlan:
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
            c.control.decision_current_a,
        )
        for c in chargers
        if not c.is_connected and c.control.decision_current_a
    ]
    failsafe, failsafe_reason = None, ""
    if reading is not None and now - reading.measured_at > dt.timedelta(seconds=site.meter_timeout_s):
        failsafe = site.failsafe_current_a
        failsafe_reason = reasons.meter_silent(reading.measured_at.astimezone(site.zone), failsafe)
        reading = None
    ev_power_w = sum(d.power_w or 0.0 for d in draws.values())
    solar_budget_w, solar_surplus_w, solar_reason = _solar_inputs(
        site=site, solar=solar, chargers=online, ev_power_w=ev_power_w, now=now
    )
    wanting = {int(state.id) for state in states if state.wants_power}
    tou_own = _plan_inputs(
        site=site,
        tou=tou,
        chargers=online,
        wanting=wanting,
        cars=cars,
        delivered=delivered,
        reading=reading,
        ev_power_w=ev_power_w,
        solar=solar,
        now=now,
    )
    grid_percent, grid_reason = 100, ""
    if grid.enabled:
        levels = level_percents(moderate_percent=grid.moderate_limit_percent, high_percent=grid.high_limit_percent)
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
            solar_surplus_w=solar_surplus_w,
            plan_by_charger={str(pk): (allowed, reason) for pk, (allowed, reason, _) in tou_own.items()},
            failsafe_current_a=failsafe,
            failsafe_reason=failsafe_reason,
        )
    )
    plan = SitePlan(ControlRun(decisions), now, trigger)
    site_calls_plan(
        plan,
        by_pk={str(c.pk): c for c in online},
        sessions=sessions,
        last_decisions=last_decisions,
        tou_plans={pk: own_plan for pk, (_, _, own_plan) in tou_own.items()},
        solar_on={
            str(c.pk)
            for c in online
            if solar_budget_w is not None or c.control.mode in (ChargeMode.OFF, ChargeMode.SOLAR)
        },
        protection_only=protection_only,
    )
    return plan
