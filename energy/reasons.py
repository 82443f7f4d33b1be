"""Why a charger has the limit it has, as one short plain sentence built from numbers.

Every decision keeps one of these sentences (LimitDecision.reason, ChargerControl.limit_reason) and the
pages show it as it is: "main meter silent since 21:37:05 — held at 6 A for safety". Sentences
start in lower case and end without a full stop, so a page can set them in a line of its own
or after a colon. Numbers are written for people ("1,400 W", "6 A"); a time is the site's
clock, so callers pass times already in the site's zone.
"""

import datetime as dt

# --- numbers ------------------------------------------------------------------------------------


def watts(value_w: float) -> str:
    return f"{round(value_w):,} W"


def amps(value_a: float) -> str:
    return f"{round(value_a, 1):g} A"


def kwh(value_wh: float) -> str:
    return f"{value_wh / 1000:.1f} kWh"


def hertz(value_hz: float) -> str:
    return f"{round(value_hz, 2):g} Hz"


def clock(at: dt.datetime) -> str:
    """An instant on the site's clock, to the second."""
    return f"{at:%H:%M:%S}"


def time_of_day(at: dt.time | dt.datetime) -> str:
    """A planned time of day (ready by, a tariff period's start): always on the minute."""
    return f"{at:%H:%M}"


