"""The day's summary: its trace scored beside the optimum and the dumb charger
(energy/day_score.py, energy/optimum.py), for the same day as the scenario gives it."""

from energy.allocation import NOMINAL_VOLTAGE_V
from energy.day_score import day_summary
from energy.optimum import CarInput, Day, Step, optimum, uncontrolled
from energy.simulation.day import DayResult, step_index_at
from energy.simulation.scenario import Scenario


def optimum_day(scenario: Scenario, result: DayResult) -> Day:
    """The scenario as the optimum reads it, each car on the phases it drew on in the day."""
    steps = tuple(
        Step(solar_w=solar_w, house_w=house_w, price_per_kwh=price, charger_share=share)
        for solar_w, house_w, price, share in zip(
            scenario.solar_w, scenario.house_w, result.prices, result.charger_shares, strict=True
        )
    )
    cars = []
    for n, car in enumerate(scenario.cars):
        charger_max_a = result.charger_max_a[car.charger]
        cars.append(
            CarInput(
                charger=car.charger,
                phases=result.car_phases[n],
                arrive_step=min(step_index_at(scenario, car.arrive), scenario.steps),
                depart_step=min(step_index_at(scenario, car.depart), scenario.steps),
                max_current_a=min(car.max_current_a, charger_max_a),
                need_wh=car.need_wh,
                target_wh=None if car.target is None else car.target.energy_wh,
                target_step=None
                if car.target is None
                else min(step_index_at(scenario, car.target.ready_by), scenario.steps),
            )
        )
    return Day(
        step_s=scenario.step_s,
        steps=steps,
        cars=tuple(cars),
        fuse_a=result.fuse_a,
        feed_in_per_kwh=scenario.feed_in_per_kwh,
    )


def day_summary_of(scenario: Scenario, result: DayResult) -> dict:
    day = optimum_day(scenario, result)
    figures = day_summary(rows=result.rows, day=day, optimal=optimum(day), uncontrolled=uncontrolled(day))
    return {
        "name": scenario.name,
        "hours": scenario.hours,
        "voltage_v": NOMINAL_VOLTAGE_V,
        **figures,
        "profiles_rejected": result.profiles_rejected,
    }
