"""The best a day could have gone: the same day solved with perfect foresight as a linear program
(HiGHS), and the worst a dumb charger would do, both scored by the same rules. Plain data.

The site's main fuse carries, per phase, a third of the house load minus a third of the solar (a
3-phase inverter) plus the cars on that phase. Energy costs the step's import price, and an
export earns the feed-in rate.

The optimum is a lower bound on the cost any control can reach, not a schedule a car could follow:
a car cannot draw 0 < current < 6 A (IEC 61851), but "0 or at least 6 A" is not a linear
constraint, so the program lets a car draw any current from 0 to its maximum.

Each car first gets what it can: its target by the target's deadline, then its need by departure
(a penalty per Wh short that outweighs any price), only then is the cost minimised. A day on
which a target cannot be met therefore still gets the most energy possible, at the lowest cost.

A car's energy comes from the solar surplus (forgoing its feed-in) or the grid (at the price).
When an import price is below the feed-in rate (a negative price), the program may buy while
exporting, which no meter does: the cost reported is always recomputed from the netted grid
flow of the schedule found, so it is a real cost, if then not the very lowest.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import highspy
import numpy as np

VOLTAGE_V = 230.0
PHASES = ("L1", "L2", "L3")

# Penalties of the program, per Wh short or per amp-second over the fuse. Prices are per kWh, so
# one Wh costs at most a few thousandths: each penalty outweighs every price, and a target
# outweighs the rest of a need, so the program maximises energy first, then minimises cost.
TARGET_SHORT_PENALTY_PER_WH = 1.0
NEED_SHORT_PENALTY_PER_WH = 0.1
# Only when the site's own export alone overloads a phase (no car can cause that): the cars may
# soak it up, and what is left is reported as amp-seconds over the fuse.
EXPORT_OVER_FUSE_PENALTY_PER_A_S = 1.0

# A target counts as met when at most this much is short (0.1 %, at least 1 Wh): rounding of the
# program and of a trace's figures must not fail a target the car really reached.
TARGET_TOLERANCE_SHARE = 0.001
TARGET_TOLERANCE_WH = 1.0
FUSE_ROUNDING_A = 1e-6


@dataclass(frozen=True)
class Step:
    solar_w: float
    house_w: float  # without the cars
    price_per_kwh: float  # import price
    # Demand response: the most all cars together may draw (W), or on any one phase (A), None for
    # no cap; and each car's share of its maximum current, as the product applies a grid level
    # (its percent / 100).
    cars_cap_w: float | None = None
    cars_cap_a: float | None = None
    charger_share: float = 1.0


@dataclass(frozen=True)
class CarInput:
    charger: str
    phases: tuple[str, ...]  # ("L2",) for a 1-phase car on L2; ("L1", "L2", "L3") for 3-phase
    arrive_step: int  # the first step it is plugged in
    depart_step: int  # the first step it is gone
    max_current_a: float  # per phase
    need_wh: float  # the most it takes
    target_wh: float | None = None  # what the owner asked for (None: no target)
    target_step: int | None = None  # the step by which the target is due (None: departure)

    @property
    def due_step(self) -> int:
        return self.depart_step if self.target_step is None else min(self.target_step, self.depart_step)


@dataclass(frozen=True)
class Day:
    step_s: int
    steps: tuple[Step, ...]
    cars: tuple[CarInput, ...]
    fuse_a: float  # the main fuse, per phase
    feed_in_per_kwh: float


@dataclass(frozen=True)
class CarResult:
    charger: str
    power_w: tuple[float, ...]  # per step of the day, 0 outside its stay
    delivered_wh: float
    target_wh: float | None
    target_met: bool | None  # None: no target


@dataclass(frozen=True)
class DayResult:
    cars: tuple[CarResult, ...]  # in the order of Day.cars
    grid_w: tuple[float, ...]  # per step, import +
    cost: float  # import cost minus feed-in revenue
    cars_wh: float
    solar_share: float | None  # of the cars' energy, the part the solar surplus gave; None: no energy
    over_fuse_a_s: float  # amp-seconds over the fuse, summed over the phases


def step_cost(*, grid_w: float, price_per_kwh: float, feed_in_per_kwh: float, step_s: float) -> float:
    """What one step costs: its import at the price, less its export at the feed-in rate."""
    kwh = grid_w * step_s / 3_600_000
    return kwh * (price_per_kwh if kwh > 0 else feed_in_per_kwh)


def phase_currents_a(*, solar_w: float, house_w: float, cars: Iterable[tuple[Sequence[str], float]]) -> list[float]:
    """The current through the main fuse on L1, L2, L3 (magnitudes): house and solar split evenly,
    each car's power (phases, W) spread over its phases."""
    net_a = {phase: (house_w - solar_w) / 3 / VOLTAGE_V for phase in PHASES}
    for phases, power_w in cars:
        for phase in phases:
            net_a[phase] += power_w / len(phases) / VOLTAGE_V
    return [abs(net_a[phase]) for phase in PHASES]


