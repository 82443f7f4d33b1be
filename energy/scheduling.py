"""When a site's periodic control run is due.

Each site runs once per interval at its own slot within it, not "interval after its last
run": sites created or triggered together (a thousand on one process, all woken by their
chargers' first readings) would otherwise stay bunched and be re-decided in one tick, a
burst of seconds of work every minute. Slots keep the same guarantee: no site waits longer
than its interval (plus one tick) between runs.
"""

import datetime as dt
import math

# Consecutive site ids land far apart in the interval: the golden ratio's fractional part.
_SLOT_STEP = 0.6180339887498949


def slot_offset_s(*, site_pk: int, interval_s: float) -> float:
    return (site_pk * _SLOT_STEP) % 1.0 * interval_s


def site_run_due(*, site_pk: int, interval_s: float, last_run_at: dt.datetime | None, now: dt.datetime) -> bool:
    """True once a slot of this site has passed since its last run, whatever triggered that run."""
    if last_run_at is None or interval_s <= 0:
        return True
    offset_s = slot_offset_s(site_pk=site_pk, interval_s=interval_s)

    def slot(moment: dt.datetime) -> int:
        return math.floor((moment.timestamp() - offset_s) / interval_s)

    return slot(now) > slot(last_run_at)


def seconds_until_run_allowed(*, min_interval_s: float, last_run_at: dt.datetime | None, now: dt.datetime) -> float:
    """How long an event-driven run must wait so that the site runs at most every min_interval_s;
    never longer than that, even if the clock was set back after the last run."""
    if last_run_at is None:
        return 0.0
    return min(float(min_interval_s), max(0.0, min_interval_s - (now - last_run_at).total_seconds()))
