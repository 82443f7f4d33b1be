"""The Now page's chart of the next hours and the site's live flow, as plain functions: rows in,
SVG numbers out, no database. Nothing outside physics (NaN, infinities, negative solar, a
meter's 1e15 W, a plan that is not a plan) reaches the page."""

import datetime as dt
import math
import re
import zoneinfo

import pytest

from sessions.measurands import POWER_MAX_W
from sessions.plan_chart import (
    BOTTOM,
    HEIGHT,
    LEFT,
    RIGHT,
    TOP,
    WIDTH,
    SiteFlow,
    Step,
    describe_plan_chart,
    plan_chart,
    plan_chart_svg,
    plan_steps,
    price_steps,
    site_flow,
    solar_steps,
)

LONDON = zoneinfo.ZoneInfo("Europe/London")
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)  # 13:00 in London (BST)
END = NOW + dt.timedelta(hours=12)
WINDOW = {"start": NOW, "end": END}
Q = dt.timedelta(minutes=15)
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


def unix(at: dt.datetime) -> int:
    return int(at.timestamp())


def slot(i: int, value: object) -> tuple[dt.datetime, dt.datetime, object]:
    return (NOW + i * Q, NOW + (i + 1) * Q, value)


def numbers(svg: str) -> list[str]:
    return re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?|nan|inf", svg, flags=re.IGNORECASE)


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        (3000.0, 3000.0),
        (0.0, 0.0),
        (float("nan"), None),
        (float("inf"), None),
        (-250.0, None),  # a forecast cannot be negative: left out, not drawn at 0
        (1e15, None),  # beyond any roof
        ("3000", None),  # not a number
        (None, None),
        (True, None),
    ],
)
def test_a_solar_forecast_slot_is_drawn_only_when_its_value_is_inside_physics(value, kept):
    steps = solar_steps([slot(0, value)], **WINDOW)
    assert [s.value for s in steps] == ([kept] if kept is not None else [])


def test_forecast_slots_are_cut_to_the_window_and_those_outside_it_are_left_out():
    rows = [slot(-2, 100), slot(-1, 200), (NOW - Q / 3, NOW + 2 * Q / 3, 300), slot(47, 400), slot(48, 500)]
    assert solar_steps(rows, **WINDOW) == [
        Step(NOW, NOW + 2 * Q / 3, 300),
        Step(END - Q, END, 400),
    ]


def test_prices_keep_negative_prices_and_leave_out_what_no_tariff_charges():
    rows = [slot(0, -0.05), slot(1, 0.3), slot(2, float("nan")), slot(3, 1e6), slot(4, None)]
    assert [s.value for s in price_steps(rows, **WINDOW)] == [-0.05, 0.3]


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        (None, []),
        ("charging 00:00-03:30", []),
        ({"slots": []}, []),
        ([], []),
        # Slot i ends where slot i+1 starts; the last one 15 minutes after its own start.
        (
            [[unix(NOW), 7400], [unix(NOW + Q), 3700]],
            [Step(NOW, NOW + Q, 7400), Step(NOW + Q, NOW + 2 * Q, 3700)],
        ),
        # Out of order in storage: drawn in time order.
        (
            [[unix(NOW + Q), 3700], [unix(NOW), 7400]],
            [Step(NOW, NOW + Q, 7400), Step(NOW + Q, NOW + 2 * Q, 3700)],
        ),
        # Malformed entries, NaN, negative and absurd power, a time no calendar holds: left out.
        (
            [
                [unix(NOW), float("nan")],
                [unix(NOW), -5],
                [unix(NOW), 1e15],
                [unix(NOW)],
                ["soon", 7400],
                [1e20, 7400],
                [float("inf"), 7400],
                [unix(NOW), True],
                7400,
                [unix(NOW + Q), 2000],
            ],
            [Step(NOW + Q, NOW + 2 * Q, 2000)],
        ),
        # A plan that began before now is drawn from now; one past the window's end, to the end.
        (
            [[unix(NOW - Q), 1000], [unix(NOW + Q / 3), 2000], [unix(END - Q / 3), 3000]],
            [Step(NOW, NOW + Q / 3, 1000), Step(NOW + Q / 3, END - Q / 3, 2000), Step(END - Q / 3, END, 3000)],
        ),
    ],
)
def test_a_stored_plan_becomes_steps_and_whatever_is_not_a_plan_slot_is_left_out(plan, expected):
    assert plan_steps(plan, **WINDOW) == expected