def duration(seconds: float) -> str:
    whole = max(0, round(seconds))
    minutes, rest = divmod(whole, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min" if not rest else f"{minutes} min {rest} s"


# --- the allocation -----------------------------------------------------------------------------


def no_car_wants_power() -> str:
    return "no car wants to charge"


def charger_maximum(max_a: float) -> str:
    return f"at the charger's maximum of {amps(max_a)}"


def charger_below_car_minimum(max_a: float, min_a: float) -> str:
    return f"the charger's maximum of {amps(max_a)} is below the {amps(min_a)} a car needs"


def car_draws_only(measured_a: float) -> str:
    return f"the car draws only {amps(measured_a)}"


def shared_fairly() -> str:
    return "shared fairly with the other chargers"


def fuse_name(name: str, limit_a: float) -> str:
    """A fuse as the sentences name it: "the main fuse (25 A)", "the garage fuse (16 A)"."""
    return f"the {name} fuse ({amps(limit_a)})"


def fuse_full(fuse: str, phase: str, *, other_load: bool) -> str:
    """A fuse that gives no more: `fuse` as fuse_name writes it. Other load (the house, a
    charger we cannot steer) is named but not measured: the sentence stays the same from one
    meter reading to the next."""
    partly = ", partly by the house" if other_load else ""
    return f"{fuse} is fully used on {phase}{partly}"


def no_room(limit: str, need: str) -> str:
    """A limit the other chargers already use: `limit` names it ("the main fuse (25 A) on L1"),
    `need` is what this car would need of it ("6 A", "4,140 W")."""
    return f"paused: {limit} has no room for the {need} a car needs"


def power_budget_name(label: str, budget_w: float) -> str:
    return f"the {label} budget of {watts(budget_w)}"


# --- solar --------------------------------------------------------------------------------------


def solar_no_reading() -> str:
    return "no recent meter reading shows a solar surplus"


def solar_charging(surplus_w: float) -> str:
    return f"solar surplus is {watts(surplus_w)}"


def solar_stopping(surplus_w: float, min_w: float, stop_delay_s: float) -> str:
    stops = f"charging stops if it stays low for {duration(stop_delay_s)}"
    return f"solar surplus {watts(surplus_w)} is below {watts(min_w)}: {stops}"


def solar_starting(surplus_w: float, start_delay_s: float) -> str:
    return f"solar surplus {watts(surplus_w)} is enough: charging starts once it lasts {duration(start_delay_s)}"


def solar_too_low(surplus_w: float, min_w: float) -> str:
    return f"solar surplus {watts(surplus_w)} is below the {watts(min_w)} needed to start"


def solar_with_grid(surplus_w: float, max_grid_w: float) -> str:
    return f"solar surplus {watts(surplus_w)} plus up to {watts(max_grid_w)} from the grid"


def solar_grid_minimum(minimum_w: float, surplus_w: float) -> str:
    return f"charging at the {watts(minimum_w)} grid minimum: solar surplus is {watts(surplus_w)}"


# --- time of use --------------------------------------------------------------------------------


def _rate(period: str) -> str:
    """A tariff period as a rate: "off_peak" -> "the off peak rate"."""
    return f"the {period.replace('_', ' ')} rate"


def tou_solar_only(surplus_w: float) -> str:
    """Outside the plan's slots a car still takes the solar surplus, never the grid."""
    return f"charging on solar surplus only ({watts(surplus_w)}): the grid waits for the planned cheap hours"


# --- the site's plan (energy/planner.py) -------------------------------------------------------

CURRENCY_SIGNS = {"GBP": "£", "EUR": "€", "USD": "$"}


def money(amount: float, currency: str) -> str:
    sign = CURRENCY_SIGNS.get(currency.upper())
    return f"{sign}{amount:,.2f}" if sign else f"{amount:,.2f} {currency}"


def _when(period: str) -> str:
    return _rate(period) if period else "the planned hours"


def mode_off() -> str:
    return "charging is off: the owner's mode"


def mode_solar() -> str:
    return "solar mode: the solar surplus only"


def plan_target_reached() -> str:
    return "the target is reached: only the solar surplus from here on"


def plan_charging(period: str, needed_wh: float, ready_by: dt.datetime) -> str:
    return f"charging now at {_when(period)}: {kwh(needed_wh)} still needed by {time_of_day(ready_by)}"


def plan_waiting(period: str, starts_at: dt.datetime, needed_wh: float, ready_by: dt.datetime) -> str:
    """`starts_at` on the site's clock: when the plan next takes the grid."""
    waiting = f"waiting for {_when(period)} at {time_of_day(starts_at)}"
    return f"{waiting}, {kwh(needed_wh)} still needed by {time_of_day(ready_by)}"


def plan_solar_will_do(needed_wh: float, ready_by: dt.datetime) -> str:
    needed = f"the {kwh(needed_wh)} still needed by {time_of_day(ready_by)}"
    return f"the solar forecast covers {needed}: no grid energy planned"


def plan_short(needed_wh: float, planned_wh: float, ready_by: dt.datetime) -> str:
    return (
        f"charging as fast as allowed: only {kwh(planned_wh)} of the {kwh(needed_wh)} needed fits before "
        f"{time_of_day(ready_by)}"
    )


def plan_preferred_now(period: str) -> str:
    return f"charging at {_when(period)}"


def plan_preferred_waiting(period: str, starts_at: dt.datetime) -> str:
    return f"waiting for {_when(period)} at {time_of_day(starts_at)}"


def plan_no_grid() -> str:
    return "no grid energy planned: charging on the solar surplus only"


def plan_summary(
    spans: list[tuple[dt.datetime, dt.datetime]], *, ready_by: dt.datetime | None, cost: str, short_wh: float
) -> str:
    """The homeowner's line: "charging 00:00–03:30, ready by 07:00 at £1.80". Spans on the site's clock."""
    if not spans:
        text = "no grid charging planned"
    else:
        shown = ", ".join(f"{time_of_day(a)}–{time_of_day(b)}" for a, b in spans[:3])
        more = f" and {len(spans) - 3} more" if len(spans) > 3 else ""
        text = f"charging {shown}{more}"
    if ready_by is not None:
        ready = (
            f"ready by {time_of_day(ready_by)}" if not short_wh else f"{kwh(short_wh)} short at {time_of_day(ready_by)}"
        )
        text += f", {ready}"
    return f"{text} at {cost}" if spans else text


# --- grid and the fail-safe ---------------------------------------------------------------------


def grid_level(level: str, percent: int) -> str:
    if percent <= 0:
        return f"the grid operator asks to stop charging (level {level})"
    if percent >= 100:
        return f"the grid operator sets no limit (level {level})"
    return f"the grid operator asks for at most {percent} % of full power (level {level})"


def grid_frequency_low(frequency_hz: float, threshold_hz: float) -> str:
    low = f"grid frequency {hertz(frequency_hz)} is at or below {hertz(threshold_hz)}"
    return f"{low}: charging stops to support the grid"


def grid_frequency_high(frequency_hz: float, threshold_hz: float) -> str:
    return f"grid frequency {hertz(frequency_hz)} is at or above {hertz(threshold_hz)}: full power to absorb it"


# What OCPP 2.0.1's chargingLimitSource names, in words.
LIMIT_SETTERS = {"EMS": "the home's energy manager", "SO": "the grid operator", "CSO": "the charging operator"}


def external_limit(source: str, limit_w: float) -> str:
    """A limit set on the charger outside this server (NotifyChargingLimit), which it obeys."""
    return f"{LIMIT_SETTERS.get(source, 'another system')} limits this charger to {watts(limit_w)}"


def meter_silent(since: dt.datetime, current_a: float) -> str:
    """The fail-safe: `since` is the last main-meter reading, on the site's clock."""
    held = f"held at {amps(current_a)}" if current_a > 0 else "charging stopped"
    return f"main meter silent since {clock(since)} — {held} for safety"
