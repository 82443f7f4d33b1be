"""A person's manual limit as the charger can carry it out. Plain data in, data out.

No car charges below its minimum current (6 A, IEC 61851), so a cap under the charger's
minimum power is a pause, not a trickle; a 3-phase charger that can switch phases reaches the
same watts on one phase instead. Either way the person is told in words what happens.
"""

from dataclasses import dataclass

from energy.allocation import NOMINAL_VOLTAGE_V


@dataclass(frozen=True)
class ManualLimit:
    limit_w: int  # what the charger may draw under the limit: the watts asked, or 0 (paused)
    phases: int  # the phases it charges on under the limit
    reason: str


def _minimum_w(min_current_a: float, phases: int) -> int:
    return round(min_current_a * NOMINAL_VOLTAGE_V * phases)


def _below_minimum(limit_w: int, min_current_a: float, phases: int) -> str:
    phases_words = "1 phase" if phases == 1 else f"{phases} phases"
    minimum_w = _minimum_w(min_current_a, phases)
    return f"{limit_w:,} W is below this charger's minimum of {minimum_w:,} W ({min_current_a:g} A on {phases_words})"


def manual_limit_in_force(
    *, limit_w: int, phases: int, can_switch_phases: bool, min_current_a: float = 6.0
) -> ManualLimit:
    """What a manual limit of `limit_w` does on a charger wired for `phases`."""
    if limit_w <= 0:
        return ManualLimit(0, phases, "paused by hand (limit 0 W)")
    if limit_w >= _minimum_w(min_current_a, phases):
        return ManualLimit(limit_w, phases, f"limited by hand to {limit_w:,} W")
    if phases == 3 and can_switch_phases:
        if limit_w < _minimum_w(min_current_a, 1):
            return ManualLimit(0, phases, f"{_below_minimum(limit_w, min_current_a, 1)}: paused")
        amps = int(limit_w / NOMINAL_VOLTAGE_V * 10) / 10  # as the charger is sent it: rounded down
        reason = f"{_below_minimum(limit_w, min_current_a, 3)}: charging on 1 phase at {amps:g} A"
        return ManualLimit(limit_w, 1, reason)
    return ManualLimit(0, phases, f"{_below_minimum(limit_w, min_current_a, phases)}: paused")
