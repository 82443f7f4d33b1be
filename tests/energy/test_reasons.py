"""The reasons people read for a charger's limit: a table of inputs and the sentence each gives,
through the functions that decide (allocation, solar, time of use, grid, the fail-safe)."""

import datetime as dt
import zoneinfo

import pytest

from energy import reasons
from energy.allocation import ChargerDemand, Constraint, Fuse, allocate, fuse_constraints, power_budget
from energy.control import ChargerState, SiteInputs, site_decisions
from energy.grid import grid_limit_percent
from energy.solar import SolarSettings, SolarState, solar_budget
from energy.sources import LimitSource, source_label

UTC = dt.UTC
LONDON = zoneinfo.ZoneInfo("Europe/London")
NOW = dt.datetime(2026, 1, 13, 21, 37, 5, tzinfo=UTC)


def car(id="car", phases=("L1",), max_current_a=32.0, **extra) -> ChargerDemand:
    return ChargerDemand(id=id, fuse_id="main", phases=phases, max_current_a=max_current_a, **extra)


MAIN = Fuse("main", 40, name="main")
GRID_STOP = "the grid operator asks to stop charging (level high)"


def allocated(chargers, constraints=(), fuses=(MAIN,)) -> tuple[str, str]:
    """(source, reason) of the last charger."""
    result = allocate(chargers, fuse_constraints(list(fuses), chargers) + list(constraints))[chargers[-1].id]
    return result.source, result.reason


def solar(*, surplus, charging=False, since_s=0, **settings) -> str:
    state = SolarState(charging=charging, above_since=NOW - dt.timedelta(seconds=since_s))
    return solar_budget(state=state, surplus=surplus, settings=SolarSettings(**settings), now=NOW)[2]


def at_local(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 1, 14, hour, minute, tzinfo=LONDON)


def failsafe(current_a: float) -> tuple[str, str]:
    since = reasons.meter_silent(NOW.astimezone(zoneinfo.ZoneInfo("Europe/Paris")), current_a)
    decision = site_decisions(
        SiteInputs(
            fuses=[Fuse("main", 63, name="main")],
            chargers=[ChargerState(id="a", fuse_id="main", phases=1, max_power_w=7400, wants_power=True)],
            failsafe_current_a=current_a,
            failsafe_reason=since,
        )
    )["a"]
    return decision.source, decision.reason


