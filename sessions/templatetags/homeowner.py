"""Numbers as the homeowner pages show them."""

import datetime as dt
import math
from decimal import Decimal

from django import template
from django.templatetags.tz import datetimeobject

from energy.sources import source_label
from graylogic.datetimes import zone_named
from sessions.accounting import local_time
from sessions.measurands import ENERGY_REGISTER_MAX_WH, POWER_MAX_W

register = template.Library()

NONE = "—"
SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


def _within(value: float | None, bound: float) -> bool:
    return value is not None and math.isfinite(value) and abs(value) <= bound


@register.filter
def kw(watts: float | None) -> str:
    """Power; one no charger can draw (a broken meter's 1e300) shows as unknown."""
    return f"{watts / 1000:.1f} kW" if _within(watts, POWER_MAX_W) else NONE


@register.filter
def kwh(wh: float | None) -> str:
    """Energy; one no meter can show shows as unknown."""
    return f"{wh / 1000:.2f}" if _within(wh, ENERGY_REGISTER_MAX_WH) else NONE


@register.filter
def money(amount: Decimal | None, currency: str = "") -> str:
    if amount is None:
        return NONE
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{amount:.2f}" if symbol else f"{amount:.2f} {currency}".strip()


@register.filter
def rate(amount: Decimal | None, currency: str = "") -> str:
    """A price per kWh: at least the cents, and the finer digits a tariff may have (0.2456)."""
    if amount is None:
        return NONE
    digits = max(2, -Decimal(amount).normalize().as_tuple().exponent)
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{amount:.{digits}f}" if symbol else f"{amount:.{digits}f} {currency}".strip()


@register.filter
def money_totals(costs: dict[str, Decimal]) -> str:
    return " + ".join(money(amount, currency) for currency, amount in sorted(costs.items())) or NONE


@register.filter
def percent(value: float | None) -> str:
    return f"{value:.0f} %" if _within(value, 100) else NONE


@register.filter
def site_time(value: dt.datetime | None, zone_name: str) -> dt.datetime | str:
    """An instant on the site's clock, ready for `date` (Django's `timezone` filter, but total:
    a stored year 1 or 9999 overflows a zone's offset, and is shown in UTC instead)."""
    if not isinstance(value, dt.datetime):
        return ""
    local = local_time(value, zone_named(zone_name))
    # As Django's own filter: a datetime that `date` does not convert to the server's zone.
    result = datetimeobject(*local.timetuple()[:6], local.microsecond, local.tzinfo)
    result.convert_to_local_time = False
    return result


@register.filter
def iso(value: dt.datetime | None) -> str:
    """For <time datetime>: the instant as stored (UTC), which no zone can overflow."""
    return value.isoformat() if isinstance(value, dt.datetime) else ""


@register.filter
def duration(value: dt.timedelta | None) -> str:
    if value is None:
        return NONE
    minutes = max(0, int(value.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


@register.filter
def limit_source(source: str) -> str:
    """A limit's source in words: "failsafe" -> "meter fail-safe"."""
    return source_label(source)
