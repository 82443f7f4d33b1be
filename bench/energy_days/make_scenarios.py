"""Writes the shipped scenarios of `manage.py energy_day` (bench/README.md, "Energy days").

    .venv/bin/python bench/energy_days/make_scenarios.py

Made-up but plausible days: a sine of sunshine between sunrise and sunset (clouds cut it), a
house of 350 W with a breakfast, a lunch-time kettle and an evening cooking peak.
"""

import json
import math
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEP_S = 60

SITE = """site:
  name: "{name}"
  time_zone: "Europe/London"
  circuit_limit_a: {fuse}
ocpp:
  chargers:
{chargers}load_balancing:
  algorithm: "proportional"
"""
SOLAR = """solar_charging:
  enabled: true
  surplus:
    min_surplus_w: 1400
  behavior:
    mode: "{mode}"
    solar_priority:
      allow_grid_minimum: 1400
    mixed:
      max_grid_w: 3000
  smoothing:
    enabled: true
    window_seconds: 300
"""
TOU = """tou_charging:
  enabled: true
  periods:
    - name: "off_peak"
      start: "00:00"
      end: "07:00"
      rate_per_kwh: 0.10
      priority: 1
    - name: "peak"
      start: "16:00"
      end: "20:00"
      rate_per_kwh: 0.35
      priority: 3
    - name: "standard"
      start: null
      end: null
      rate_per_kwh: 0.25
      priority: 2
  behavior:
    avoid_peak: true
    prefer_off_peak: true
  target:
    mode: "time"
    ready_by: "07:00"
"""
GRID = """grid_response:
  enabled: true
  demand_response:
    source: "grid_operator_api"
    levels:
      normal:
        limit_percent: 100
      moderate:
        limit_percent: 50
      high:
        limit_percent: 0
"""


def charger(cid: str, max_power_w: int, phases: int, supply_phase: str | None = None) -> str:
    text = f'    - id: "{cid}"\n      max_power_w: {max_power_w}\n      phases: {phases}\n'
    return text + (f'      supply_phase: "{supply_phase}"\n' if supply_phase else "")


def local_hours(start_h: float, hours: float, shift: tuple[float, float] | None = None) -> list[float]:
    """The local hour of day at each step; shift: (after this many hours, the clock moves by)."""
    steps = int(hours * 3600 / STEP_S)
    out = []
    for i in range(steps):
        elapsed_h = i * STEP_S / 3600
        moved_h = shift[1] if shift and elapsed_h >= shift[0] else 0
        out.append((start_h + elapsed_h + moved_h) % 24)
    return out


def solar(hours_of_day: list[float], peak_w: float, sunrise: float, sunset: float, clouds=None) -> list[int]:
    out = []
    for i, h in enumerate(hours_of_day):
        w = peak_w * math.sin(math.pi * (h - sunrise) / (sunset - sunrise)) if sunrise < h < sunset else 0.0
        out.append(round(max(0.0, w * (clouds(i) if clouds else 1.0))))
    return out


def forecast(hours_of_day: list[float], peak_w: float, sunrise: float, sunset: float) -> list[int]:
    """A forecast service's view of a day of passing clouds: it knows the sky is half covered
    (passing_clouds: a fifth of the sun half the time), not when each cloud passes."""
    return solar(hours_of_day, peak_w * (1 + 0.2) / 2, sunrise, sunset)


def house(hours_of_day: list[float], base_w: float = 350) -> list[int]:
    def at(h: float) -> float:
        return (
            base_w
            + (900 if 7 <= h < 8.5 else 0)
            + (2500 if 12.5 <= h < 12.75 else 0)
            + (1500 if 17.5 <= h < 19.5 else 0)
            + (800 if 19.5 <= h < 22.5 else 0)
        )

    return [round(at(h)) for h in hours_of_day]


def passing_clouds(seed: int):
    """Clouds of 2 to 20 minutes that cut the sun to a fifth, about half the time."""
    rng = random.Random(seed)
    cover, left = [], 0
    covered = False
    for _ in range(24 * 60 * 2):
        if left == 0:
            covered, left = not covered, rng.randint(2, 20)
        cover.append(0.2 if covered else 1.0)
        left -= 1
    return lambda i: cover[i]


def car(cid, arrive, depart, need_wh, max_a, phases, target=None) -> dict:
    out = {"charger": cid, "arrive": arrive, "depart": depart, "need_wh": need_wh, "max_current_a": max_a}
    out["phases"] = phases
    if target:
        out["target"] = {"ready_by": target[0], "energy_wh": target[1]}
    return out


