"""The trace: one row per step, columns exactly as issue 28's contract lists them."""

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TextIO

from energy.allocation import NOMINAL_VOLTAGE_V, PHASES

SITE_COLUMNS = (
    "time",
    "solar_w",
    "house_w",
    "grid_w",
    "main_l1_a",
    "main_l2_a",
    "main_l3_a",
    "price_per_kwh",
    "grid_level",
)
CHARGER_FIELDS = ("limit_a", "phases", "power_w", "energy_wh", "profiles_sent")


def columns(charger_ids: Sequence[str]) -> list[str]:
    return [*SITE_COLUMNS, *(f"{cid}.{name}" for cid in charger_ids for name in CHARGER_FIELDS)]


@dataclass(frozen=True)
class ChargerStep:
    """A charger over one step: the limit in force, the phases and the car's mean power."""

    limit_a: float
    phases: int
    power_w: float
    energy_wh: float  # cumulative this session, at the end of the step
    profiles_sent: int  # cumulative, at the end of the step
    on_phases: tuple[str, ...]  # where its current flows


def phase_currents_a(*, house_w: float, solar_w: float, chargers: Iterable[ChargerStep]) -> dict[str, float]:
    """Signed current per phase at the main fuse (import positive): house and solar each split
    evenly over the three phases (a 3-phase inverter), plus each car on its phases."""
    base_a = (house_w - solar_w) / 3 / NOMINAL_VOLTAGE_V
    currents = dict.fromkeys(PHASES, base_a)
    for charger in chargers:
        if charger.power_w and charger.on_phases:
            per_phase_a = charger.power_w / NOMINAL_VOLTAGE_V / len(charger.on_phases)
            for phase in charger.on_phases:
                currents[phase] += per_phase_a
    return currents


def trace_row(
    *,
    time: str,
    solar_w: float,
    house_w: float,
    price_per_kwh: float | None,
    grid_level: str,
    chargers: dict[str, ChargerStep],
) -> dict[str, object]:
    """grid_w = house + cars - solar at the meter; main_lN_a the current's magnitude."""
    cars_w = sum(c.power_w for c in chargers.values())
    currents = phase_currents_a(house_w=house_w, solar_w=solar_w, chargers=chargers.values())
    row: dict[str, object] = {
        "time": time,
        "solar_w": solar_w,
        "house_w": house_w,
        "grid_w": round(house_w + cars_w - solar_w, 1),
        **{f"main_{phase.lower()}_a": round(abs(currents[phase]), 2) for phase in PHASES},
        "price_per_kwh": "" if price_per_kwh is None else price_per_kwh,
        "grid_level": grid_level,
    }
    for cid, step in chargers.items():
        row[f"{cid}.limit_a"] = round(step.limit_a, 1)
        row[f"{cid}.phases"] = step.phases
        row[f"{cid}.power_w"] = round(step.power_w, 1)
        row[f"{cid}.energy_wh"] = round(step.energy_wh, 1)
        row[f"{cid}.profiles_sent"] = step.profiles_sent
    return row


def trace_write(stream: TextIO, charger_ids: Sequence[str], rows: Iterable[dict[str, object]]) -> None:
    writer = csv.DictWriter(stream, fieldnames=columns(charger_ids), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
