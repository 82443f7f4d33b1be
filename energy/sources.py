"""What a charger's limit comes from: the source every decision names, and its words for people.

Pure: no Django, so the control core and the pages share one list.
"""

from enum import StrEnum


class ChargeMode(StrEnum):
    """What the owner asked of one charger (issue 28): off; now, as fast as the fuses allow; solar,
    from the surplus only; smart, the site's planner (its solar, tariff and the car's target)."""

    OFF = "off"
    NOW = "now"
    SOLAR = "solar"
    SMART = "smart"


MODE_LABELS = {
    ChargeMode.OFF: "Off",
    ChargeMode.NOW: "Now (as fast as the fuses allow)",
    ChargeMode.SOLAR: "Solar (surplus only)",
    ChargeMode.SMART: "Smart (solar, cheapest hours, ready by the target)",
}


class CheckStatus(StrEnum):
    """A commissioning checklist item: seen working, seen failing, or not seen yet."""

    OK = "ok"
    FAILED = "failed"
    NOT_YET = "not_yet"


class LimitSource(StrEnum):
    CIRCUIT = "circuit"  # a fuse: the main fuse or a circuit
    FAILSAFE = "failsafe"  # the main meter is silent: every charger is held at the fail-safe current
    SOLAR = "solar"
    TOU = "tou"
    PLAN = "plan"  # the site's planner: solar forecast, prices and the car's target together
    MODE = "mode"  # the owner's mode for the charger: off, or solar only
    GRID = "grid"
    MANUAL = "manual"
    # A limit someone else set on the charger (an EMS, the grid operator: OCPP 2.0.1 NotifyChargingLimit).
    EXTERNAL = "external"
    CHARGER = "charger"  # the charger's own maximum
    DEMAND = "demand"  # the car draws less than it is offered
    IDLE = "idle"  # no car wants to charge


LABELS = {
    LimitSource.CIRCUIT: "fuse limit",
    LimitSource.FAILSAFE: "meter fail-safe",
    LimitSource.SOLAR: "solar charging",
    LimitSource.TOU: "time-of-use plan",
    LimitSource.PLAN: "charging plan",
    LimitSource.MODE: "charging mode",
    LimitSource.GRID: "grid operator",
    LimitSource.MANUAL: "manual limit",
    LimitSource.EXTERNAL: "limit set on the charger",
    LimitSource.CHARGER: "charger's maximum",
    LimitSource.DEMAND: "car's own draw",
    LimitSource.IDLE: "no car charging",
}
# A charger that never had a decision runs at its own maximum ("none" in the API).
NO_SOURCE_LABEL = LABELS[LimitSource.CHARGER]


def source_label(source: str) -> str:
    """A source as a homeowner reads it; a value this list does not know is shown as it is."""
    if not source or source == "none":
        return NO_SOURCE_LABEL
    try:
        return LABELS[LimitSource(source)]
    except ValueError:
        return source
