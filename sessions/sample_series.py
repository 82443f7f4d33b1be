"""A session's power over time from its 15-minute aggregates, for the part of an old session
whose raw samples were pruned (sessions/pruning.py): the chart then shows a mean per quarter
hour instead of nothing."""

import datetime as dt
import math

from sessions.measurands import POWER_MAX_W
from sessions.models import ChargingSession
from sessions.selectors import PHASE_LABELS, POWER, WATTS_PER_UNIT

Series = list[tuple[dt.datetime, float]]


def aggregate_power_series(*, session: ChargingSession) -> Series:
    """Power.Active.Import per bucket, as session_power_series picks it from raw samples: the
    whole-meter mean (at the outlet when there are several locations), else the phases' sum,
    dated in the middle of the bucket's samples."""
    rows = session.sample_aggregates.filter(measurand=POWER, unit__in=WATTS_PER_UNIT).values_list(
        "bucket_start", "first_at", "last_at", "value_mean", "unit", "phase", "location"
    )
    by_bucket: dict[dt.datetime, list[tuple[dt.datetime, dt.datetime, float, str, str]]] = {}
    for bucket, first_at, last_at, mean, unit, phase, location in rows:
        by_bucket.setdefault(bucket, []).append((first_at, last_at, mean * WATTS_PER_UNIT[unit], phase, location))
    series = []
    for bucket in sorted(by_bucket):
        readings = by_bucket[bucket]
        locations = {location for *_, location in readings}
        location = "Outlet" if "Outlet" in locations else min(locations)
        here = [r for r in readings if r[4] == location]
        whole = [watts for _, _, watts, phase, _ in here if not phase]
        total = whole[0] if whole else sum(watts for _, _, watts, phase, _ in here if phase in PHASE_LABELS)
        first, last = min(r[0] for r in here), max(r[1] for r in here)
        if math.isfinite(total) and total <= POWER_MAX_W:
            series.append((first + (last - first) / 2, max(0.0, total)))
    return series


def power_series_with_aggregates(*, session: ChargingSession, raw: Series) -> Series:
    """The raw series, preceded by the aggregates of the part whose raw samples are gone."""
    pruned = aggregate_power_series(session=session)
    if raw:
        pruned = [(at, watts) for at, watts in pruned if at < raw[0][0]]
    return pruned + raw
