"""The scenario file (issue 28's contract) read into plain values; every problem is named by
its key, all at once, before anything runs."""

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass

import yaml

from energy.grid import LEVEL_PERCENT
from energy.models import MAX_TARGET_ENERGY_WH, PRICE_PER_KWH_LIMIT, SOLAR_FORECAST_MAX_W

MIN_STEP_S = 1
MAX_HOURS = 24 * 7
# The contract's keys, and a description for people.
KEYS = frozenset(("name", "description", "config", "time_zone", "start", "hours", "step_s", "series"))
KEYS |= {"tariff", "grid_levels", "cars"}


class ScenarioError(ValueError):
    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Target:
    """What the owner told the product: this much energy by then."""

    ready_by: dt.datetime
    energy_wh: float


@dataclass(frozen=True)
class Car:
    charger: str
    arrive: dt.datetime
    depart: dt.datetime
    need_wh: float
    max_current_a: float
    phases: int
    target: Target | None


@dataclass(frozen=True)
class GridLevel:
    at: dt.datetime
    level: str


@dataclass(frozen=True)
class Scenario:
    name: str
    config: dict
    time_zone: str
    start: dt.datetime
    hours: float
    step_s: int
    solar_w: tuple[float, ...]
    house_w: tuple[float, ...]
    solar_forecast_w: tuple[float, ...] | None
    price_per_kwh: tuple[float, ...] | None
    feed_in_per_kwh: float
    grid_levels: tuple[GridLevel, ...]
    cars: tuple[Car, ...]

    @property
    def steps(self) -> int:
        return len(self.solar_w)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def step_at(self, index: int) -> dt.datetime:
        return self.start + dt.timedelta(seconds=index * self.step_s)

    def grid_level_at(self, when: dt.datetime) -> str:
        """The level last set at or before `when` ("normal" before any)."""
        level = "normal"
        for change in self.grid_levels:
            if change.at <= when:
                level = change.level
        return level


class _Reader:
    """Collects every problem with its key instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, key: str, message: str) -> None:
        self.errors.append(f"{key}: {message}")

    def number(self, data: dict, key: str, path: str, *, minimum: float = 0.0, required: bool = True) -> float | None:
        value = data.get(key)
        if value is None and not required:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.fail(path, f"must be a number, not {value!r}")
            return None
        if value < minimum:
            self.fail(path, f"must be at least {minimum:g}, not {value!r}")
            return None
        return float(value)

    def instant(self, value: object, path: str, zone: zoneinfo.ZoneInfo | None) -> dt.datetime | None:
        """ISO 8601; without an offset it is the scenario's local time."""
        if not isinstance(value, str):
            self.fail(path, f"must be an ISO 8601 date and time, not {value!r}")
            return None
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            self.fail(path, f"must be an ISO 8601 date and time, not {value!r}")
            return None
        if parsed.tzinfo is None:
            if zone is None:
                self.fail(path, f"needs an offset (e.g. {value}+00:00)")
                return None
            parsed = parsed.replace(tzinfo=zone)
        return parsed.astimezone(dt.UTC)

    def series(
        self, data: dict, key: str, steps: int | None, *, required: bool, maximum: float = math.inf
    ) -> tuple[float, ...] | None:
        path = f"series.{key}"
        values = data.get(key)
        if values is None:
            if required:
                self.fail(path, "missing")
            return None
        if not isinstance(values, list):
            self.fail(path, "must be a list of numbers, one per step")
            return None
        if steps is not None and len(values) != steps:
            self.fail(path, f"has {len(values)} values where hours × 3600 / step_s is {steps}")
        out = []
        for i, value in enumerate(values):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                self.fail(f"{path}[{i}]", f"must be a number ≥ 0, not {value!r}")
                return None
            if value > maximum:
                self.fail(f"{path}[{i}]", f"must be at most {maximum:g}, not {value!r}")
                return None
            out.append(float(value))
        return tuple(out)


