"""The day's figures from its trace: targets met, cost, the cars' solar share, amp-seconds
over the main fuse, profiles sent per charger per hour."""

from energy.allocation import PHASES
from energy.simulation.day import DayResult, step_index_at
from energy.simulation.scenario import Scenario


def day_summary_of(scenario: Scenario, result: DayResult) -> dict:
    rows, step_h = result.rows, scenario.step_s / 3600
    cost = solar_wh = cars_wh = over_a_s = 0.0
    for row in rows:
        cars_w = sum(float(row[f"{cid}.power_w"]) for cid in result.charger_ids)
        grid_w = float(row["grid_w"])
        price = float(row["price_per_kwh"] or 0)
        cost += (max(grid_w, 0) * price - max(-grid_w, 0) * scenario.feed_in_per_kwh) * step_h / 1000
        surplus_w = max(0.0, float(row["solar_w"]) - float(row["house_w"]))
        solar_wh += min(cars_w, surplus_w) * step_h
        cars_wh += cars_w * step_h
        for phase in PHASES:
            over_a_s += max(0.0, float(row[f"main_{phase.lower()}_a"]) - result.fuse_a) * scenario.step_s
    targets = []
    for n, car in enumerate(scenario.cars):
        if car.target is None:
            continue
        by = min(step_index_at(scenario, car.target.ready_by), len(rows)) - 1
        start = step_index_at(scenario, car.arrive)
        delivered = float(rows[by][f"{car.charger}.energy_wh"]) if by >= start else 0.0
        targets.append({"car": n, "charger": car.charger, "wanted_wh": car.target.energy_wh, "got_wh": delivered})
    met = sum(1 for t in targets if t["got_wh"] >= min(t["wanted_wh"], scenario.cars[t["car"]].need_wh) - 1)
    hours = max(1, round(len(rows) * step_h))
    profiles = {}
    for cid in result.charger_ids:
        sent = [int(row[f"{cid}.profiles_sent"]) for row in rows]
        per_step = [b - a for a, b in zip([0, *sent], sent, strict=False)]
        hour = max(1, round(1 / step_h))
        per_hour = [sum(per_step[h : h + hour]) for h in range(0, len(per_step), hour)]
        profiles[cid] = {"total": sent[-1] if sent else 0, "per_hour_max": max(per_hour, default=0)}
    return {
        "name": scenario.name,
        "hours": hours,
        "targets": {"with": len(targets), "met": met, "cars": targets},
        "cost": round(cost, 4),
        "cars_wh": round(cars_wh, 1),
        "solar_share": round(solar_wh / cars_wh, 4) if cars_wh else None,
        "over_fuse_a_s": round(over_a_s, 1),
        "profiles": profiles,
    }
