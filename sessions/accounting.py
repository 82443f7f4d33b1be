"""Energy of a charging session from meter readings. Plain data in, numbers out."""

from collections.abc import Iterable
from dataclasses import dataclass

ENERGY_REGISTER = "Energy.Active.Import.Register"


@dataclass(frozen=True)
class EnergyReading:
    value: float
    unit: str = "Wh"
    phase: str = ""


def energy_wh(value: float, unit: str) -> float:
    """Energy registers come in Wh (the OCPP default when unit is absent) or kWh."""
    if unit == "kWh":
        return value * 1000.0
    return value


def session_energy_wh(
    *, meter_start_wh: int | None, meter_stop_wh: int | None, register_readings: Iterable[EnergyReading]
) -> int | None:
    """Delivered energy: the stop minus start meter when both are known; otherwise the span
    of the charger's whole-meter energy register samples (per-phase registers are ignored,
    summing them would double count against a total). None when nothing tells."""
    totals = [energy_wh(r.value, r.unit) for r in register_readings if not r.phase]
    start = meter_start_wh if meter_start_wh is not None else (min(totals) if totals else None)
    stop = meter_stop_wh if meter_stop_wh is not None else (max(totals) if totals else None)
    if start is None or stop is None:
        return None
    return max(0, round(stop - start))
