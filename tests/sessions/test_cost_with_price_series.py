"""A session's cost under a dynamic tariff: the posted prices where their slots cover the energy's
time, the tariff's periods elsewhere. Tables of cases, no database (test_billing.py and
test_cost_with_posted_prices_live.py read the prices from it)."""

import datetime as dt
import zoneinfo
from decimal import Decimal
from itertools import pairwise

import pytest

from energy.tou import Period
from sessions.accounting import POSTED_PRICE, EnergyReading, Interval, PostedPrice, energy_by_price, session_figures

LONDON = zoneinfo.ZoneInfo("Europe/London")
UTC = dt.UTC
QUARTER = dt.timedelta(minutes=15)
HOUR = dt.timedelta(hours=1)

# The spec's tariff: off-peak 00:00-07:00, peak 16:00-20:00, standard at all other times.
SPEC_PERIODS = [
    Period("off_peak", Decimal("0.10"), 1, dt.time(0, 0), dt.time(7, 0)),
    Period("peak", Decimal("0.35"), 3, dt.time(16, 0), dt.time(20, 0)),
    Period("standard", Decimal("0.20"), 2),
]


def london(month: int, day: int, hour: int, minute: int = 0, fold: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=LONDON, fold=fold).astimezone(UTC)


def series(first: dt.datetime, step: dt.timedelta, *prices: str) -> list[PostedPrice]:
    """Consecutive slots of `step` from `first`, one per price."""
    return [PostedPrice(first + i * step, first + (i + 1) * step, Decimal(p)) for i, p in enumerate(prices)]


def even(start: dt.datetime, end: dt.datetime, wh: int) -> dict:
    """A session whose charger sent no samples: its energy spread evenly."""
    return {"started_at": start, "ended_at": end, "meter_start_wh": 0, "meter_stop_wh": wh, "register_readings": []}


def posted(price: str) -> tuple[str, Decimal]:
    return (POSTED_PRICE, Decimal(price))


@pytest.mark.parametrize(
    ("case", "session", "prices", "periods", "cost", "by_price"),
    [
        (
            "across a 15-minute price boundary: each quarter at its own price",
            even(london(1, 13, 18), london(1, 13, 18, 30), 2000),
            series(london(1, 13, 18), QUARTER, "0.10", "0.40"),
            SPEC_PERIODS,
            "0.50",  # 1 kWh x 0.10 + 1 kWh x 0.40, never the peak period's 0.35
            {posted("0.10"): 1000, posted("0.40"): 1000},
        ),
        (
            "samples: the interval across the boundary is split in proportion to its time",
            {
                "started_at": london(1, 13, 18),
                "ended_at": london(1, 13, 18, 30),
                "meter_start_wh": 0,
                "meter_stop_wh": 3000,
                # 18:05-18:20 holds 1.5 kWh: 10 minutes (1 kWh) before 18:15, 5 (0.5 kWh) after.
                "register_readings": [
                    EnergyReading(500, at=london(1, 13, 18, 5)),
                    EnergyReading(2000, at=london(1, 13, 18, 20)),
                ],
            },
            series(london(1, 13, 18), QUARTER, "0.10", "0.40"),
            SPEC_PERIODS,
            "0.75",  # 1.5 kWh x 0.10 + 1.5 kWh x 0.40
            {posted("0.10"): 1500, posted("0.40"): 1500},
        ),
        (
            "hourly slots",
            even(london(1, 13, 20, 30), london(1, 13, 22, 30), 4000),
            series(london(1, 13, 20), HOUR, "0.30", "0.25", "0.15"),
            SPEC_PERIODS,
            "0.95",  # 1 kWh x 0.30 + 2 kWh x 0.25 + 1 kWh x 0.15
            {posted("0.30"): 1000, posted("0.25"): 2000, posted("0.15"): 1000},
        ),
        (
            "partly outside the series: the tariff's periods price the rest",
            even(london(1, 13, 15), london(1, 13, 17), 2000),
            series(london(1, 13, 16), QUARTER, "0.06"),
            SPEC_PERIODS,
            "0.48",  # 15-16 standard 1 kWh 0.20 + 16:00-16:15 posted 0.25 kWh 0.015 + peak 0.75 kWh 0.2625
            {("standard", Decimal("0.20")): 1000, posted("0.06"): 250, ("peak", Decimal("0.35")): 750},
        ),
        (
            "a gap inside the series: the tariff prices the gap only",
            even(london(1, 13, 18), london(1, 13, 19), 4000),
            [*series(london(1, 13, 18), QUARTER, "0.10"), *series(london(1, 13, 18, 30), QUARTER, "0.10", "0.10")],
            SPEC_PERIODS,
            "0.65",  # 3 kWh x 0.10 + the gap 18:15-18:30 at peak, 1 kWh x 0.35
            {posted("0.10"): 3000, ("peak", Decimal("0.35")): 1000},
        ),
        (
            "negative prices: being paid to charge",
            even(london(1, 13, 13), london(1, 13, 14), 2000),
            series(london(1, 13, 13), QUARTER, "-0.20", "-0.10", "0.02", "0.04"),
            SPEC_PERIODS,
            "-0.12",  # 0.5 kWh each: -0.10 - 0.05 + 0.01 + 0.02
            {posted("-0.20"): 500, posted("-0.10"): 500, posted("0.02"): 500, posted("0.04"): 500},
        ),
        (
            "DST fall back (25 Oct 2026): the repeated 01:00 hour has two slots, two prices",
            even(london(10, 25, 0), london(10, 25, 3), 4000),  # 00:00 BST to 03:00 GMT: 4 real hours
            # Slots are instants: 00:00 BST, 01:00 BST, 01:00 GMT; 02:00 GMT is left to the tariff.
            series(london(10, 25, 0), HOUR, "0.30", "0.20", "0.05"),
            SPEC_PERIODS,
            "0.65",  # 0.30 + 0.20 + 0.05 + off-peak 0.10, 1 kWh each
            {posted("0.30"): 1000, posted("0.20"): 1000, posted("0.05"): 1000, ("off_peak", Decimal("0.10")): 1000},
        ),
        (
            "DST spring forward (29 Mar 2026): 00:00 GMT to 03:00 BST is two real hours, two slots",
            even(london(3, 29, 0), london(3, 29, 3), 2000),
            series(london(3, 29, 0), HOUR, "0.30", "0.20"),
            SPEC_PERIODS,
            "0.50",
            {posted("0.30"): 1000, posted("0.20"): 1000},
        ),
        (
            "no tariff, the series covers it all: priced by the series",
            even(london(1, 13, 18), london(1, 13, 18, 30), 2000),
            series(london(1, 13, 18), QUARTER, "0.10", "0.40"),
            [],
            "0.50",
            {posted("0.10"): 1000, posted("0.40"): 1000},
        ),
        (
            "no tariff, the series leaves some energy unpriced: no cost rather than too low a one",
            even(london(1, 13, 18), london(1, 13, 18, 30), 2000),
            series(london(1, 13, 18), QUARTER, "0.10"),
            [],
            None,
            {posted("0.10"): 1000},
        ),
        (
            "slots before and after the session change nothing",
            even(london(1, 13, 15), london(1, 13, 16), 1000),
            [*series(london(1, 13, 12), HOUR, "9.00"), *series(london(1, 13, 16), HOUR, "9.00")],
            SPEC_PERIODS,
            "0.20",
            {("standard", Decimal("0.20")): 1000},
        ),
        (
            "running: the energy so far at the prices of its time",
            {
                "started_at": london(1, 13, 18),
                "ended_at": None,
                "meter_start_wh": 0,
                "meter_stop_wh": None,
                "register_readings": [EnergyReading(1000, at=london(1, 13, 18, 20))],
            },
            series(london(1, 13, 18), QUARTER, "0.10", "0.40", "0.99"),
            SPEC_PERIODS,
            "0.18",  # 750 Wh x 0.10 + 250 Wh x 0.40
            {posted("0.10"): 750, posted("0.40"): 250},
        ),
    ],
)
def test_cost_uses_the_posted_prices_where_they_cover_the_energy(case, session, prices, periods, cost, by_price):
    figures = session_figures(**session, periods=periods, tz=LONDON, currency="GBP", prices=prices)

    assert figures.cost == (Decimal(cost) if cost is not None else None)
    assert {(p.name, p.rate_per_kwh): round(p.energy_wh) for p in figures.by_period} == by_price