def scenario_parse(data: object) -> Scenario:
    """A scenario from its parsed JSON, or ScenarioError naming every bad key."""
    if not isinstance(data, dict):
        raise ScenarioError(["scenario: must be a JSON object"])
    r = _Reader()
    for key in ("name", "config", "time_zone", "start", "hours", "step_s", "series"):
        if key not in data:
            r.fail(key, "missing")
    name = data.get("name")
    if "name" in data and (not isinstance(name, str) or not name.strip()):
        r.fail("name", "must be a non-empty string")
    config = None
    if isinstance(data.get("config"), str):
        try:
            config = yaml.safe_load(data["config"])
        except yaml.YAMLError as error:
            r.fail("config", f"is not valid YAML: {error}")
        else:
            if not isinstance(config, dict):
                r.fail("config", "must be the YAML of a configuration file (a mapping)")
                config = None
    elif "config" in data:
        r.fail("config", "must be one string holding the YAML import_config reads")
    zone = None
    if "time_zone" in data:
        try:
            zone = zoneinfo.ZoneInfo(str(data["time_zone"]))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            r.fail("time_zone", f"unknown time zone {data['time_zone']!r}")
    start = r.instant(data["start"], "start", None) if "start" in data else None
    hours = r.number(data, "hours", "hours") if "hours" in data else None
    if hours is not None and not 0 < hours <= MAX_HOURS:
        r.fail("hours", f"must be more than 0 and at most {MAX_HOURS}")
        hours = None
    step_s = r.number(data, "step_s", "step_s", minimum=MIN_STEP_S) if "step_s" in data else None
    if step_s is not None and step_s != int(step_s):
        r.fail("step_s", "must be a whole number of seconds")
        step_s = None
    steps = None
    if hours is not None and step_s is not None:
        if (hours * 3600) % step_s:
            r.fail("step_s", f"must divide hours × 3600 ({hours * 3600:g} s)")
        else:
            steps = int(hours * 3600 // step_s)
    series = data.get("series")
    solar = house = forecast = price = None
    if isinstance(series, dict):
        solar = r.series(series, "solar_w", steps, required=True)
        house = r.series(series, "house_w", steps, required=True)
        # What the product takes over the API (energy.owner_controls).
        forecast = r.series(series, "solar_forecast_w", steps, required=False, maximum=SOLAR_FORECAST_MAX_W)
        price = r.series(series, "price_per_kwh", steps, required=False, maximum=PRICE_PER_KWH_LIMIT)
        for key in series.keys() - {"solar_w", "house_w", "solar_forecast_w", "price_per_kwh"}:
            r.fail(f"series.{key}", "unknown series")
    elif "series" in data:
        r.fail("series", "must be an object of lists")
    tariff = data.get("tariff", {})
    feed_in = 0.0
    if not isinstance(tariff, dict):
        r.fail("tariff", "must be an object")
    elif "feed_in_per_kwh" in tariff:
        feed_in = r.number(tariff, "feed_in_per_kwh", "tariff.feed_in_per_kwh") or 0.0
    levels = []
    raw_levels = data.get("grid_levels", [])
    if not isinstance(raw_levels, list):
        r.fail("grid_levels", "must be a list")
        raw_levels = []
    for i, item in enumerate(raw_levels):
        path = f"grid_levels[{i}]"
        if not isinstance(item, dict):
            r.fail(path, 'must be {"at", "level"}')
            continue
        at = r.instant(item.get("at"), f"{path}.at", zone)
        level = item.get("level")
        if level not in LEVEL_PERCENT:
            r.fail(f"{path}.level", f"must be one of {', '.join(LEVEL_PERCENT)}, not {level!r}")
        elif at is not None:
            levels.append(GridLevel(at, level))
    raw_cars = data.get("cars", [])
    if not isinstance(raw_cars, list):
        r.fail("cars", "must be a list")
        raw_cars = []
    numbered = []
    for i, item in enumerate(raw_cars):
        car = _car(r, item, f"cars[{i}]", zone)
        if car is not None:
            numbered.append((i, car))
    for i, car in numbered:
        for j, other in numbered:
            if j < i and car.charger == other.charger and car.arrive < other.depart and other.arrive < car.depart:
                r.fail(f"cars[{i}].arrive", f"charger {car.charger!r} still holds cars[{j}] then (one car at a time)")
    for key in data.keys() - KEYS:
        r.fail(key, "unknown key")
    if r.errors:
        raise ScenarioError(r.errors)
    return Scenario(
        name=name.strip(),
        config=config,
        time_zone=str(data["time_zone"]),
        start=start,
        hours=hours,
        step_s=int(step_s),
        solar_w=solar,
        house_w=house,
        solar_forecast_w=forecast,
        price_per_kwh=price,
        feed_in_per_kwh=feed_in,
        grid_levels=tuple(sorted(levels, key=lambda g: g.at)),
        cars=tuple(car for _, car in numbered),
    )


def _car(r: _Reader, item: object, path: str, zone: zoneinfo.ZoneInfo | None) -> Car | None:
    if not isinstance(item, dict):
        r.fail(path, "must be an object")
        return None
    errors_before = len(r.errors)
    charger = item.get("charger")
    if not isinstance(charger, str) or not charger:
        r.fail(f"{path}.charger", "must name a charger of the config")
    arrive = r.instant(item.get("arrive"), f"{path}.arrive", zone)
    depart = r.instant(item.get("depart"), f"{path}.depart", zone)
    if arrive is not None and depart is not None and depart <= arrive:
        r.fail(f"{path}.depart", "must be after arrive")
    need_wh = r.number(item, "need_wh", f"{path}.need_wh")
    max_current_a = r.number(item, "max_current_a", f"{path}.max_current_a", minimum=6)
    phases = item.get("phases", 3)
    if phases not in (1, 3):
        r.fail(f"{path}.phases", f"must be 1 or 3, not {phases!r}")
    target = None
    raw_target = item.get("target")
    if raw_target is not None:
        if not isinstance(raw_target, dict):
            r.fail(f"{path}.target", 'must be {"ready_by", "energy_wh"}')
        else:
            ready_by = r.instant(raw_target.get("ready_by"), f"{path}.target.ready_by", zone)
            energy_wh = r.number(raw_target, "energy_wh", f"{path}.target.energy_wh", minimum=1)
            if energy_wh is not None and energy_wh > MAX_TARGET_ENERGY_WH:
                r.fail(f"{path}.target.energy_wh", f"must be at most {MAX_TARGET_ENERGY_WH}, not {energy_wh:g}")
                energy_wh = None
            if ready_by is not None and energy_wh is not None:
                target = Target(ready_by, energy_wh)
    for key in item.keys() - {"charger", "arrive", "depart", "need_wh", "max_current_a", "phases", "target"}:
        r.fail(f"{path}.{key}", "unknown key")
    if len(r.errors) > errors_before:
        return None
    return Car(charger, arrive, depart, need_wh, max_current_a, phases, target)