CASES = [
    # numbers for people
    ("watts have a thousands separator", lambda: reasons.watts(1400.4), "1,400 W"),
    ("whole amps have no decimals", lambda: reasons.amps(6.0), "6 A"),
    ("amps keep one decimal", lambda: reasons.amps(32.17), "32.2 A"),
    ("a delay in whole minutes", lambda: reasons.duration(300), "5 min"),
    ("a delay in minutes and seconds", lambda: reasons.duration(90), "1 min 30 s"),
    ("a short delay in seconds", lambda: reasons.duration(45), "45 s"),
    # the fail-safe: its own source, the site's clock to the second
    (
        "a silent meter holds the car for safety, on the site's clock",
        lambda: failsafe(6),
        ("failsafe", "main meter silent since 22:37:05 — held at 6 A for safety"),
    ),
    (
        "a fail-safe of 0 A says charging stopped",
        lambda: failsafe(0),
        ("failsafe", "main meter silent since 22:37:05 — charging stopped for safety"),
    ),
    # the allocation
    (
        "a car alone on a big fuse gets the charger's maximum",
        lambda: allocated([car()], fuses=[Fuse("main", 63, name="main")]),
        ("charger", "at the charger's maximum of 32 A"),
    ),
    (
        "a fuse that binds names itself, its size and the phase",
        lambda: allocated([car()], fuses=[Fuse("main", 25, name="main")]),
        ("circuit", "the main fuse (25 A) is fully used on L1"),
    ),
    (
        "the house's share of a fuse is said without a changing number",
        lambda: allocated([car()], fuses=[Fuse("main", 25, name="main", other_load_a={"L1": 9.3})]),
        ("circuit", "the main fuse (25 A) is fully used on L1, partly by the house"),
    ),
    (
        "a circuit is named by its name",
        lambda: allocated(
            [ChargerDemand("car", "garage", ("L2",), 32.0)],
            fuses=[Fuse("main", 63, name="main"), Fuse("garage", 16, ("L2",), "main", name="garage")],
        ),
        ("circuit", "the garage fuse (16 A) is fully used on L2"),
    ),
    (
        "a fuse the other car uses pauses the second one",
        lambda: allocated([car("first", turn=0), car("second", turn=1)], fuses=[Fuse("main", 10, name="main")]),
        ("circuit", "paused: the main fuse (10 A) on L1 has no room for the 6 A a car needs"),
    ),
    (
        "a fuse the house fills entirely says so",
        lambda: allocated([car()], fuses=[Fuse("main", 25, name="main", other_load_a={"L1": 25})]),
        ("circuit", "the main fuse (25 A) is fully used on L1, partly by the house"),
    ),
    (
        "a car that draws less than it is offered",
        lambda: allocated([car(measured_current_a=3.24, current_limit_a=16)]),
        ("demand", "the car draws only 3.2 A"),
    ),
    (
        "a charger too small for any car",
        lambda: allocated([car(max_current_a=4.35)]),
        ("charger", "the charger's maximum of 4.3 A is below the 6 A a car needs"),
    ),
    ("no car, no charge", lambda: allocated([car(wants_power=False)]), ("idle", "no car wants to charge")),
    (
        "a solar budget too small for three phases pauses with both numbers",
        lambda: allocated(
            [car(phases=("L1", "L2", "L3"))],
            [power_budget("solar surplus is 2,000 W", "solar", 2000, [car(phases=("L1", "L2", "L3"))])],
        ),
        ("solar", "paused: the solar charging budget of 2,000 W has no room for the 4,140 W a car needs"),
    ),
    (
        "a limit that gives nothing explains itself with its own sentence",
        lambda: allocated([car()], [Constraint(GRID_STOP, "grid", 0, {"car": 1})]),
        ("grid", GRID_STOP),
    ),
    # solar: one sentence per state, never glued
    ("solar surplus while charging", lambda: solar(surplus=3012.6, charging=True), "solar surplus is 3,013 W"),
    (
        "solar surplus fell while charging: it stops after the delay",
        lambda: solar(surplus=0, charging=True),
        "solar surplus 0 W is below 1,400 W: charging stops if it stays low for 5 min",
    ),
    (
        "enough solar surplus starts after the delay",
        lambda: solar(surplus=1600),
        "solar surplus 1,600 W is enough: charging starts once it lasts 1 min",
    ),
    (
        "too little solar surplus to start",
        lambda: solar(surplus=800),
        "solar surplus 800 W is below the 1,400 W needed to start",
    ),
    ("no meter reading yet", lambda: solar(surplus=None), "no recent meter reading shows a solar surplus"),
    (
        "mixed mode adds the grid",
        lambda: solar(surplus=1200, mode="mixed"),
        "solar surplus 1,200 W plus up to 3,000 W from the grid",
    ),
    (
        "solar priority tops up to the grid minimum",
        lambda: solar(surplus=500, mode="solar_priority"),
        "charging at the 1,400 W grid minimum: solar surplus is 500 W",
    ),
    # the plan: the site's clock, the rate's name in words
    (
        "waiting for the cheap rate",
        lambda: reasons.plan_waiting("off_peak", at_local(0), 20000, at_local(7)),
        "waiting for the off peak rate at 00:00, 20.0 kWh still needed by 07:00",
    ),
    (
        "charging in the cheap rate",
        lambda: reasons.plan_charging("off_peak", 7000, at_local(7)),
        "charging now at the off peak rate: 7.0 kWh still needed by 07:00",
    ),
    (
        "a posted price has no period's name",
        lambda: reasons.plan_waiting("", at_local(2, 30), 7000, at_local(7)),
        "waiting for the planned hours at 02:30, 7.0 kWh still needed by 07:00",
    ),
    (
        "a target that cannot fit says how much will",
        lambda: reasons.plan_short(28000, 14000, at_local(7)),
        "charging as fast as allowed: only 14.0 kWh of the 28.0 kWh needed fits before 07:00",
    ),
    ("a reached target", reasons.plan_target_reached, "the target is reached: only the solar surplus from here on"),
    (
        "the sun will do",
        lambda: reasons.plan_solar_will_do(10000, at_local(19)),
        "the solar forecast covers the 10.0 kWh still needed by 19:00: no grid energy planned",
    ),
    ("time of use without a target", lambda: reasons.plan_preferred_now("off_peak"), "charging at the off peak rate"),
    ("the owner's mode off", reasons.mode_off, "charging is off: the owner's mode"),
    ("the owner's mode solar", reasons.mode_solar, "solar mode: the solar surplus only"),
    (
        "the plan for the homeowner",
        lambda: reasons.plan_summary([(at_local(0), at_local(2))], ready_by=at_local(7), cost="£1.18", short_wh=0),
        "charging 00:00–02:00, ready by 07:00 at £1.18",
    ),
    (
        "a plan that falls short says by how much",
        lambda: reasons.plan_summary([(at_local(5), at_local(7))], ready_by=at_local(7), cost="£3.00", short_wh=4000),
        "charging 05:00–07:00, 4.0 kWh short at 07:00 at £3.00",
    ),
    # grid response
    (
        "a moderate level halves",
        lambda: grid_limit_percent(level="moderate"),
        (50, "the grid operator asks for at most 50 % of full power (level moderate)"),
    ),
    (
        "a high level stops",
        lambda: grid_limit_percent(level="high"),
        (0, "the grid operator asks to stop charging (level high)"),
    ),
    (
        "a sagging frequency stops",
        lambda: grid_limit_percent(level="normal", frequency_hz=49.4, frequency_response=True),
        (0, "grid frequency 49.4 Hz is at or below 49.5 Hz: charging stops to support the grid"),
    ),
    (
        "a high frequency lifts a level cap",
        lambda: grid_limit_percent(level="moderate", frequency_hz=50.62, frequency_response=True),
        (100, "grid frequency 50.62 Hz is at or above 50.5 Hz: full power to absorb it"),
    ),
]


@pytest.mark.parametrize(("name", "sentence", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_decision_reads_as_one_plain_sentence(name, sentence, expected):
    assert sentence() == expected


@pytest.mark.parametrize(
    ("source", "label"),
    [
        (LimitSource.FAILSAFE, "meter fail-safe"),
        ("circuit", "fuse limit"),
        ("tou", "time-of-use plan"),
        ("none", "charger's maximum"),
        ("", "charger's maximum"),
        ("something new", "something new"),
    ],
)
def test_every_source_has_a_plain_label(source, label):
    assert source_label(source) == label
