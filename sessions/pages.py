"""Reads for the homeowner pages: what each charger is doing now, the charging history with
its month totals, and one session's power and limits over time. A user sees the chargers of
the sites they own (staff: all), through the same scoping as the API."""

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet
from django.utils.safestring import SafeString
from django.utils.text import capfirst

from chargers.models import Charger
from chargers.selectors import charger_list_visible
from energy.models import ChargerControl, LimitDecision, PriceSlot, Site, SolarForecastSlot
from energy.sources import MODE_LABELS, LimitSource, source_label
from energy.troubleshooting import Diagnosis, Status, Symptom
from graylogic.datetimes import zone_named
from sessions.accounting import (
    MonthEntry,
    MonthTotal,
    PeriodCost,
    SessionFigures,
    energy_intervals,
    local_time,
    month_totals,
)
from sessions.billing import (
    session_figures_compute,
    session_figures_live,
    session_register_readings,
)
from sessions.measurands import POWER_MAX_W, POWER_UNITS, in_base_unit, whole_meter_value
from sessions.models import ChargingSession
from sessions.plan_chart import (
    SiteFlow,
    describe_plan_chart,
    plan_chart,
    plan_chart_svg,
    plan_steps,
    price_steps,
    site_flow,
    solar_steps,
)
from sessions.sample_series import power_series_with_aggregates
from sessions.selectors import POWER, charger_state

User = AbstractBaseUser | AnonymousUser

STATUS_REASONS = {
    "": "Waiting for the charger to report its status.",
    "Available": "No car is plugged in.",
    "Preparing": "A car is plugged in and waiting to start: present your card, or check the car's own timer.",
    "SuspendedEV": "The car has paused charging (it may be full, or waiting for its own timer).",
    "SuspendedEVSE": "The charger has paused charging.",
    "Finishing": "Charging has finished: unplug the car, or plug it in again to restart.",
    "Reserved": "The charger is reserved.",
    "Unavailable": "The charger is out of service (unavailable).",
}


def not_charging_reason(
    *, connected: bool, status: str, error_code: str = "", limit_w: int | None, source: str, reason: str
) -> str | None:
    """Why a charger is not charging, in plain words; None when it is charging. `reason` is the
    limit's own sentence (energy/reasons.py), said as it is."""
    if not connected:
        return "The charger is offline: it is not connected to the server."
    if status == "Faulted":
        code = f" ({error_code})" if error_code and error_code != "NoError" else ""
        return f"The charger reports a fault{code}."
    paused = limit_w == 0 and source != LimitSource.IDLE
    if paused and status in {"Charging", "Preparing", "SuspendedEV", "SuspendedEVSE"}:
        return f"{capfirst(reason)}." if reason else f"Paused ({source_label(source)})."
    if status == "Charging":
        return None
    text = STATUS_REASONS.get(status, f"The charger reports {status}.")
    if status == "SuspendedEVSE" and reason:
        text += f" Last limit decision: {reason}."
    return text


# --- now ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChargerNow:
    charger: Charger
    time_zone: str
    connected: bool
    since: dt.datetime | None  # connected or disconnected at
    status: str
    charging: bool
    session: ChargingSession | None
    power_w: int | None
    figures: SessionFigures | None
    limit_w: int
    limit_source: str
    limit_source_label: str
    limit_reason: str  # the limit's sentence: why it is what it is
    reason: str | None  # why the car is not charging; None while it charges
    mode_label: str
    target: str  # the owner's target in words, "" when none
    plan_summary: str  # the planner's sentence, "" until it made a plan
    limit_problem: str = ""  # troubleshooting's sentence when the charger does not apply its limit


