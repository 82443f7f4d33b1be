"""Solar surplus charging (spec: solar_charging): how much power the cars may take from the
sun, smoothed and with hysteresis so a passing cloud does not toggle the car. Plain data."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from energy import reasons
from energy.allocation import NOMINAL_VOLTAGE_V

MODES = ("solar_only", "solar_priority", "mixed")
# Below this a three-phase car cannot charge at all (3 × 6 A × 230 V); a charger that can
# switch phases drops to one phase under it.
THREE_PHASE_MIN_W = 3 * 6 * NOMINAL_VOLTAGE_V
# Go back to three phases only with this much to spare, so 1p/3p does not flap.
PHASE_SWITCH_MARGIN_W = 500


@dataclass(frozen=True)
class SolarSettings:
    mode: str = "solar_only"
    min_surplus_w: float = 1400
    allow_grid_minimum_w: float = 1400
    max_grid_w: float = 3000
    window_s: int = 300
    # Hysteresis defaults (docs/energy.md): start after 1 minute of enough surplus, stop after 5 minutes without.
    start_delay_s: int = 60
    stop_delay_s: int = 300


@dataclass(frozen=True)
class SolarState:
    """What the hysteresis remembers between runs."""

    charging: bool = False
    above_since: dt.datetime | None = None
    below_since: dt.datetime | None = None


def surplus_w(
    *,
    ev_w: float,
    grid_w: float | None = None,
    solar_w: float | None = None,
    house_w: float | None = None,
) -> float | None:
    """Power the cars could take without importing. The cars' own draw is not house load:
    from a grid meter (import positive) surplus = export + EV power; from production and total
    consumption (which includes the EVs) surplus = solar - (house - EV). Never more than the
    panels make: export from a home battery is not solar."""
    if grid_w is not None:
        surplus = -grid_w + ev_w
    elif solar_w is not None and house_w is not None:
        surplus = solar_w - (house_w - ev_w)
    else:
        return None
    if solar_w is not None:
        surplus = min(surplus, max(0.0, solar_w))
    return surplus


def smoothed_w(samples: Sequence[tuple[dt.datetime, float]], *, now: dt.datetime, window_s: int) -> float | None:
    """Mean surplus over the window (spec: smoothing.window_seconds); None with no samples."""
    recent = [w for at, w in samples if now - dt.timedelta(seconds=window_s) <= at <= now]
    return sum(recent) / len(recent) if recent else None


def solar_budget(
    *, state: SolarState, surplus: float | None, settings: SolarSettings, now: dt.datetime
) -> tuple[float, SolarState, str]:
    """The power the cars may use under the mode, the new hysteresis state, and why."""
    available = max(0.0, surplus or 0.0)
    enough = surplus is not None and surplus >= settings.min_surplus_w
    if enough:
        state = replace(state, above_since=state.above_since or now, below_since=None)
        if not state.charging and now - state.above_since >= dt.timedelta(seconds=settings.start_delay_s):
            state = replace(state, charging=True)
    else:
        state = replace(state, below_since=state.below_since or now, above_since=None)
        if state.charging and now - state.below_since >= dt.timedelta(seconds=settings.stop_delay_s):
            state = replace(state, charging=False)

    if settings.mode == "mixed":
        return available + settings.max_grid_w, state, reasons.solar_with_grid(available, settings.max_grid_w)
    budget = max(available, settings.min_surplus_w) if state.charging else 0.0
    if settings.mode == "solar_priority" and budget < settings.allow_grid_minimum_w:
        minimum_w = settings.allow_grid_minimum_w
        return minimum_w, state, reasons.solar_grid_minimum(minimum_w, available)
    return budget, state, _solar_reason(state=state, surplus=surplus, enough=enough, settings=settings)


def _solar_reason(*, state: SolarState, surplus: float | None, enough: bool, settings: SolarSettings) -> str:
    if surplus is None:
        return reasons.solar_no_reading()
    available = max(0.0, surplus)
    if state.charging:
        if enough:
            return reasons.solar_charging(available)
        return reasons.solar_stopping(available, settings.min_surplus_w, settings.stop_delay_s)
    if enough:
        return reasons.solar_starting(available, settings.start_delay_s)
    return reasons.solar_too_low(available, settings.min_surplus_w)


def phases_for_budget(*, budget_w: float, current_phases: int) -> int:
    """For chargers that can switch: one phase when three cannot reach 6 A each."""
    if current_phases == 3:
        return 3 if budget_w >= THREE_PHASE_MIN_W else 1
    return 3 if budget_w >= THREE_PHASE_MIN_W + PHASE_SWITCH_MARGIN_W else 1