def x_of(at: dt.datetime) -> float:
    return LEFT + PLOT_W * (at - NOW).total_seconds() / (END - NOW).total_seconds()


def test_the_chart_draws_the_forecast_as_slots_from_the_zero_line_on_a_whole_kilowatt_axis():
    solar = [Step(NOW, NOW + Q, 2000.0), Step(NOW + Q, NOW + 2 * Q, 0.0), Step(NOW + 4 * Q, NOW + 5 * Q, 4000.0)]
    chart = plan_chart(tz=LONDON, solar=solar, plans=[], prices=[], **WINDOW)

    assert chart.top_kw == 5  # 4.4 kW with headroom, in steps of 1 kW
    assert [label for _, label in chart.kw_ticks] == ["0", "1", "2", "3", "4", "5"]
    base, y2, y4 = TOP + PLOT_H, TOP + PLOT_H * (1 - 2 / 5), TOP + PLOT_H * (1 - 4 / 5)
    # The zero slot draws nothing; the others are rectangles from the zero line.
    assert chart.solar_area == (
        f"M{x_of(NOW):.1f},{base:.1f}V{y2:.1f}H{x_of(NOW + Q):.1f}V{base:.1f}Z"
        f"M{x_of(NOW + 4 * Q):.1f},{base:.1f}V{y4:.1f}H{x_of(NOW + 5 * Q):.1f}V{base:.1f}Z"
    )
    # Whole hours on the site's wall clock (BST, 13:00 to 01:00), every two.
    assert [label for _, label in chart.time_ticks] == ["14:00", "16:00", "18:00", "20:00", "22:00", "00:00"]
    assert chart.time_ticks[0][0] == x_of(NOW + dt.timedelta(hours=1))


def test_each_plan_is_a_step_line_that_breaks_where_its_slots_do_not_follow_on():
    plan = [Step(NOW, NOW + Q, 7400.0), Step(NOW + Q, NOW + 2 * Q, 3700.0), Step(NOW + 8 * Q, NOW + 9 * Q, 7400.0)]
    chart = plan_chart(tz=LONDON, solar=[], plans=[("Garage", plan), ("Drive", [])], prices=[], **WINDOW)

    assert chart.top_kw == 10  # 8.14 kW with headroom, in steps of 2 kW
    y74, y37 = TOP + PLOT_H * (1 - 7.4 / 10), TOP + PLOT_H * (1 - 3.7 / 10)
    garage, drive = chart.plans
    assert (garage.name, garage.css, drive.name, drive.css, drive.path) == ("Garage", "plan-0", "Drive", "plan-1", "")
    assert garage.path == (
        f"M{x_of(NOW):.1f},{y74:.1f}H{x_of(NOW + Q):.1f}V{y37:.1f}H{x_of(NOW + 2 * Q):.1f}"
        f"M{x_of(NOW + 8 * Q):.1f},{y74:.1f}H{x_of(NOW + 9 * Q):.1f}"
    )


def test_prices_get_their_own_axis_on_the_right_from_zero_or_the_lowest_negative_price():
    prices = [Step(NOW, NOW + Q, -0.05), Step(NOW + Q, NOW + 2 * Q, 0.30)]
    chart = plan_chart(tz=LONDON, solar=[], plans=[], prices=prices, **WINDOW)

    assert [label for _, label in chart.price_ticks] == ["-0.10", "0.00", "0.10", "0.20", "0.30"]
    y_low, y_high = TOP + PLOT_H * (1 - 0.05 / 0.4), TOP
    assert chart.price_line == f"M{LEFT:.1f},{y_low:.1f}H{x_of(NOW + Q):.1f}V{y_high:.1f}H{x_of(NOW + 2 * Q):.1f}"


def test_one_flat_price_still_gets_an_axis():
    chart = plan_chart(tz=LONDON, solar=[], plans=[], prices=[Step(NOW, NOW + Q, 0.25)], **WINDOW)
    assert [label for _, label in chart.price_ticks] == ["0.00", "0.10", "0.20", "0.30"]