def test_without_posted_prices_the_cost_is_the_tariffs_as_before():
    session = even(london(1, 13, 15), london(1, 13, 21), 6000)

    with_none = session_figures(**session, periods=SPEC_PERIODS, tz=LONDON, prices=[])

    assert with_none.cost == Decimal("1.80")  # 2 kWh standard, 4 kWh peak
    assert [p.name for p in with_none.by_period] == ["standard", "peak"]


def test_every_wh_is_priced_once_whatever_the_slots_cut():
    """The pieces' energy adds up to the interval's, and each lies inside its own interval."""
    intervals = [
        Interval(london(1, 13, 17, 7), london(1, 13, 18, 52), 3333.0),
        Interval(london(1, 13, 18, 40), london(1, 13, 18, 40), 10.0),  # an instant, inside the last slot
    ]
    prices = series(london(1, 13, 17, 30), QUARTER, "0.1", "0.2", "0.3", "0.4", "0.5")

    pieces = energy_by_price(intervals, prices, SPEC_PERIODS, LONDON)

    assert sum(p.energy_wh for p in pieces) == pytest.approx(3343.0)
    assert all(p.period is not None for p in pieces)
    instant = [p for p in pieces if p.start == p.end]
    assert [(p.energy_wh, p.period.rate_per_kwh) for p in instant] == [(10.0, Decimal("0.5"))]
    spans = sorted((p.start, p.end) for p in pieces if p.start < p.end)
    assert spans[0][0] == intervals[0].start and spans[-1][1] == intervals[0].end
    assert all(a[1] == b[0] for a, b in pairwise(spans))  # no gap, no overlap


def test_a_session_dated_decades_back_by_a_reset_clock_is_priced_per_slot_not_per_hour():
    """The work follows the slots crossed: 56 years of one interval cost two slots' cuts."""
    interval = Interval(dt.datetime(1970, 1, 1, tzinfo=UTC), london(1, 13, 18, 30), 1000.0)

    pieces = energy_by_price([interval], series(london(1, 13, 18), QUARTER, "0.10", "0.40"), SPEC_PERIODS, LONDON)

    assert sum(p.energy_wh for p in pieces) == pytest.approx(1000.0)
    assert [p.period.rate_per_kwh for p in pieces[-2:]] == [Decimal("0.10"), Decimal("0.40")]
    assert len(pieces) < 50