def now_diagnosed(now: ChargerNow, findings: Sequence[Diagnosis]) -> ChargerNow:
    """The card with what troubleshooting found (energy/diagnosis.py), in the homeowner's words:
    why it is offline or not charging where it knows better than the status, and a limit the
    charger does not apply."""
    said = {f.symptom: f.homeowner for f in findings if f.status is Status.PROBLEM and f.homeowner}
    reason = now.reason
    if not now.connected:
        reason = said.get(Symptom.CONNECTION_REFUSED) or said.get(Symptom.RECONNECT_LOOP) or reason
    elif reason is not None:
        reason = said.get(Symptom.WONT_START) or reason
    return replace(now, reason=reason, limit_problem=said.get(Symptom.LIMIT_NOT_APPLIED, ""))


def charger_now(*, charger: Charger) -> ChargerNow:
    """One charger as the Now page shows it."""
    state = charger_state(charger=charger)
    connected = state.connection.status == "connected"
    status = state.connector.status if state.connector else ""
    session = None
    figures = None
    if state.transaction is not None:
        session = ChargingSession.objects.select_related("charger__site").get(pk=state.transaction.id)
        figures = session_figures_compute(session=session)
    reason = charger.control.limit_reason
    if not reason:
        reason = charger.limit_decisions.values_list("reason", flat=True).first() or ""
    return ChargerNow(
        charger=charger,
        time_zone=charger.site.time_zone,
        connected=connected,
        since=charger.connected_at if connected else charger.disconnected_at,
        status=status or "Unknown",
        charging=connected and status == "Charging",
        session=session,
        power_w=state.transaction.power_w if state.transaction else None,
        figures=figures,
        limit_w=state.limits.current_limit_w,
        limit_source=state.limits.limit_source,
        limit_source_label=source_label(state.limits.limit_source),
        limit_reason=reason,
        reason=not_charging_reason(
            connected=connected,
            status=status,
            error_code=state.connector.error_code if state.connector else "",
            limit_w=state.limits.current_limit_w,
            source=state.limits.limit_source,
            reason=reason,
        ),
        mode_label=MODE_LABELS.get(charger.control.mode, charger.control.mode),
        target=target_words(control=charger.control),
        plan_summary=charger.control.plan_summary,
    )


def target_words(*, control: ChargerControl) -> str:
    """The owner's target as they said it: "ready by 07:00 with 20 kWh" or "… at 80 %"."""
    if control.target_ready_by is None:
        return ""
    by = f"ready by {control.target_ready_by:%H:%M}"
    if control.target_energy_wh is not None:
        return f"{by} with {control.target_energy_wh / 1000:g} kWh"
    if control.target_soc_percent is not None:
        battery = f" of a {control.battery_capacity_wh / 1000:g} kWh battery" if control.battery_capacity_wh else ""
        return f"{by} at {control.target_soc_percent} %{battery}"
    return by


def chargers_now(*, user: User) -> list[ChargerNow]:
    return [charger_now(charger=c) for c in charger_list_visible(user=user).order_by("site__name", "name", "pk")]


# --- the site's next hours and live flow -------------------------------------------------------

CHART_HOURS = dt.timedelta(hours=12)
CHART_HOURS_MOST = dt.timedelta(hours=24)  # a plan reaching further stretches the chart this far


@dataclass(frozen=True)
class SiteNow:
    site: Site
    flow: SiteFlow
    flow_at: dt.datetime | None  # the reading's time; None without one
    chart: SafeString