def scenario(name, config, start, hours, hours_of_day, solar_w, house_w, cars, **extra) -> dict:
    return {
        "name": name,
        "config": config,
        "time_zone": "Europe/London",
        "start": start,
        "hours": hours,
        "step_s": STEP_S,
        "series": {"solar_w": solar_w, "house_w": house_w, **extra.pop("series", {})},
        "tariff": {"feed_in_per_kwh": 0.15},
        "cars": cars,
        **extra,
    }


def days() -> dict[str, dict]:
    out = {}
    summer = local_hours(6, 14)
    out["sunny"] = scenario(
        "sunny: solar only, one car home all day",
        SITE.format(name="sunny", fuse=40, chargers=charger("garage", 11000, 3)) + SOLAR.format(mode="solar_only"),
        "2026-06-20T06:00:00+01:00",
        14,
        summer,
        solar(summer, 8000, 5.5, 20.5),
        house(summer),
        [car("garage", "2026-06-20T09:00:00+01:00", "2026-06-20T18:00:00+01:00", 30000, 16, 3)],
        series={"price_per_kwh": [0.28] * len(summer), "solar_forecast_w": solar(summer, 8000, 5.5, 20.5)},
    )
    noon = local_hours(11, 3)
    out["sunny_short"] = scenario(
        "sunny short (the test's): mixed mode, two cars over a 25 A fuse, one with a target",
        SITE.format(name="sunny short", fuse=25, chargers=charger("garage", 11000, 3) + charger("drive", 7400, 1, "L2"))
        + SOLAR.format(mode="mixed"),
        "2026-06-20T11:00:00+01:00",
        3,
        noon,
        solar(noon, 8000, 5.5, 20.5),
        house(noon, base_w=2500),
        [
            car("garage", "2026-06-20T11:00:00+01:00", "2026-06-20T14:00:00+01:00", 30000, 16, 3),
            car(
                "drive",
                "2026-06-20T11:10:00+01:00",
                "2026-06-20T14:00:00+01:00",
                4000,
                32,
                1,
                ("2026-06-20T13:30:00+01:00", 4000),
            ),
        ],
        series={"price_per_kwh": [0.28] * len(noon)},
    )
    out["cloudy"] = scenario(
        "cloudy with passing clouds: solar priority",
        SITE.format(name="cloudy", fuse=40, chargers=charger("garage", 7400, 1)) + SOLAR.format(mode="solar_priority"),
        "2026-06-21T06:00:00+01:00",
        14,
        summer,
        solar(summer, 6000, 5.5, 20.5, passing_clouds(28)),
        house(summer),
        [
            car(
                "garage",
                "2026-06-21T08:00:00+01:00",
                "2026-06-21T19:00:00+01:00",
                25000,
                32,
                1,
                ("2026-06-21T19:00:00+01:00", 15000),
            )
        ],
        series={"price_per_kwh": [0.28] * len(summer), "solar_forecast_w": forecast(summer, 6000, 5.5, 20.5)},
    )
    night = local_hours(17, 15)
    out["winter_off_peak"] = scenario(
        "winter off-peak: two cars on a 25 A fuse, ready by 07:00",
        SITE.format(name="winter", fuse=25, chargers=charger("left", 11000, 3) + charger("right", 11000, 3)) + TOU,
        "2026-01-15T17:00:00+00:00",
        15,
        night,
        [0] * len(night),
        house(night, base_w=600),
        [
            car(
                "left",
                "2026-01-15T18:00:00+00:00",
                "2026-01-16T07:30:00+00:00",
                30000,
                16,
                3,
                ("2026-01-16T07:00:00+00:00", 30000),
            ),
            car(
                "right",
                "2026-01-15T19:30:00+00:00",
                "2026-01-16T07:30:00+00:00",
                20000,
                16,
                3,
                ("2026-01-16T07:00:00+00:00", 20000),
            ),
        ],
    )
    out["one_phase_chargers"] = scenario(
        "1-phase chargers on different phases: three cars, one per phase, a 32 A fuse, mixed",
        SITE.format(
            name="one phase",
            fuse=32,
            chargers="".join(charger(f"on-l{n}", 7400, 1, f"L{n}") for n in (1, 2, 3)),
        )
        + SOLAR.format(mode="mixed"),
        "2026-05-10T06:00:00+01:00",
        14,
        summer,
        solar(summer, 7000, 5.8, 20.2),
        house(summer, base_w=500),
        [
            car("on-l1", "2026-05-10T08:00:00+01:00", "2026-05-10T17:00:00+01:00", 20000, 32, 1),
            car(
                "on-l2",
                "2026-05-10T09:00:00+01:00",
                "2026-05-10T18:00:00+01:00",
                14000,
                32,
                1,
                ("2026-05-10T17:00:00+01:00", 14000),
            ),
            car("on-l3", "2026-05-10T12:00:00+01:00", "2026-05-10T20:00:00+01:00", 10000, 16, 1),
        ],
        series={"price_per_kwh": [0.28] * len(summer), "solar_forecast_w": solar(summer, 7000, 5.8, 20.2)},
    )
    spring = local_hours(0, 23, (1, 1))  # 01:00 GMT becomes 02:00 BST
    out["dst_spring_23h"] = scenario(
        "DST spring night: a 23-hour day, off-peak charging by 07:00 (clocks go forward at 01:00)",
        SITE.format(name="dst spring", fuse=40, chargers=charger("garage", 7400, 1) + charger("drive", 7400, 1, "L2"))
        + TOU,
        "2026-03-29T00:00:00+00:00",
        23,
        spring,
        solar(spring, 3000, 7.0, 19.5),
        house(spring),
        [
            car(
                "garage",
                "2026-03-29T00:00:00+00:00",
                "2026-03-29T08:00:00+01:00",
                40000,
                32,
                1,
                ("2026-03-29T07:00:00+01:00", 40000),
            ),
            car("drive", "2026-03-29T17:00:00+01:00", "2026-03-29T23:59:00+01:00", 10000, 32, 1),
        ],
    )
    autumn = local_hours(0, 25, (2, -1))  # 02:00 BST becomes 01:00 GMT
    out["dst_autumn_25h"] = scenario(
        "DST autumn night: a 25-hour day, off-peak charging by 07:00 (clocks go back at 02:00)",
        SITE.format(name="dst autumn", fuse=40, chargers=charger("garage", 7400, 1) + charger("drive", 7400, 1, "L2"))
        + TOU,
        "2026-10-25T00:00:00+01:00",
        25,
        autumn,
        solar(autumn, 3000, 7.5, 17.0),
        house(autumn),
        [
            car(
                "garage",
                "2026-10-25T00:00:00+01:00",
                "2026-10-25T08:00:00+00:00",
                55000,
                32,
                1,
                ("2026-10-25T07:00:00+00:00", 55000),
            ),
            car("drive", "2026-10-25T17:00:00+00:00", "2026-10-25T23:59:00+00:00", 10000, 32, 1),
        ],
    )
    evening = local_hours(16, 8)
    out["demand_response"] = scenario(
        "demand response: a high level 17:00-18:00 and moderate 18:00-19:30 while two cars charge",
        SITE.format(name="demand response", fuse=63, chargers=charger("garage", 11000, 3) + charger("drive", 7400, 1))
        + GRID,
        "2026-02-02T16:00:00+00:00",
        8,
        evening,
        [0] * len(evening),
        house(evening),
        [
            car("garage", "2026-02-02T16:30:00+00:00", "2026-02-02T23:59:00+00:00", 40000, 16, 3),
            car("drive", "2026-02-02T16:45:00+00:00", "2026-02-02T23:59:00+00:00", 15000, 32, 1),
        ],
        series={"price_per_kwh": [0.30] * len(evening)},
        grid_levels=[
            {"at": "2026-02-02T17:00:00+00:00", "level": "high"},
            {"at": "2026-02-02T18:00:00+00:00", "level": "moderate"},
            {"at": "2026-02-02T19:30:00+00:00", "level": "normal"},
        ],
    )
    day = local_hours(6, 16)
    out["mixed"] = scenario(
        "mixed mode: solar topped up from the grid (3 kW), a car home in the afternoon, passing clouds",
        SITE.format(name="mixed", fuse=32, chargers=charger("garage", 11000, 3)) + SOLAR.format(mode="mixed"),
        "2026-07-01T06:00:00+01:00",
        16,
        day,
        solar(day, 7000, 5.2, 20.8, passing_clouds(7)),
        house(day),
        [
            car(
                "garage",
                "2026-07-01T13:00:00+01:00",
                "2026-07-01T22:00:00+01:00",
                30000,
                16,
                3,
                ("2026-07-01T21:00:00+01:00", 25000),
            )
        ],
        series={
            "price_per_kwh": [0.25 if 8 <= h < 16 or h >= 20 else 0.35 if 16 <= h < 20 else 0.10 for h in day],
            "solar_forecast_w": forecast(day, 7000, 5.2, 20.8),
        },
    )
    return out


if __name__ == "__main__":
    for name, data in days().items():
        (HERE / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")
