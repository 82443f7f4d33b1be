"""Dates and times as the outside world reads them: UTC in ISO 8601 with a "Z" (OCPP, MQTT,
events), and IANA zones by name (a site's time zone). Pure: no database."""

import datetime as dt
import zoneinfo
from typing import overload


@overload
def iso_utc(value: dt.datetime) -> str: ...


@overload
def iso_utc(value: None) -> None: ...


def iso_utc(value: dt.datetime | None) -> str | None:
    """A moment in UTC to the second, e.g. 2026-01-13T08:30:00Z (OCPP's date-time form)."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def zone_named(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone of that name; UTC for a name the system does not know (a zone stored
    before it was checked never breaks a page or a control run)."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")