def sites_now(*, chargers: Sequence[ChargerNow], now: dt.datetime | None = None) -> list[SiteNow]:
    """Per site of these chargers: the chart of the next hours (forecast, plans, prices) and the
    live flow from the latest reading and the chargers' power as the cards show it."""
    now = now or dt.datetime.now(dt.UTC)
    by_site: dict[int, list[ChargerNow]] = {}
    for c in chargers:
        by_site.setdefault(c.charger.site_id, []).append(c)
    result = []
    for group in by_site.values():
        site = group[0].charger.site
        furthest = now + CHART_HOURS_MOST
        planned_ends = [s.end for c in group for s in plan_steps(c.charger.control.plan, start=now, end=furthest)]
        window = {"start": now, "end": max([now + CHART_HOURS, *planned_ends])}
        solar = solar_steps(
            SolarForecastSlot.objects.filter(site=site, end__gt=window["start"], start__lt=window["end"]).values_list(
                "start", "end", "solar_w"
            ),
            **window,
        )
        prices = price_steps(
            PriceSlot.objects.filter(site=site, end__gt=window["start"], start__lt=window["end"]).values_list(
                "start", "end", "price_per_kwh"
            ),
            **window,
        )
        plans = [(str(c.charger), plan_steps(c.charger.control.plan, **window)) for c in group]
        zone = site.zone
        chart = plan_chart(tz=zone, solar=solar, plans=plans, prices=prices, **window)
        reading = site.energy_readings.order_by("-measured_at").first()
        result.append(
            SiteNow(
                site=site,
                flow=site_flow(
                    solar_w=reading.solar_w if reading else None,
                    house_w=reading.house_w if reading else None,
                    grid_w=reading.grid_w if reading else None,
                    charger_powers_w=[c.power_w for c in group],
                ),
                flow_at=reading.measured_at if reading else None,
                chart=plan_chart_svg(
                    chart,
                    title=f"The next hours at {site.name}",
                    description=describe_plan_chart(solar=solar, plans=plans, prices=prices, tz=zone),
                    chart_id=f"plan-chart-{site.pk}",
                ),
            )
        )
    return result


# --- history ------------------------------------------------------------------------------------


def session_list_visible(
    *, user: User, charge_point_id: str | None = None, month: dt.date | None = None
) -> QuerySet[ChargingSession]:
    """The user's sessions, newest first; `month` is the site-local month the session started
    in (each site in its own zone)."""
    chargers = charger_list_visible(user=user)
    if charge_point_id:
        chargers = chargers.filter(charge_point_id=charge_point_id)
    sessions = ChargingSession.objects.filter(charger__in=chargers).select_related("charger__site")
    if month is not None:
        in_month = Q(pk__in=[])
        for zone_name in set(chargers.values_list("site__time_zone", flat=True)):
            zone = zone_named(zone_name)
            first = dt.datetime.combine(month.replace(day=1), dt.time.min, tzinfo=zone)
            following = dt.datetime.combine(_next_month(month), dt.time.min, tzinfo=zone)
            in_month |= Q(charger__site__time_zone=zone_name, started_at__gte=first, started_at__lt=following)
        sessions = sessions.filter(in_month)
    return sessions.order_by("-started_at", "-transaction_id")


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def session_get_visible(*, user: User, transaction_id: int) -> ChargingSession | None:
    return (
        ChargingSession.objects.filter(charger__in=charger_list_visible(user=user), transaction_id=transaction_id)
        .select_related("charger__site")
        .first()
    )


@dataclass(frozen=True)
class SessionRow:
    session: ChargingSession
    time_zone: str
    started: dt.datetime  # in the site's zone
    ended: dt.datetime | None
    duration: dt.timedelta | None
    figures: SessionFigures

    @property
    def month(self) -> dt.date:
        return self.started.date().replace(day=1)


def session_rows(*, sessions: Iterable[ChargingSession], now: dt.datetime | None = None) -> list[SessionRow]:
    rows = []
    for session in sessions:
        zone = session.charger.site.zone
        started = local_time(session.started_at, zone)
        ended = local_time(session.stopped_at, zone) if session.stopped_at else None
        running_for = (now or dt.datetime.now(dt.UTC)) - session.started_at
        rows.append(
            SessionRow(
                session=session,
                time_zone=session.charger.site.time_zone,
                started=started,
                ended=ended,
                duration=(session.stopped_at - session.started_at) if session.stopped_at else running_for,
                figures=session_figures_live(session=session),
            )
        )
    return rows


def session_month_totals(*, rows: Iterable[SessionRow]) -> list[MonthTotal]:
    return month_totals(
        MonthEntry(r.month, r.figures.energy_wh, r.figures.cost, r.figures.currency, r.figures.solar_percent)
        for r in rows
    )


