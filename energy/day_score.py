"""How good a simulated day was: the trace of the product's control scored beside the optimum and
the dumb charger (energy/optimum.py), and the goals every day must reach. Plain data in, a
JSON-able summary out.

Each trace row is one step of the day (row i = step i); a car's energy is its charger's mean
power over the steps of its stay. `<id>.profiles_sent` counts the profiles sent to a charger so
far, so a rise is one or more profiles sent in that step.

Savings captured compares costs at the same energy per car: the optimum and the dumb charger are
run again with each car's need set to what the control delivered to it (and its target to what
the control reached of it by then). The control's own schedule is then one the optimum could
have chosen, so the optimum's cost is a true lower bound and the share captured at most 1.
Whether the cars got enough is scored apart, by the targets.
"""

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence

from energy.optimum import (
    Day,
    DayResult,
    optimum,
    over_fuse_a_s,
    solar_share,
    step_cost,
    target_reached,
)
from energy.optimum import uncontrolled as uncontrolled_run

PHASE_COLUMNS = ("main_l1_a", "main_l2_a", "main_l3_a")

# The difference between the dumb charger's cost and the optimum's below which there was nothing
# to save: savings captured would divide by about zero, so it is reported as null.
NOTHING_TO_SAVE = 0.01

# The goals of issue 28, for every day.
SAVINGS_CAPTURED_GOAL = 0.95
PROFILES_PER_HOUR_GOAL = 6
PROFILE_SPACING_S = 60


def _number(row: Mapping[str, object], column: str, step: int) -> float:
    """A figure of the trace; a missing or unreadable one is refused, never read as 0."""
    try:
        value = float(row[column])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"trace row {step}: {column} is missing or not a number") from error
    if not math.isfinite(value):
        raise ValueError(f"trace row {step}: {column} is not finite")
    return value


def profiles_sent(sent_so_far: Sequence[float], *, step_s: float) -> dict[str, object]:
    """A charger's profiles: how many, the most within any hour and on average per hour, and
    whether two came within a minute. Two sent in the same step count as within a minute when the
    trace cannot tell them apart (it has one count per step)."""
    sent = []
    before = 0.0
    for count in sent_so_far:
        # A count that falls started again (a new session): all of it is new.
        sent.append(round(count - before) if count >= before else round(count))
        before = count
    window = max(1, math.floor(3600 / step_s))  # steps within one hour
    per_hour_max = max((sum(sent[i : i + window]) for i in range(len(sent))), default=0)
    steps_with = [t for t, n in enumerate(sent) for _ in range(n)]
    close = any((b - a) * step_s < PROFILE_SPACING_S for a, b in itertools.pairwise(steps_with))
    hours = len(sent) * step_s / 3600
    return {
        "total": sum(sent),
        "per_hour_max": per_hour_max,
        "per_hour_mean": round(sum(sent) / hours, 2) if hours else 0.0,
        "two_within_a_minute": close,
    }


def savings_captured(*, cost: float, cost_uncontrolled: float, cost_optimal: float) -> tuple[float | None, str]:
    """(cost uncontrolled - cost) / (cost uncontrolled - cost optimal), or None with the reason
    when the dumb charger cost about what the optimum did."""
    to_save = cost_uncontrolled - cost_optimal
    if to_save < NOTHING_TO_SAVE:
        return None, (
            f"nothing to save: the uncontrolled day costs {cost_uncontrolled:.2f}, the optimum {cost_optimal:.2f} "
            f"(less than {NOTHING_TO_SAVE} apart), so the share captured would divide by about zero"
        )
    return (cost_uncontrolled - cost) / to_save, ""


def _rounded(share: float | None) -> float | None:
    return None if share is None else round(share, 4)


