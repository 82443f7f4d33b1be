"""The day's optimum (a linear program) and the dumb charger beside it, on tiny days whose answer
is known by hand. Hour-long steps, so a step's watts are its watt-hours. No database."""

import pytest

from energy.optimum import (
    PHASES,
    VOLTAGE_V,
    CarInput,
    Day,
    Step,
    optimum,
    phase_currents_a,
    uncontrolled,
)

HOUR = 3600
THREE = PHASES
FEED_IN = 0.05


def car(need_wh, *, phases=THREE, max_a=16.0, arrive=0, depart=None, target_wh=None, target_step=None, steps=2):
    return CarInput(
        charger="c1",
        phases=phases,
        arrive_step=arrive,
        depart_step=steps if depart is None else depart,
        max_current_a=max_a,
        need_wh=need_wh,
        target_wh=target_wh,
        target_step=target_step,
    )


def day(steps, cars, fuse_a=63.0):
    return Day(step_s=HOUR, steps=tuple(steps), cars=tuple(cars), fuse_a=fuse_a, feed_in_per_kwh=FEED_IN)


def powers(result):
    return [[round(p, 3) for p in c.power_w] for c in result.cars]


def test_the_energy_goes_to_the_cheap_night_slot_not_the_expensive_evening():
    steps = [Step(0, 0, 0.40), Step(0, 0, 0.40), Step(0, 0, 0.10)]  # evening, evening, night
    result = optimum(day(steps, [car(9_000, target_wh=9_000, steps=3)]))
    assert powers(result) == [[0, 0, 9_000]]
    assert result.cost == pytest.approx(0.90)
    assert result.cars[0].target_met is True
    # The dumb charger starts at once, at its 11,040 W, and stops when the 9 kWh are in.
    dumb = uncontrolled(day(steps, [car(9_000, target_wh=9_000, steps=3)]))
    assert powers(dumb) == [[9_000, 0, 0]]
    assert dumb.cost == pytest.approx(3.60)


def test_the_car_takes_the_midday_solar_surplus_rather_than_buy_later():
    steps = [Step(8_000, 500, 0.30), Step(0, 500, 0.10)]
    result = optimum(day(steps, [car(7_500)]))
    assert powers(result) == [[7_500, 0]]
    assert result.solar_share == pytest.approx(1.0)
    # Only the house's evening import is paid; the surplus earned nothing (the car took it all).
    assert result.cost == pytest.approx(0.5 * 0.10)
    assert result.grid_w == pytest.approx((0, 500))


def test_a_binding_fuse_is_respected_on_every_phase_and_the_dumb_charger_overruns_it():
    steps = [Step(0, 0, 0.10), Step(0, 0, 0.30)]
    fuse_a = 10.0
    result = optimum(day(steps, [car(10_000)], fuse_a=fuse_a))
    full_w = 10 * VOLTAGE_V * 3  # 6,900 W: 10 A on each phase
    assert powers(result) == [[pytest.approx(full_w), pytest.approx(10_000 - full_w)]]
    assert result.over_fuse_a_s == 0
    assert result.cost == pytest.approx(6.9 * 0.10 + 3.1 * 0.30)
    dumb = uncontrolled(day(steps, [car(10_000)], fuse_a=fuse_a))
    assert powers(dumb) == [[10_000, 0]]  # its 16 A would give 11,040 W: it stops at the need
    per_phase_a = 10_000 / 3 / VOLTAGE_V
    assert dumb.over_fuse_a_s == pytest.approx((per_phase_a - fuse_a) * 3 * HOUR)
    assert dumb.cost == pytest.approx(1.0)


def test_an_infeasible_target_gets_the_most_energy_possible_then_the_cheapest():
    # Two hours at 16 A give 22,080 Wh at most; the owner asked for 30 kWh.
    steps = [Step(0, 0, 0.50), Step(0, 0, 0.50), Step(0, 0, 0.10)]
    result = optimum(day(steps, [car(30_000, target_wh=30_000, target_step=2, steps=3)]))
    full_w = 16 * VOLTAGE_V * 3
    assert powers(result) == [[pytest.approx(full_w), pytest.approx(full_w), pytest.approx(30_000 - 2 * full_w)]]
    assert result.cars[0].target_met is False
    assert result.cars[0].delivered_wh == pytest.approx(30_000)


