"""Physical bounds of what a charger's meter can report (pure: data in, data out).

A value outside them is a broken meter or a hostile charger: a 1e12 W sample built a chart
until the server ran out of memory. Such values are kept as rejected samples, never used.
The table is in docs/charger-data.md."""

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sessions.models import RejectedSample

# A 32-bit Wh register wraps at 4.3 GWh; a 350 kW charger running for 30 years meters 92 GWh.
ENERGY_REGISTER_MAX_WH = 100_000_000_000
# The most any charger (megawatt truck charging included) delivers, and with what.
POWER_MAX_W = 4_000_000
CURRENT_MAX_A = 4_000
VOLTAGE_MAX_V = 1_500
# How far above its charger's rating a reading may go before it is called broken: a 22 kW
# charger left at the 7.4 kW default rating still reports its car's draw (unknown draws only
# cost control its spare-capacity estimate, never the fuse), a kW/W mix-up does not pass.
RATING_MARGIN = 3
# The lowest voltage a rating is divided by to get a current (230 V nominal, less 15 %).
RATING_VOLTAGE_V = 195


@dataclass(frozen=True)
class Bounds:
    low: float
    high: float


# Per measurand prefix, in the base unit (Wh, W, var, A, V, Hz, %, Celsius, rpm).
_BOUNDS_BY_PREFIX = (
    ("Energy.", Bounds(0, ENERGY_REGISTER_MAX_WH)),
    ("Power.Factor", Bounds(-1, 1)),
    ("Power.Reactive.", Bounds(-POWER_MAX_W, POWER_MAX_W)),
    ("Power.", Bounds(0, POWER_MAX_W)),
    ("Current.", Bounds(0, CURRENT_MAX_A)),
    ("Voltage", Bounds(0, VOLTAGE_MAX_V)),
    ("Frequency", Bounds(0, 100)),
    ("SoC", Bounds(0, 100)),
    ("Temperature", Bounds(-50, 150)),
    ("RPM", Bounds(0, 100_000)),
)

# Multiplier to the base unit; temperatures are converted by _celsius.
UNIT_SCALE = {"kWh": 1000, "kvarh": 1000, "kW": 1000, "kVA": 1000, "kvar": 1000}
# The units power and energy come in; none is OCPP's default (W, Wh).
POWER_UNITS = ("", "W", "kW")
ENERGY_UNITS = ("", "Wh", "kWh")
# Where a charger meters what it delivers, and its phases as chargers label them; a value for
# the whole meter has no phase.
OUTLET = "Outlet"
PHASE_LABELS = frozenset({"L1", "L2", "L3", "L1-N", "L2-N", "L3-N"})


def in_base_unit(value: float, unit: str) -> float:
    """A power or energy value in W, Wh, var, VA or varh: kW times 1000, and so on."""
    return value * UNIT_SCALE.get(unit, 1)


def preferred_location(locations: Collection[str]) -> str:
    """Where to read a charger that meters in several places: the outlet when it reports one
    (or reports none), else the first location by name."""
    return OUTLET if OUTLET in locations or not locations else min(locations)


def whole_meter_value(values: Sequence[tuple[float, str, str]]) -> float | None:
    """One instant's value for the whole charger from (value, phase, location) triples, values
    in their base unit: at the preferred location, the value without a phase, else the sum of
    the phases; None without values."""
    if not values:
        return None
    location = preferred_location({loc for _, _, loc in values})
    here = [(value, phase) for value, phase, loc in values if loc == location]
    whole = [value for value, phase in here if not phase]
    return whole[0] if whole else sum(value for value, phase in here if phase in PHASE_LABELS)


def _celsius(value: float, unit: str) -> float:
    if unit == "Fahrenheit":
        return (value - 32) * 5 / 9
    if unit == "K":
        return value - 273.15
    return value


def bounds_for(*, measurand: str, max_power_w: int | None = None) -> Bounds | None:
    """The plausible range of a measurand in its base unit; a known charger rating narrows
    power and current. None for a measurand with no physical bound known here."""
    bounds = next((b for prefix, b in _BOUNDS_BY_PREFIX if measurand.startswith(prefix)), None)
    if bounds is None or not max_power_w:
        return bounds
    if measurand.startswith(("Power.Active.", "Power.Offered")):
        return Bounds(bounds.low, min(bounds.high, max_power_w * RATING_MARGIN))
    if measurand.startswith("Current."):
        return Bounds(bounds.low, min(bounds.high, max_power_w / RATING_VOLTAGE_V * RATING_MARGIN))
    return bounds


def sample_rejection(
    *, measurand: str, unit: str, value: float, max_power_w: int | None = None
) -> RejectedSample.Reason | None:
    """Why a sampled value cannot be used, or None when it can."""
    if math.isnan(value):
        return RejectedSample.Reason.NOT_A_NUMBER
    if math.isinf(value):
        return RejectedSample.Reason.OUT_OF_RANGE
    bounds = bounds_for(measurand=measurand, max_power_w=max_power_w)
    if bounds is None:
        return None
    base = _celsius(value, unit) if measurand.startswith("Temperature") else in_base_unit(value, unit)
    if not bounds.low <= base <= bounds.high:
        return RejectedSample.Reason.OUT_OF_RANGE
    return None