# --- one session --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionDetail:
    row: SessionRow
    by_period: list[PeriodCost]
    power: list[tuple[dt.datetime, float]]  # W over time
    power_from_energy: bool  # no power samples: the average power between energy samples
    limit: list[tuple[dt.datetime, float]]  # the limit in force, as steps
    decisions: list[LimitDecision]  # taken during the session (and the one in force at its start)


def session_detail(*, session: ChargingSession, now: dt.datetime | None = None) -> SessionDetail:
    now = now or dt.datetime.now(dt.UTC)
    row = session_rows(sessions=[session], now=now)[0]
    computed = session_figures_compute(session=session, now=now)
    end = session.stopped_at or now
    power = power_series_with_aggregates(session=session, raw=session_power_series(session=session))
    from_energy = not power
    if from_energy:
        power = _power_from_energy(session=session)
    decisions = session_limit_decisions(session=session, end=end)
    return SessionDetail(
        row=row,
        # The breakdown is by today's tariff; show it only when it still adds up to the cost.
        by_period=computed.by_period if computed.cost == row.figures.cost else [],
        power=power,
        power_from_energy=from_energy,
        limit=limit_steps(decisions=decisions, start=session.started_at, end=end),
        decisions=decisions,
    )


def session_power_series(*, session: ChargingSession) -> list[tuple[dt.datetime, float]]:
    """Power.Active.Import over the session: per timestamp the whole-meter value (at the outlet
    when the charger reports several locations), else the sum of the phases."""
    rows = session.samples.filter(measurand=POWER, value__isnull=False, unit__in=POWER_UNITS).values_list(
        "timestamp", "value", "unit", "phase", "location"
    )
    by_time: dict[dt.datetime, list[tuple[float, str, str]]] = {}
    for at, value, unit, phase, location in rows:
        by_time.setdefault(at, []).append((in_base_unit(value, unit), phase, location))
    series = []
    for at in sorted(by_time):
        total = whole_meter_value(by_time[at])
        if total is not None and math.isfinite(total) and total <= POWER_MAX_W:  # a broken meter's 1e15 W is no point
            series.append((at, max(0.0, total)))
    return series


def _power_from_energy(*, session: ChargingSession) -> list[tuple[dt.datetime, float]]:
    intervals = energy_intervals(
        started_at=session.started_at,
        ended_at=session.stopped_at,
        meter_start_wh=session.meter_start_wh,
        meter_stop_wh=session.meter_stop_wh,
        register_readings=session_register_readings(session=session),
    )
    points = []
    for i in intervals:
        if i.seconds > 0 and (watts := i.energy_wh * 3600 / i.seconds) <= POWER_MAX_W:
            points.extend([(i.start, watts), (i.end, watts)])
    return points


def session_limit_decisions(*, session: ChargingSession, end: dt.datetime, most: int = 500) -> list[LimitDecision]:
    """The charger's limit decisions during the session, after the one in force at its start."""
    decisions = LimitDecision.objects.filter(charger_id=session.charger_id)
    before = decisions.filter(decided_at__lt=session.started_at).order_by("-decided_at", "-id").first()
    during = list(
        decisions.filter(decided_at__gte=session.started_at, decided_at__lte=end).order_by("decided_at", "id")[:most]
    )
    return ([before] if before else []) + during


def applied(decision: LimitDecision) -> bool:
    """A limit the charger took (or that was already in force); a refused one never applied."""
    return decision.outcome in {"", "unchanged"} or decision.outcome.endswith("Accepted")


def limit_steps(
    *, decisions: Sequence[LimitDecision], start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, float]]:
    """The applied limit as (time, W) steps from the session's start to its end."""
    steps: list[tuple[dt.datetime, float]] = []
    for d in decisions:
        if applied(d):
            steps.append((max(d.decided_at, start), float(d.limit_w)))
    if steps:
        steps.append((end, steps[-1][1]))
    return steps
