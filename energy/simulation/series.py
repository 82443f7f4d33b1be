"""A scenario's per-step series as the 15-minute slots a tariff or forecast service posts
(energy.owner_controls.SeriesSlot). Pure."""

import datetime as dt
import math
from collections.abc import Sequence

from energy.owner_controls import SeriesSlot

SLOT_S = 900  # on the quarter hours, as day-ahead prices and solar forecasts are published


def quarter_hour_slots(
    *, start: dt.datetime, step_s: int, values: Sequence[float], since: dt.datetime | None = None
) -> list[SeriesSlot]:
    """The slots from the one holding `since` (default: the first step) to the series' end, each
    the time-weighted mean of the steps it overlaps. A step longer than a slot gives its value
    to each slot in it; a slot at the series' edge averages the part the steps cover."""
    first_s = start.timestamp()
    end_s = first_s + len(values) * step_s
    slot_s = math.floor(max(first_s, since.timestamp() if since else first_s) / SLOT_S) * SLOT_S
    slots = []
    while slot_s < end_s:
        low_s, high_s = max(slot_s, first_s), min(slot_s + SLOT_S, end_s)
        weighted, i = 0.0, int((low_s - first_s) // step_s)
        while i < len(values) and first_s + i * step_s < high_s:
            covered_s = min(high_s, first_s + (i + 1) * step_s) - max(low_s, first_s + i * step_s)
            weighted += values[i] * covered_s
            i += 1
        slots.append(
            SeriesSlot(
                start=dt.datetime.fromtimestamp(slot_s, dt.UTC),
                end=dt.datetime.fromtimestamp(slot_s + SLOT_S, dt.UTC),
                value=weighted / (high_s - low_s),
            )
        )
        slot_s += SLOT_S
    return slots