def over_fuse_a_s(currents_a: Iterable[Sequence[float]], *, fuse_a: float, step_s: float) -> float:
    """Amp-seconds over the fuse: per step and phase, how far the current exceeds it, × the step.
    A current within a micro-amp of the fuse is the solver's rounding, not an overrun."""
    return sum(a - fuse_a for step in currents_a for a in step if a - fuse_a > FUSE_ROUNDING_A) * step_s


def solar_share(
    *, solar_w: Sequence[float], house_w: Sequence[float], cars_w: Sequence[float], step_s: float
) -> tuple[float, float | None]:
    """The cars' energy (Wh) and the share of it the solar surplus (solar beyond the house) gave;
    None when the cars took nothing."""
    cars_wh = sum(cars_w) * step_s / 3600
    solar_wh = sum(min(c, max(0.0, s - h)) for s, h, c in zip(solar_w, house_w, cars_w, strict=True)) * step_s / 3600
    return cars_wh, (solar_wh / cars_wh if cars_wh > 0 else None)


def target_reached(delivered_wh: float, target_wh: float) -> bool:
    return delivered_wh >= target_wh - max(TARGET_TOLERANCE_WH, target_wh * TARGET_TOLERANCE_SHARE)


def validate(day: Day) -> None:
    """Bad input is refused whole, with the reason, rather than solved into a meaningless figure."""
    if day.step_s <= 0:
        raise ValueError(f"step_s must be positive, not {day.step_s}")
    if not day.fuse_a > 0:
        raise ValueError(f"the main fuse must be positive, not {day.fuse_a} A")
    for i, step in enumerate(day.steps):
        values = (step.solar_w, step.house_w, step.price_per_kwh, step.charger_share)
        if not all(math.isfinite(v) for v in values) or step.solar_w < 0 or step.house_w < 0:
            raise ValueError(f"step {i}: solar and house must be finite and not negative")
        if not 0 <= step.charger_share <= 1:
            raise ValueError(f"step {i}: charger_share must be within 0..1, not {step.charger_share}")
        for cap in (step.cars_cap_w, step.cars_cap_a):
            if cap is not None and not cap >= 0:
                raise ValueError(f"step {i}: a demand-response cap must not be negative, not {cap}")
    for car in day.cars:
        if len(car.phases) not in (1, 3) or len(set(car.phases)) != len(car.phases) or set(car.phases) - set(PHASES):
            raise ValueError(f"car at {car.charger}: phases must be one of L1/L2/L3 or all three, not {car.phases}")
        if not 0 <= car.arrive_step < car.depart_step <= len(day.steps):
            raise ValueError(f"car at {car.charger}: it must arrive before it departs, within the day")
        if not (car.max_current_a >= 0 and car.need_wh >= 0 and (car.target_wh is None or car.target_wh >= 0)):
            raise ValueError(f"car at {car.charger}: current, need and target must not be negative")


