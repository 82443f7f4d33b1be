"""Numbers as the homeowner pages show them."""

import datetime as dt
from decimal import Decimal

from django import template

from energy.sources import source_label

register = template.Library()

NONE = "—"
SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


@register.filter
def kw(watts: float | None) -> str:
    return NONE if watts is None else f"{watts / 1000:.1f} kW"


@register.filter
def kwh(wh: float | None) -> str:
    return NONE if wh is None else f"{wh / 1000:.2f}"


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
    return NONE if value is None else f"{value:.0f} %"


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
