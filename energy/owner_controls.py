"""What a homeowner or another program tells energy control (issue 28): a charger's mode and
target, a site's dynamic prices and solar forecast. One set of rules for the Now page, the API
and MQTT: each checks its input here, stores it whole or not at all, and asks for a run.

A refused input raises OwnerInputError with a sentence for a person; nothing is stored then.
"""

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from chargers.models import Charger
from energy.models import (
    MAX_TARGET_ENERGY_WH,
    PRICE_PER_KWH_LIMIT,
    SOLAR_FORECAST_MAX_W,
    ChargerControl,
    PriceSlot,
    Site,
    SolarForecastSlot,
)
from energy.pacing import OWNER_TRIGGER_PREFIX
from energy.rebalance import rebalancer
from energy.sources import ChargeMode

# Slots a series may hold: 15 minutes or an hour each (dynamic tariffs publish either).
SLOT_LENGTHS = (dt.timedelta(minutes=15), dt.timedelta(hours=1))
# At most a week ahead, and no more than a week of quarter-hours in one post.
SERIES_MAX_AHEAD = dt.timedelta(days=7)
SERIES_MAX_SLOTS = 7 * 96
# A series slot this far in the past is of no use to a plan; it is kept for session cost.
SERIES_MAX_BEHIND = dt.timedelta(days=2)


class OwnerInputError(ValueError):
    """Input refused whole; the message says why in words a person can act on."""


@dataclass(frozen=True)
class SeriesSlot:
    start: dt.datetime
    end: dt.datetime
    value: float


def charger_mode_set(*, charger: Charger, mode: str, set_by: str) -> ChargerControl:
    try:
        mode = ChargeMode(mode)
    except ValueError as error:
        known = ", ".join(m.value for m in ChargeMode)
        raise OwnerInputError(f"mode must be one of {known}, not {mode!r}") from error
    control = charger.control
    control.mode = mode
    control.save(update_fields=["mode"])
    rebalancer().request(charger.site_id, f"{OWNER_TRIGGER_PREFIX}mode {mode} ({set_by})"[:100])
    return control


def charger_target_set(
    *,
    charger: Charger,
    ready_by: dt.time | None,
    energy_wh: int | None = None,
    soc_percent: int | None = None,
    battery_capacity_wh: int | None = None,
    set_by: str,
) -> ChargerControl:
    """ "Ready by HH:MM with N kWh" (or a state of charge with the battery's size). All None clears
    the target: the charger is then planned by the site's rules (or what its car told)."""
    clearing = ready_by is None and energy_wh is None and soc_percent is None
    if not clearing:
        if ready_by is None:
            raise OwnerInputError("say by when the car must be ready (ready_by, HH:MM)")
        if (energy_wh is None) == (soc_percent is None):
            raise OwnerInputError("give either the energy to add (energy_wh) or the state of charge (soc_percent)")
        if energy_wh is not None and not 0 < energy_wh <= MAX_TARGET_ENERGY_WH:
            raise OwnerInputError(f"energy_wh must be between 1 and {MAX_TARGET_ENERGY_WH:,} Wh, not {energy_wh}")
        if soc_percent is not None:
            if not 0 < soc_percent <= 100:
                raise OwnerInputError(f"soc_percent must be between 1 and 100, not {soc_percent}")
            if battery_capacity_wh is None:
                raise OwnerInputError("a state of charge needs the battery's size (battery_capacity_wh)")
        if battery_capacity_wh is not None and not 0 < battery_capacity_wh <= MAX_TARGET_ENERGY_WH:
            raise OwnerInputError(
                f"battery_capacity_wh must be between 1 and {MAX_TARGET_ENERGY_WH:,} Wh, not {battery_capacity_wh}"
            )
    control = charger.control
    control.target_ready_by = ready_by
    control.target_energy_wh = energy_wh
    control.target_soc_percent = soc_percent
    control.battery_capacity_wh = battery_capacity_wh if not clearing else None
    control.target_set_at = None if clearing else timezone.now()
    control.target_set_by = "" if clearing else set_by[:50]
    control.save(
        update_fields=[
            "target_ready_by",
            "target_energy_wh",
            "target_soc_percent",
            "battery_capacity_wh",
            "target_set_at",
            "target_set_by",
        ]
    )
    rebalancer().request(charger.site_id, f"{OWNER_TRIGGER_PREFIX}target ({set_by})"[:100])
    return control


def _series_checked(
    slots: Sequence[SeriesSlot], *, now: dt.datetime, low: float, high: float, what: str
) -> list[SeriesSlot]:
    if not slots:
        raise OwnerInputError(f"give at least one {what} slot")
    if len(slots) > SERIES_MAX_SLOTS:
        raise OwnerInputError(f"at most {SERIES_MAX_SLOTS} {what} slots at a time, not {len(slots)}")
    ordered = sorted(slots, key=lambda s: s.start)
    for i, slot in enumerate(ordered):
        if slot.start.tzinfo is None or slot.end.tzinfo is None:
            raise OwnerInputError(f"slot {slot.start}: give times with their zone (ISO 8601 with an offset)")
        if slot.end - slot.start not in SLOT_LENGTHS:
            raise OwnerInputError(f"slot {slot.start.isoformat()}: a slot is 15 minutes or an hour long")
        if not (math.isfinite(slot.value) and low <= slot.value <= high):
            raise OwnerInputError(f"slot {slot.start.isoformat()}: {what} must be between {low:g} and {high:g}")
        if i and slot.start < ordered[i - 1].end:
            raise OwnerInputError(f"slot {slot.start.isoformat()} overlaps the one before it")
        if slot.start > now + SERIES_MAX_AHEAD:
            raise OwnerInputError(f"slot {slot.start.isoformat()} is more than 7 days ahead")
        if slot.end < now - SERIES_MAX_BEHIND:
            raise OwnerInputError(f"slot {slot.start.isoformat()} is more than 2 days in the past")
    return ordered


def site_prices_store(*, site: Site, slots: Sequence[SeriesSlot], source: str) -> int:
    """A dynamic tariff's prices: the posted slots replace what was stored over the same span."""
    ordered = _series_checked(
        slots, now=timezone.now(), low=-PRICE_PER_KWH_LIMIT, high=PRICE_PER_KWH_LIMIT, what="price_per_kwh"
    )
    with transaction.atomic():
        PriceSlot.objects.filter(site=site, start__lt=ordered[-1].end, end__gt=ordered[0].start).delete()
        PriceSlot.objects.bulk_create(
            PriceSlot(
                site=site,
                start=s.start,
                end=s.end,
                price_per_kwh=Decimal(str(round(s.value, 4))),
                source=source[:50],
            )
            for s in ordered
        )
    rebalancer().request(site.pk, "prices")
    return len(ordered)


def site_solar_forecast_store(*, site: Site, slots: Sequence[SeriesSlot], source: str) -> int:
    """A solar forecast: the posted slots replace what was stored over the same span."""
    ordered = _series_checked(slots, now=timezone.now(), low=0, high=SOLAR_FORECAST_MAX_W, what="solar_w")
    with transaction.atomic():
        SolarForecastSlot.objects.filter(site=site, start__lt=ordered[-1].end, end__gt=ordered[0].start).delete()
        SolarForecastSlot.objects.bulk_create(
            SolarForecastSlot(site=site, start=s.start, end=s.end, solar_w=s.value, source=source[:50]) for s in ordered
        )
    rebalancer().request(site.pk, "solar forecast")
    return len(ordered)
