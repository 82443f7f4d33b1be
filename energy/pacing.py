"""How often a charger may be sent a profile (issue 28): at most six an hour, never two within a
minute, so a passing cloud or a busy kettle does not wear the charger's flash or flood its link.
Plain data.

Some profiles always go at once: a limit that keeps a fuse safe, what a charger that holds none
of its kind needs (it just booted or connected for the first time: both its fuse limit and its
plan go then), and what the owner just asked for (a person waits for the car to react). A change
that starts or stops a car, or that the car needs to get its share, waits only for the minute
since the charger's last profile. An adjustment (a few hundred watts more or less of surplus, a
plan that moved later in the night) waits ten minutes since the last one, so the charger's hour
keeps room for what matters.
"""

from collections.abc import Iterable
from enum import IntEnum

PROFILE_SPACING_S = 60
PROFILES_PER_HOUR = 6
ADJUSTMENT_SPACING_S = 600
# Starts and stops leave the hour's last profile for a fuse; adjustments leave two.
PROMPT_RESERVE = 1
ADJUSTMENT_RESERVE = 2


# A control run asked for by the owner (energy/owner_controls.py) names itself with this.
OWNER_TRIGGER_PREFIX = "owner: "


class Urgency(IntEnum):
    AT_ONCE = 0  # a lowered fuse limit, a charger that holds none of its kind, the owner's wish
    PROMPT = 1  # starts or stops a car, or raises what the car needs now
    ADJUSTMENT = 2  # anything else


def profile_may_go(urgency: Urgency, *, sent_s: Iterable[float], now_s: float) -> bool:
    """Whether a profile of this urgency may go now, given when the charger was last sent one."""
    if urgency is Urgency.AT_ONCE:
        return True
    recent = [t for t in sent_s if now_s - t < 3600]
    since_last = now_s - max(recent) if recent else float("inf")
    if urgency is Urgency.PROMPT:
        return since_last >= PROFILE_SPACING_S and len(recent) < PROFILES_PER_HOUR - PROMPT_RESERVE
    return since_last >= ADJUSTMENT_SPACING_S and len(recent) < PROFILES_PER_HOUR - ADJUSTMENT_RESERVE