def _car_result(car: CarInput, power_w: Sequence[float], step_s: float) -> CarResult:
    delivered_wh = sum(power_w) * step_s / 3600
    target_met = None
    if car.target_wh is not None:
        target_met = target_reached(sum(power_w[: car.due_step]) * step_s / 3600, car.target_wh)
    return CarResult(car.charger, tuple(power_w), delivered_wh, car.target_wh, target_met)


def _day_result(day: Day, cars_power_w: list[list[float]]) -> DayResult:
    """Score a schedule (each car's power per step) by the site's physics and the tariff."""
    cars = tuple(_car_result(car, power, day.step_s) for car, power in zip(day.cars, cars_power_w, strict=True))
    totals_w = [sum(power[t] for power in cars_power_w) for t in range(len(day.steps))]
    grid_w = tuple(step.house_w + total - step.solar_w for step, total in zip(day.steps, totals_w, strict=True))
    cost = sum(
        step_cost(grid_w=g, price_per_kwh=s.price_per_kwh, feed_in_per_kwh=day.feed_in_per_kwh, step_s=day.step_s)
        for g, s in zip(grid_w, day.steps, strict=True)
    )
    currents = (
        phase_currents_a(
            solar_w=step.solar_w,
            house_w=step.house_w,
            cars=[(car.phases, power[t]) for car, power in zip(day.cars, cars_power_w, strict=True)],
        )
        for t, step in enumerate(day.steps)
    )
    solar_w, house_w = [s.solar_w for s in day.steps], [s.house_w for s in day.steps]
    cars_wh, share = solar_share(solar_w=solar_w, house_w=house_w, cars_w=totals_w, step_s=day.step_s)
    return DayResult(cars, grid_w, cost, cars_wh, share, over_fuse_a_s(currents, fuse_a=day.fuse_a, step_s=day.step_s))


def uncontrolled(day: Day) -> DayResult:
    """A dumb charger: each car draws its maximum from arrival until its need is met, blind to the
    fuse, the tariff and demand response (its fuse overrun is reported, not prevented)."""
    validate(day)
    schedule = []
    for car in day.cars:
        power_w = [0.0] * len(day.steps)
        left_wh = car.need_wh
        full_w = car.max_current_a * VOLTAGE_V * len(car.phases)
        for t in range(car.arrive_step, car.depart_step):
            power_w[t] = min(full_w, left_wh * 3600 / day.step_s)
            left_wh -= power_w[t] * day.step_s / 3600
        schedule.append(power_w)
    return _day_result(day, schedule)


class LinearProgram:
    """Columns and rows of the linear program, built as plain lists and handed to HiGHS once."""

    def __init__(self):
        self.cost: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.rows: list[tuple[float, float, list[int], list[float]]] = []

    def column(self, cost: float, lower: float, upper: float) -> int:
        self.cost.append(cost)
        self.lower.append(lower)
        self.upper.append(upper)
        return len(self.cost) - 1

    def row(self, lower: float, upper: float, terms: dict[int, float]) -> None:
        self.rows.append((lower, upper, list(terms), list(terms.values())))

    def solve(self) -> list[float]:
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        # Tie-breaks between equal slots are worth about 1e-8 a Wh: the default tolerance (1e-7)
        # would let the solver stop at any of them, and a plan would jump from run to run.
        highs.setOptionValue("dual_feasibility_tolerance", 1e-10)
        inf = highs.getInfinity()
        highs.addCols(
            len(self.cost),
            np.array(self.cost, dtype=np.float64),
            np.array([max(v, -inf) for v in self.lower], dtype=np.float64),
            np.array([min(v, inf) for v in self.upper], dtype=np.float64),
            0,
            np.array([], dtype=np.int32),
            np.array([], dtype=np.int32),
            np.array([], dtype=np.float64),
        )
        starts, indices, values = [], [], []
        for _, _, columns, coefficients in self.rows:
            starts.append(len(indices))
            indices += columns
            values += coefficients
        highs.addRows(
            len(self.rows),
            np.array([max(r[0], -inf) for r in self.rows], dtype=np.float64),
            np.array([min(r[1], inf) for r in self.rows], dtype=np.float64),
            len(indices),
            np.array(starts, dtype=np.int32),
            np.array(indices, dtype=np.int32),
            np.array(values, dtype=np.float64),
        )
        highs.run()
        status = highs.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            # Every constraint is softened or clamped, so this means a bug or numbers out of range.
            raise ValueError(f"the day's linear program was not solved: {highs.modelStatusToString(status)}")
        return list(highs.getSolution().col_value)


