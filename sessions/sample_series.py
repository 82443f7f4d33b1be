"""A session's power over time from its 15-minute aggregates, for the part of an old session
whose raw samples were pruned (sessions/pruning.py): the chart then shows a mean per quarter
hour instead of nothing."""

import datetime as dt
import math

from sessions.measurands import POWER_MAX_W, POWER_UNITS, in_base_unit, preferred_location, whole_meter_value
from sessions.models import ChargingSession
from sessions.selectors import POWER

Series = list[tuple[dt.datetime, float]]


def aggregate_power_series(*, session: ChargingSession) -> Series:
    """Power.Active.Import per bucket, as session_power_series picks it from raw samples: the
    whole-meter mean (at the outlet when there are several locations), else the phases' sum,
    dated in the middle of the bucket's samples."""
    rows = session.sample_aggregates.filter(measurand=POWER, unit__in=POWER_UNITS).values_list(
        "bucket_start", "first_at", "last_at", "value_mean", "unit", "phase", "location"
    )
    by_bucket: dict[dt.datetime, list[tuple[dt.datetime, dt.datetime, float, str, str]]] = {}
    for bucket, first_at, last_at, mean, unit, phase, location in rows:
        by_bucket.setdefault(bucket, []).append((first_at, last_at, in_base_unit(mean, unit), phase, location))
    series = []
    for bucket in sorted(by_bucket):
        readings = by_bucket[bucket]
        location = preferred_location({r[4] for r in readings})
        here = [r for r in readings if r[4] == location]
        total = whole_meter_value([(watts, phase, loc) for _, _, watts, phase, loc in here])
        first, last = min(r[0] for r in here), max(r[1] for r in here)
        if total is not None and math.isfinite(total) and total <= POWER_MAX_W:
            series.append((first + (last - first) / 2, max(0.0, total)))
    return series


def power_series_with_aggregates(*, session: ChargingSession, raw: Series) -> Series:
    """The raw series, preceded by the aggregates of the part whose raw samples are gone."""
    pruned = aggregate_power_series(session=session)
    if raw:
        pruned = [(at, watts) for at, watts in pruned if at < raw[0][0]]
    return pruned + raw