def test_rows_with_nan_negative_and_absurd_values_leave_no_nan_or_giant_number_in_the_svg():
    solar = solar_steps(
        [slot(0, float("nan")), slot(1, -1e9), slot(2, 1e300), slot(3, 1500.0), slot(4, float("-inf"))], **WINDOW
    )
    plans = [("Garage", plan_steps([[unix(NOW), float("inf")], [1e300, 5], [unix(NOW + Q), 1e12]], **WINDOW))]
    prices = price_steps([slot(0, float("nan")), slot(1, 1e40)], **WINDOW)
    chart = plan_chart(tz=LONDON, solar=solar, plans=plans, prices=prices, **WINDOW)
    svg = plan_chart_svg(
        chart, title="Next hours", description=describe_plan_chart(solar=solar, plans=plans, prices=prices, tz=LONDON)
    )

    assert chart.top_kw == 2
    assert chart.plans[0].path == "" and chart.price_line == ""
    found = numbers(svg)
    assert not [n for n in found if not math.isfinite(float(n)) or abs(float(n)) > 10_000], found
    assert svg.count('class="solar-forecast"') == 2  # the slot and the legend's swatch
    assert "Solar forecast peaking at 1.5 kW at 13:45." in svg


def test_the_svg_escapes_charger_names_and_says_so_when_there_is_nothing_to_draw():
    chart = plan_chart(tz=LONDON, solar=[], plans=[("<b>Garage</b>", [])], prices=[], **WINDOW)
    svg = plan_chart_svg(chart, title="The <next> hours", description="No solar forecast.")
    assert "<b>" not in svg and "The &lt;next&gt; hours" in svg
    assert "No forecast, plan or prices for the next hours yet" in svg
    assert "solar-forecast" not in svg and "Plan:" not in svg  # no legend for what is not drawn


def test_an_empty_or_backwards_window_still_draws_an_hour():
    chart = plan_chart(start=NOW, end=NOW, tz=LONDON, solar=[], plans=[], prices=[])
    assert chart.end == NOW + dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("reading", "powers", "expected"),
    [
        # Exporting 2 kW in sun while a car takes 3 kW: the house (cars included) is 4 kW.
        ({"solar_w": 6000, "house_w": 4000, "grid_w": -2000}, [3000, None], SiteFlow(6000, 1000, -2000, 3000)),
        # No house meter: consumption is grid + solar.
        ({"solar_w": 6000, "house_w": None, "grid_w": -2000}, [3000], SiteFlow(6000, 1000, -2000, 3000)),
        # An inverter's night draw reads 0 solar; no charger reports power: cars unknown.
        ({"solar_w": -15, "house_w": 500, "grid_w": 515}, [None], SiteFlow(0, 500, 515, None)),
        # Nothing believable: NaN, infinities, a meter's 1e15 W, a negative car.
        (
            {"solar_w": float("nan"), "house_w": 1e15, "grid_w": float("-inf")},
            [-7000, float("nan"), 1e12],
            SiteFlow(None, None, None, None),
        ),
        # Cars the meter has not seen yet: the house is never negative.
        ({"solar_w": 0, "house_w": 1000, "grid_w": 1000}, [7400], SiteFlow(0, 0, 1000, 7400)),
        # No reading at all.
        ({"solar_w": None, "house_w": None, "grid_w": None}, [], SiteFlow(None, None, None, None)),
    ],
)
def test_the_live_flow_keeps_only_believable_watts_and_shows_the_house_without_the_cars(reading, powers, expected):
    assert site_flow(charger_powers_w=powers, **reading) == expected


def test_the_flow_says_how_much_goes_out_when_exporting():
    assert SiteFlow(0, 0, -2500, 0).grid_export_w == 2500
    assert SiteFlow(0, 0, 2500, 0).grid_export_w is None


def test_no_value_the_flow_returns_is_beyond_what_a_meter_can_show():
    flow = site_flow(solar_w=POWER_MAX_W + 1, house_w=-POWER_MAX_W - 1, grid_w=POWER_MAX_W, charger_powers_w=[1])
    assert flow == SiteFlow(None, None, POWER_MAX_W, 1)
