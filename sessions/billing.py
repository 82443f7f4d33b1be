"""Cost and solar share of sessions from the database: gather a session's samples, its site's
tariff, posted prices and meter readings, and hand them to the plain functions of
sessions/accounting.py.

`session_figures_live` reads (live while charging); `session_account` stores the final figures
when a session stops.
"""

import datetime as dt
import logging

from django.db import transaction
from django.db.models import QuerySet

from energy.models import EnergyReading as SiteEnergyReading
from energy.models import PriceSlot, Site, Tariff
from energy.tou import Period
from sessions.accounting import (
    ENERGY_REGISTER,
    MAX_COST,
    READING_HOLD,
    EnergyReading,
    PostedPrice,
    SessionFigures,
    SiteReading,
    calendar_safe,
    register_believable,
    session_figures,
)
from sessions.measurands import preferred_location
from sessions.models import ChargingSession

logger = logging.getLogger(__name__)

# The site's readings and posted prices are read for at most the last this-long of a session:
# one "started" in 1970 by a reset clock would read every reading and price the site ever had
# on each Now-page poll. Energy before it counts as not solar, priced by the tariff's periods.
RECENT_SPAN = dt.timedelta(days=31)


def site_tariff(*, site: Site) -> tuple[list[Period], str]:
    """The site's active tariff as periods, and its currency; ([], "") without one."""
    tariff = Tariff.objects.filter(site=site, is_active=True).prefetch_related("periods").first()
    if tariff is None:
        return [], ""
    periods = [
        # Timed periods first, so period_at finds them before the all-other-times one.
        Period(name=p.name, rate_per_kwh=p.rate_per_kwh, priority=p.priority, start=p.start, end=p.end)
        for p in sorted(tariff.periods.all(), key=lambda p: (p.start is None, p.start or dt.time.min))
    ]
    return periods, tariff.currency


def session_register_readings(*, session: ChargingSession) -> list[EnergyReading]:
    """The session's whole-meter energy register samples at the outlet (or, when the charger
    reports it elsewhere only, wherever it does)."""
    rows = list(
        session.samples.filter(measurand=ENERGY_REGISTER, value__isnull=False, phase="")
        .order_by("timestamp")
        .values_list("value", "unit", "timestamp", "location")
    )
    wanted = preferred_location({location for *_, location in rows})
    return [EnergyReading(value=v, unit=u or "Wh", at=t) for v, u, t, loc in rows if loc == wanted]


def site_readings_between(*, site: Site, start: dt.datetime, end: dt.datetime) -> list[SiteReading]:
    """The site's readings from the one in force at `start` (if recent enough) to `end`."""
    readings: QuerySet[SiteEnergyReading] = SiteEnergyReading.objects.filter(site=site)
    fields = ("measured_at", "grid_w", "solar_w", "house_w")
    before = (
        readings.filter(measured_at__lt=start, measured_at__gte=start - READING_HOLD)
        .order_by("-measured_at")
        .values_list(*fields)
        .first()
    )
    during = readings.filter(measured_at__gte=start, measured_at__lte=end).order_by("measured_at").values_list(*fields)
    rows = ([before] if before else []) + list(during)
    return [SiteReading(at=a, grid_w=g, solar_w=s, house_w=h) for a, g, s, h in rows]


def site_prices_between(*, site: Site, start: dt.datetime, end: dt.datetime) -> list[PostedPrice]:
    """The site's posted dynamic prices over [start, end], in one query. The table's constraints
    keep every stored price within what a tariff can charge."""
    rows = (
        PriceSlot.objects.filter(site=site, end__gt=start, start__lte=end)
        .order_by("start")
        .values_list("start", "end", "price_per_kwh")
    )
    return [PostedPrice(start=a, end=b, price_per_kwh=price) for a, b, price in rows]


def session_figures_compute(*, session: ChargingSession, now: dt.datetime | None = None) -> SessionFigures:
    """Compute a session's figures from scratch: final ones when it has stopped, the figures
    so far when it is running (up to its latest sample, and the site's readings up to now)."""
    site = session.charger.site
    periods, currency = site_tariff(site=site)
    registers = session_register_readings(session=session)
    now = now or dt.datetime.now(dt.UTC)
    latest = max((r.at for r in registers if r.at), default=None)
    end = calendar_safe(session.stopped_at or max(now, latest or now))
    last_energy = calendar_safe(session.stopped_at or latest or now)
    recent_from = max(calendar_safe(session.started_at), last_energy - RECENT_SPAN)
    return session_figures(
        started_at=session.started_at,
        ended_at=session.stopped_at,
        meter_start_wh=session.meter_start_wh,
        meter_stop_wh=session.meter_stop_wh,
        register_readings=registers,
        periods=periods,
        tz=site.zone,
        currency=currency,
        site_readings=site_readings_between(site=site, start=recent_from, end=end),
        prices=site_prices_between(site=site, start=recent_from, end=end),
    )


def session_figures_live(*, session: ChargingSession) -> SessionFigures:
    """What pages and the API show: the stored final figures of a stopped session, computed
    ones for a running session."""
    if session.stopped_at is not None:
        # Rows stored before values were bounded (SQLite kept whatever it was given) show as
        # unknown rather than as a 20-digit energy or cost.
        cost = session.cost if session.cost is not None and abs(session.cost) <= MAX_COST else None
        solar = session.solar_percent
        return SessionFigures(
            energy_wh=session.energy_wh if register_believable(session.energy_wh) else None,
            cost=cost,
            currency=session.cost_currency if cost is not None else "",
            solar_percent=solar if solar is not None and 0 <= solar <= 100 else None,
        )
    return session_figures_compute(session=session)


def session_account(*, transaction_id: int) -> SessionFigures | None:
    """Store a stopped session's final cost and solar share. Called when the session stops; a
    failure here is logged and leaves the figures empty, it never loses the stop itself."""
    session = ChargingSession.objects.select_related("charger__site").filter(transaction_id=transaction_id).first()
    if session is None or session.stopped_at is None:
        return None
    try:
        # A savepoint: a database error here must not break the caller's transaction (the stop).
        with transaction.atomic():
            figures = session_figures_compute(session=session)
    except Exception:
        logger.exception("could not compute the cost and solar share of session %s", transaction_id)
        return None
    session.cost = figures.cost
    session.cost_currency = figures.currency
    session.solar_percent = figures.solar_percent
    session.save(update_fields=["cost", "cost_currency", "solar_percent"])
    return figures