def optimum(day: Day) -> DayResult:
    """The cheapest schedule with perfect foresight of the day: per-phase fuse, car limits, demand
    response, targets by their deadline and needs by departure (see the module docstring)."""
    validate(day)
    program = LinearProgram()
    inf = math.inf
    # A car's energy in one step per amp of its current.
    wh_per_a = [VOLTAGE_V * len(car.phases) * day.step_s / 3600 for car in day.cars]
    # current[c][t]: car c's current per phase in step t (A); absent outside its stay.
    current: list[dict[int, int]] = []
    for car in day.cars:
        current.append(
            {
                t: program.column(0.0, 0.0, car.max_current_a * day.steps[t].charger_share)
                for t in range(car.arrive_step, car.depart_step)
            }
        )
    for t, step in enumerate(day.steps):
        present = [(i, day.cars[i], columns[t]) for i, columns in enumerate(current) if t in columns]
        if not present:
            continue
        # The cars' energy this step comes from the solar surplus (forgoing its feed-in) or the grid.
        surplus_wh = max(0.0, step.solar_w - step.house_w) * day.step_s / 3600
        from_solar = program.column(day.feed_in_per_kwh / 1000, 0.0, surplus_wh)
        from_grid = program.column(step.price_per_kwh / 1000, 0.0, inf)
        energy = {column: wh_per_a[i] for i, _, column in present}
        program.row(0.0, 0.0, energy | {from_solar: -1, from_grid: -1})
        if step.cars_cap_w is not None:
            cap_wh = step.cars_cap_w * day.step_s / 3600
            program.row(-inf, cap_wh, energy)
        # |net current per phase| <= fuse, two inequalities. The import side never makes a car the
        # cause of a house load the fuse cannot carry (clamped at 0); the export side lets the
        # cars soak up an export beyond the fuse, and counts what they cannot.
        base_a = (step.house_w - step.solar_w) / 3 / VOLTAGE_V
        for phase in PHASES:
            on_phase = {column: 1.0 for _, car, column in present if phase in car.phases}
            if not on_phase:
                continue
            room_a = max(0.0, day.fuse_a - base_a)
            program.row(-inf, room_a if step.cars_cap_a is None else min(room_a, step.cars_cap_a), on_phase)
            if -day.fuse_a - base_a > 0:
                over = program.column(EXPORT_OVER_FUSE_PENALTY_PER_A_S * day.step_s, 0.0, inf)
                program.row(-day.fuse_a - base_a, inf, on_phase | {over: 1.0})
    for i, (car, columns) in enumerate(zip(day.cars, current, strict=True)):
        energy = {column: wh_per_a[i] for column in columns.values()}
        short_of_need = program.column(NEED_SHORT_PENALTY_PER_WH, 0.0, inf)
        program.row(car.need_wh, car.need_wh, energy | {short_of_need: 1.0})
        if car.target_wh is not None:
            short_of_target = program.column(TARGET_SHORT_PENALTY_PER_WH, 0.0, inf)
            by_due = {column: wh_per_a[i] for t, column in columns.items() if t < car.due_step}
            program.row(car.target_wh, inf, by_due | {short_of_target: 1.0})
    solution = program.solve() if program.cost else []
    schedule = []
    for car, columns in zip(day.cars, current, strict=True):
        power_w = [0.0] * len(day.steps)
        for t, column in columns.items():
            power_w[t] = max(0.0, solution[column]) * VOLTAGE_V * len(car.phases)
        schedule.append(power_w)
    return _day_result(day, schedule)