def test_a_target_outranks_another_cars_need_when_the_fuse_cannot_serve_both():
    steps = [Step(0, 0, 0.10)]
    cars = [
        CarInput("keen", THREE, 0, 1, 16, need_wh=6_900, target_wh=6_900),
        CarInput("idle", THREE, 0, 1, 16, need_wh=6_900),
    ]
    result = optimum(day(steps, cars, fuse_a=10))
    assert [c.delivered_wh for c in result.cars] == [pytest.approx(6_900), pytest.approx(0, abs=1e-6)]
    assert [c.target_met for c in result.cars] == [True, None]


def test_a_one_phase_car_on_l2_loads_only_l2_and_gets_what_l2_has_left():
    steps = [Step(0, 2_300, 0.10)]  # the house: 10/3 A on each phase
    result = optimum(day(steps, [car(20_000, phases=("L2",), max_a=32, steps=1)], fuse_a=16))
    room_a = 16 - 10 / 3
    assert powers(result) == [[pytest.approx(room_a * VOLTAGE_V)]]
    currents = phase_currents_a(solar_w=0, house_w=2_300, cars=[(("L2",), result.cars[0].power_w[0])])
    assert currents == [pytest.approx(10 / 3), pytest.approx(16), pytest.approx(10 / 3)]
    assert result.over_fuse_a_s == 0


@pytest.mark.parametrize(
    ("cheap_step", "expected"),
    [
        pytest.param(Step(0, 0, 0.10, cars_cap_w=2_000), [2_000, 5_000], id="a watt cap on all cars"),
        pytest.param(Step(0, 0, 0.10, charger_share=0.5), [5_520, 1_480], id="half of each charger's maximum"),
        pytest.param(Step(0, 0, 0.10, cars_cap_a=5), [3_450, 3_550], id="5 A a phase for all cars"),
        pytest.param(Step(0, 0, 0.10, charger_share=0.0), [0, 7_000], id="a level that stops the chargers"),
    ],
)
def test_a_demand_response_cap_is_respected_even_in_the_cheap_step(cheap_step, expected):
    steps = [cheap_step, Step(0, 0, 0.30)]
    result = optimum(day(steps, [car(7_000)]))
    assert powers(result) == [[pytest.approx(e, abs=1e-6) for e in expected]]


def test_an_export_beyond_the_fuse_is_soaked_up_by_the_car():
    # 30 kW of solar pushes 43.5 A out on each phase through a 25 A fuse: the car must take 18.5 A.
    steps = [Step(30_000, 0, 0.30)]
    result = optimum(day(steps, [car(20_000, max_a=32, steps=1)], fuse_a=25))
    assert result.cars[0].power_w[0] == pytest.approx(20_000)
    assert result.over_fuse_a_s == 0
    # A car that needs only 5 kWh cannot soak up enough: the rest of the overrun is counted.
    small = optimum(day(steps, [car(5_000, max_a=32, steps=1)], fuse_a=25))
    export_a = (30_000 - 5_000) / 3 / VOLTAGE_V
    assert small.over_fuse_a_s == pytest.approx((export_a - 25) * 3 * HOUR)


def test_a_car_that_departs_early_only_charges_while_it_is_there():
    steps = [Step(0, 0, 0.40), Step(0, 0, 0.10)]
    result = optimum(day(steps, [car(5_000, depart=1)]))
    assert powers(result) == [[5_000, 0]]


@pytest.mark.parametrize(
    ("bad_car", "message"),
    [
        (CarInput("c1", ("L4",), 0, 1, 16, 1000), "phases"),
        (CarInput("c1", ("L1", "L2"), 0, 1, 16, 1000), "phases"),
        (CarInput("c1", THREE, 1, 1, 16, 1000), "arrive before it departs"),
        (CarInput("c1", THREE, 0, 5, 16, 1000), "arrive before it departs"),
        (CarInput("c1", THREE, 0, 1, -1, 1000), "not be negative"),
    ],
)
def test_bad_input_is_refused_with_the_reason(bad_car, message):
    with pytest.raises(ValueError, match=message):
        optimum(day([Step(0, 0, 0.1)], [bad_car]))


@pytest.mark.parametrize(
    ("bad_step", "message"),
    [
        (Step(-1, 0, 0.1), "finite and not negative"),
        (Step(0, float("nan"), 0.1), "finite"),
        (Step(0, 0, 0.1, charger_share=1.5), "charger_share"),
        (Step(0, 0, 0.1, cars_cap_a=-2), "demand-response cap"),
    ],
)
def test_a_bad_step_is_refused_with_the_reason(bad_step, message):
    with pytest.raises(ValueError, match=message):
        uncontrolled(day([bad_step], [car(1_000, steps=1)]))