def day_summary(*, rows: Sequence[Mapping[str, object]], day: Day, optimal: DayResult, uncontrolled: DayResult) -> dict:
    """The day's score beside the optimum and the dumb charger, and the goals as booleans."""
    if len(rows) != len(day.steps):
        raise ValueError(f"the trace has {len(rows)} rows for a day of {len(day.steps)} steps")
    chargers = list(dict.fromkeys(car.charger for car in day.cars))
    power_w = {c: [_number(row, f"{c}.power_w", t) for t, row in enumerate(rows)] for c in chargers}
    hours_wh = day.step_s / 3600

    cost = sum(
        step_cost(
            grid_w=_number(row, "grid_w", t),
            price_per_kwh=_number(row, "price_per_kwh", t),
            feed_in_per_kwh=day.feed_in_per_kwh,
            step_s=day.step_s,
        )
        for t, row in enumerate(rows)
    )
    cars_w = [sum(power_w[c][t] for c in chargers) for t in range(len(rows))]
    cars_wh, share = solar_share(
        solar_w=[_number(row, "solar_w", t) for t, row in enumerate(rows)],
        house_w=[_number(row, "house_w", t) for t, row in enumerate(rows)],
        cars_w=cars_w,
        step_s=day.step_s,
    )
    over_a_s = over_fuse_a_s(
        ([_number(row, column, t) for column in PHASE_COLUMNS] for t, row in enumerate(rows)),
        fuse_a=day.fuse_a,
        step_s=day.step_s,
    )

    cars, same_energy = [], []
    for car, best in zip(day.cars, optimal.cars, strict=True):
        delivered_wh = sum(power_w[car.charger][car.arrive_step : car.depart_step]) * hours_wh
        by_due_wh = sum(power_w[car.charger][car.arrive_step : car.due_step]) * hours_wh
        met = None if car.target_wh is None else target_reached(by_due_wh, car.target_wh)
        cars.append(
            {
                "charger": car.charger,
                "delivered_wh": round(delivered_wh, 1),
                "target_wh": car.target_wh,
                "target_met": met,
                # A target is feasible when the optimum of the day as given meets it.
                "target_feasible": best.target_met,
                "delivered_wh_optimal_as_given": round(best.delivered_wh, 1),
            }
        )
        # The same car as the day's control charged it: the energy it got, and of its target
        # what the control reached by then.
        target_wh = None if car.target_wh is None else min(car.target_wh, by_due_wh)
        same_energy.append(dataclasses.replace(car, need_wh=delivered_wh, target_wh=target_wh))
    with_target = [c for c in cars if c["target_wh"] is not None]
    feasible = [c for c in with_target if c["target_feasible"]]
    met = [c for c in with_target if c["target_met"]]

    # Costs compare the same energy per car: a policy that gives a car without a target less
    # (solar only, say) is not a saving, and a control that missed a target is not compared
    # with an optimum that met it (the targets are scored on their own above).
    equal = dataclasses.replace(day, cars=tuple(same_energy))
    optimal_equal, uncontrolled_equal = optimum(equal), uncontrolled_run(equal)
    captured, captured_note = savings_captured(
        cost=cost, cost_uncontrolled=uncontrolled_equal.cost, cost_optimal=optimal_equal.cost
    )
    profiles = {
        c: profiles_sent([_number(row, f"{c}.profiles_sent", t) for t, row in enumerate(rows)], step_s=day.step_s)
        for c in chargers
    }
    goals = {
        "targets_met_where_feasible": all(c["target_met"] for c in feasible),
        # With nothing to save, the day reaches the goal when it cost no more than the optimum.
        "savings_captured_95": (
            captured >= SAVINGS_CAPTURED_GOAL if captured is not None else cost <= optimal_equal.cost + NOTHING_TO_SAVE
        ),
        "no_fuse_overrun": over_a_s == 0,
        "profiles_per_hour_6": all(p["per_hour_max"] <= PROFILES_PER_HOUR_GOAL for p in profiles.values()),
        "never_two_in_a_minute": not any(p["two_within_a_minute"] for p in profiles.values()),
    }
    goals["all"] = all(goals.values())
    return {
        "targets": {
            "with": len(with_target),
            "met": len(met),
            "met_percent": round(100 * len(met) / len(with_target), 1) if with_target else None,
            "feasible": len(feasible),
            "met_where_feasible": sum(1 for c in feasible if c["target_met"]),
        },
        "cars": cars,
        "cars_wh": round(cars_wh, 1),
        "cost": round(cost, 4),
        "cost_uncontrolled": round(uncontrolled_equal.cost, 4),
        "cost_optimal": round(optimal_equal.cost, 4),
        "savings_captured": None if captured is None else round(captured, 4),
        "savings_captured_note": captured_note,
        "solar_share": _rounded(share),
        "solar_share_optimal": _rounded(optimal_equal.solar_share),
        "over_fuse_a_s": round(over_a_s, 1),
        # The day as the scenario gives it (every car's whole need): what was possible at best,
        # and what a dumb charger would have done.
        "as_given": {
            "cars_wh_optimal": round(optimal.cars_wh, 1),
            "cost_optimal": round(optimal.cost, 4),
            "solar_share_optimal": _rounded(optimal.solar_share),
            "cars_wh_uncontrolled": round(uncontrolled.cars_wh, 1),
            "cost_uncontrolled": round(uncontrolled.cost, 4),
            "over_fuse_a_s_uncontrolled": round(uncontrolled.over_fuse_a_s, 1),
        },
        "profiles": profiles,
        "goals": goals,
    }
