"""Session energy, cost and solar share: tables of cases, no database."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest

import sessions.accounting
from energy.tou import Period
from sessions.accounting import (
    LONG_INTERVAL,
    MAX_COST,
    EnergyReading,
    Interval,
    MonthEntry,
    PricedEnergy,
    SiteReading,
    energy_by_period,
    energy_cost,
    energy_intervals,
    month_totals,
    session_energy_wh,
    session_figures,
    solar_energy_wh,
    surplus_w,
)

R = EnergyReading
LONDON = zoneinfo.ZoneInfo("Europe/London")
UTC = dt.UTC

# The spec's tariff: off-peak 00:00-07:00, peak 16:00-20:00, standard at all other times.
SPEC_PERIODS = [
    Period("off_peak", Decimal("0.10"), 1, dt.time(0, 0), dt.time(7, 0)),
    Period("peak", Decimal("0.35"), 3, dt.time(16, 0), dt.time(20, 0)),
    Period("standard", Decimal("0.20"), 2),
]
# A night rate that wraps past midnight and changes off the quarter hour.
ODD_NIGHT = [Period("night", Decimal("0.10"), 1, dt.time(22, 10), dt.time(6, 50)), Period("day", Decimal("0.30"))]


def utc(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


def london(month: int, day: int, hour: int, minute: int = 0, fold: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=LONDON, fold=fold).astimezone(UTC)


@pytest.mark.parametrize(
    ("meter_start", "meter_stop", "readings", "expected"),
    [
        (12345, 19345, [], 7000),
        (12345, None, [R(12345), R(13000), R(14500)], 2155),
        (None, None, [R(12.0, "kWh"), R(12.5, "kWh")], 500),
        (12000, None, [R(12.5, "kWh")], 500),
        (1000, None, [R(1200), R(400, phase="L1"), R(5000, phase="L2")], 200),  # per-phase registers ignored
        (1000, None, [], None),  # running, nothing sampled yet
        (None, None, [], None),
        (5000, 4000, [], 0),  # a meter that went backwards (replaced, reset) never gives negative energy
        (0, 0, [], 0),
    ],
)
def test_session_energy(meter_start, meter_stop, readings, expected):
    result = session_energy_wh(meter_start_wh=meter_start, meter_stop_wh=meter_stop, register_readings=readings)
    assert result == expected


T = utc(1, 13, 15)
H = dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("case", "ended", "meter_stop", "readings", "expected"),
    [
        ("no samples: spread over the session", T + 2 * H, 4000, [], [(T, T + 2 * H, 4000)]),
        ("running, no samples: nothing known yet", None, None, [], []),
        (
            "Wh samples",
            T + 2 * H,
            4000,
            [R(1000, at=T + H / 2), R(3000, at=T + H)],
            [(T, T + H / 2, 1000), (T + H / 2, T + H, 2000), (T + H, T + 2 * H, 1000)],
        ),
        (
            "kWh samples, the same",
            T + 2 * H,
            4000,
            [R(1.0, "kWh", at=T + H / 2), R(3.0, "kWh", at=T + H)],
            [(T, T + H / 2, 1000), (T + H / 2, T + H, 2000), (T + H, T + 2 * H, 1000)],
        ),
        (
            "running: up to the latest sample",
            None,
            None,
            [R(1000, at=T + H / 2), R(3000, at=T + H)],
            [(T, T + H / 2, 1000), (T + H / 2, T + H, 2000)],
        ),
        (
            "per-phase registers and other timestamps' duplicates ignored",
            T + 2 * H,
            4000,
            [R(1000, at=T + H), R(1000, at=T + H, phase="L1"), R(999, at=T + H)],
            [(T, T + H, 1000), (T + H, T + 2 * H, 3000)],
        ),
        (
            "a sample before the start (clock drift) belongs to the start",
            T + H,
            2000,
            [R(0, at=T - H), R(1000, at=T + H / 2)],
            [(T, T, 0), (T, T + H / 2, 1000), (T + H / 2, T + H, 1000)],
        ),
        (
            "a register that jumps back (reset): increments scaled to the meter's total",
            T + 2 * H,
            4000,
            [R(3000, at=T + H), R(1000, at=T + H * 1.5)],
            [(T, T + H, 2000), (T + H, T + H * 1.5, 0), (T + H * 1.5, T + 2 * H, 2000)],
        ),
    ],
)
def test_energy_is_laid_out_in_time(case, ended, meter_stop, readings, expected):
    intervals = energy_intervals(
        started_at=T, ended_at=ended, meter_start_wh=0, meter_stop_wh=meter_stop, register_readings=readings
    )
    assert [(i.start, i.end, round(i.energy_wh)) for i in intervals] == expected


def even(start: dt.datetime, end: dt.datetime, wh: int) -> dict:
    """A session whose charger sent no samples: its energy spread evenly."""
    return {"started_at": start, "ended_at": end, "meter_start_wh": 0, "meter_stop_wh": wh, "register_readings": []}


@pytest.mark.parametrize(
    ("case", "session", "periods", "cost", "by_period"),
    [
        (
            "15:00-21:00 in winter: standard, peak, standard",
            even(london(1, 13, 15), london(1, 13, 21), 6000),
            SPEC_PERIODS,
            "1.80",
            {"standard": 2000, "peak": 4000},
        ),
        (
            "15:00-01:00 across midnight: standard, peak, standard, off-peak",
            even(london(1, 13, 15), london(1, 14, 1), 10000),
            SPEC_PERIODS,
            "2.50",
            {"standard": 5000, "peak": 4000, "off_peak": 1000},
        ),
        (
            "15:00-21:00 in summer time (BST): the periods follow the local clock",
            even(london(7, 1, 15), london(7, 1, 21), 6000),
            SPEC_PERIODS,
            "1.80",
            {"standard": 2000, "peak": 4000},
        ),
        (
            "samples: an interval across 16:00 is split in proportion",
            {
                "started_at": london(1, 13, 15),
                "ended_at": london(1, 13, 17),
                "meter_start_wh": 10000,
                "meter_stop_wh": 13500,
                "register_readings": [R(11000, at=london(1, 13, 15, 30)), R(13000, at=london(1, 13, 16, 30))],
            },
            SPEC_PERIODS,
            "0.93",  # 2 kWh standard 0.40 + 1.5 kWh peak 0.525
            {"standard": 2000, "peak": 1500},
        ),
        (
            "kWh samples price the same as Wh",
            {
                "started_at": london(1, 13, 15),
                "ended_at": london(1, 13, 17),
                "meter_start_wh": 10000,
                "meter_stop_wh": 13500,
                "register_readings": [
                    R(11.0, "kWh", at=london(1, 13, 15, 30)),
                    R(13.0, "kWh", at=london(1, 13, 16, 30)),
                ],
            },
            SPEC_PERIODS,
            "0.93",
            {"standard": 2000, "peak": 1500},
        ),
        (
            "DST spring forward (29 Mar 2026): 00:00-07:00 is six real hours",
            even(london(3, 28, 23), london(3, 29, 9), 9000),  # 9 real hours
            SPEC_PERIODS,
            "1.20",
            {"standard": 3000, "off_peak": 6000},
        ),
        (
            "DST fall back (25 Oct 2026): 00:00-07:00 is eight real hours",
            even(london(10, 24, 23), london(10, 25, 9), 11000),  # 11 real hours
            SPEC_PERIODS,
            "1.40",
            {"standard": 3000, "off_peak": 8000},
        ),
        (
            "DST fall back: a session inside the repeated hour is off-peak throughout",
            even(london(10, 25, 1, 30), london(10, 25, 1, 30, fold=1), 1000),  # 01:30 BST to 01:30 GMT
            SPEC_PERIODS,
            "0.10",
            {"off_peak": 1000},
        ),
        (
            "a period wrapping past midnight, changing at 06:50",
            even(london(1, 13, 6), london(1, 13, 8), 1200),  # 50 min night, 70 min day
            ODD_NIGHT,
            "0.26",  # 0.5 kWh x 0.10 + 0.7 kWh x 0.30
            {"night": 500, "day": 700},
        ),
        ("no tariff: no cost", even(london(1, 13, 15), london(1, 13, 16), 1000), [], None, {}),
        (
            "a tariff that leaves some time unpriced: no cost rather than too low a one",
            even(london(1, 13, 15), london(1, 13, 17), 2000),
            SPEC_PERIODS[1:2],
            None,
            {"peak": 1000},
        ),
        (
            "running with samples: the cost so far",
            {
                "started_at": london(1, 13, 15),
                "ended_at": None,
                "meter_start_wh": 0,
                "meter_stop_wh": None,
                "register_readings": [R(1000, at=london(1, 13, 15, 30)), R(3000, at=london(1, 13, 16, 30))],
            },
            SPEC_PERIODS,
            "0.75",
            {"standard": 2000, "peak": 1000},
        ),
        (
            "running, nothing sampled yet: unknown",
            {**even(london(1, 13, 15), None, 0), "meter_stop_wh": None},
            SPEC_PERIODS,
            None,
            {},
        ),
        (
            "no energy: costs nothing",
            even(london(1, 13, 15), london(1, 13, 16), 0),
            SPEC_PERIODS,
            "0.00",
            {"standard": 0},
        ),
    ],
)
def test_cost_prices_each_interval_at_the_period_in_force(case, session, periods, cost, by_period):
    figures = session_figures(**session, periods=periods, tz=LONDON, currency="GBP")

    assert figures.cost == (Decimal(cost) if cost is not None else None)
    assert figures.currency == ("GBP" if cost is not None else "")
    if by_period is not None:
        assert {p.name: round(p.energy_wh) for p in figures.by_period} == by_period


def at_year(year: int, month: int = 1, day: int = 1, hour: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=LONDON).astimezone(UTC)


# The spec's tariff over a whole day: 7 h at 0.10, 4 h at 0.35, 13 h at 0.20 = 4.70 per 24 kWh.
@pytest.mark.parametrize(
    ("case", "session", "cost"),
    [
        (
            "year 1000 to 2026, two register readings: the energy spread over the whole days",
            {
                "started_at": at_year(1000),
                "ended_at": at_year(2026, 1, 14),
                "meter_start_wh": 0,
                "meter_stop_wh": 24000,
                "register_readings": [R(24000, at=at_year(2026, 1, 13, 15))],
            },
            "4.70",
        ),
        ("1970 (a reset clock) to 2026, nothing sampled", even(at_year(1970), at_year(2026, 1, 2), 48000), "9.40"),
        (
            "running since year 1, one sample now",
            {
                "started_at": dt.datetime(1, 1, 1, tzinfo=UTC),
                "ended_at": None,
                "meter_start_wh": 0,
                "meter_stop_wh": None,
                "register_readings": [R(24000, at=at_year(2026, 1, 13, 15))],
            },
            "4.70",
        ),
        (
            "started 9999-12-31 23:59: all its energy at one instant",
            {
                "started_at": dt.datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
                "ended_at": None,
                "meter_start_wh": 0,
                "meter_stop_wh": None,
                "register_readings": [R(1000, at=dt.datetime(9999, 12, 31, 23, 59, 30, tzinfo=UTC))],
            },
            "0.10",  # the clamped instant, 9999-12-29 00:00, is off-peak
        ),
    ],
)
def test_a_session_dated_by_a_reset_clock_costs_in_steps_per_period_not_per_hour(case, session, cost, monkeypatch):
    walked = []  # the spans cut at every change, hour by hour: the work that once grew with the span
    cut_every_change = sessions.accounting.period_changes

    def counted(periods, start, end, tz):
        walked.append(end - start)
        return cut_every_change(periods, start, end, tz)

    monkeypatch.setattr(sessions.accounting, "period_changes", counted)
    figures = session_figures(**session, periods=SPEC_PERIODS, tz=LONDON, currency="GBP")

    assert figures.cost == Decimal(cost)
    assert sum(walked, dt.timedelta()) <= 2 * LONG_INTERVAL
    assert len(walked) <= 4


def test_a_ten_day_interval_priced_per_whole_day_matches_ten_days_cut_at_every_change():
    start, days, wh_per_day = london(1, 5, 9), 10, 2400
    long_one = energy_by_period(
        [Interval(start, start + dt.timedelta(days=days), wh_per_day * days)], SPEC_PERIODS, LONDON
    )
    day_by_day = energy_by_period(
        [Interval(start + dt.timedelta(days=n), start + dt.timedelta(days=n + 1), wh_per_day) for n in range(days)],
        SPEC_PERIODS,
        LONDON,
    )

    def per_period(pieces) -> dict[str, float]:
        totals: dict[str, float] = {}
        for piece in pieces:
            totals[piece.period.name] = totals.get(piece.period.name, 0.0) + piece.energy_wh
        return totals

    assert len(long_one) < len(day_by_day)
    assert per_period(long_one) == pytest.approx(per_period(day_by_day), abs=0.01)
    assert per_period(long_one) == pytest.approx({"off_peak": 7000, "peak": 4000, "standard": 13000}, abs=0.01)


@pytest.mark.parametrize(
    ("reading", "ev_power_w", "expected"),
    [
        (SiteReading(T, grid_w=-2000), 3000, 5000),  # export + the car's own draw
        (SiteReading(T, grid_w=1000), 3000, 2000),  # importing a little: part of the car is solar
        (SiteReading(T, grid_w=4000), 3000, 0),
        (SiteReading(T, solar_w=5000, house_w=4000), 3000, 4000),  # house 4 kW includes the car's 3 kW
        (SiteReading(T, solar_w=1000, house_w=6000), 3000, 0),
        (SiteReading(T, grid_w=-2000, solar_w=4000), 3000, 4000),  # never more than the panels make
        (SiteReading(T, grid_w=0, solar_w=0), 7000, 0),  # a home battery covering the car is not solar
        (SiteReading(T, house_w=4000), 3000, None),  # nothing tells
    ],
)
def test_surplus_counts_the_car_as_not_house_load(reading, ev_power_w, expected):
    assert surplus_w(reading, ev_power_w) == expected


S0 = utc(6, 1, 12)
EVEN_2H = [Interval(S0, S0 + 2 * H, 7000)]  # 3.5 kW for two hours


def meter(start: dt.datetime, end: dt.datetime, **fields) -> list[SiteReading]:
    """The site's meter reporting every 5 minutes from start to end (exclusive)."""
    count = int((end - start) / dt.timedelta(minutes=5))
    return [SiteReading(start + dt.timedelta(minutes=5 * n), **fields) for n in range(count)]


@pytest.mark.parametrize(
    ("case", "intervals", "readings", "expected_percent"),
    [
        ("exporting plenty throughout", EVEN_2H, meter(S0 - H / 12, S0 + 2 * H, grid_w=-3500), 100.0),
        ("importing all the car takes", EVEN_2H, meter(S0, S0 + 2 * H, grid_w=3500), 0.0),
        ("importing half", EVEN_2H, meter(S0, S0 + 2 * H, grid_w=1750), 50.0),
        (
            "sun for the first hour, then cloud",
            EVEN_2H,
            meter(S0, S0 + H, grid_w=-100) + meter(S0 + H, S0 + 2 * H, grid_w=3500),
            50.0,
        ),
        (
            "readings are held until the next one",
            EVEN_2H,
            [SiteReading(S0 + dt.timedelta(minutes=m), grid_w=-3500) for m in (0, 15, 30, 45, 60, 75, 90, 105)],
            100.0,
        ),
        (
            "per interval: the car's energy in each, against the surplus then",
            [Interval(S0, S0 + H, 1000), Interval(S0 + H, S0 + 2 * H, 6000)],
            meter(S0, S0 + 2 * H, solar_w=3000, house_w=0),  # no house load: 3 kW surplus, the car 1 kW then 6 kW
            57.1,  # (1 + 3) / 7
        ),
        (
            "solar and house meters instead of a grid meter",
            EVEN_2H,
            meter(S0, S0 + 2 * H, solar_w=4000, house_w=5000),  # 4000 - (5000 - 3500) = 2500 of 3500
            71.4,
        ),
        (
            "a meter silent after 12:00: a reading holds 15 minutes, then the energy counts as grid",
            EVEN_2H,
            [SiteReading(S0, grid_w=-5000)],
            12.5,
        ),
        ("no readings: unknown, not 0 %", EVEN_2H, [], None),
        ("readings from long before the session do not count", EVEN_2H, [SiteReading(S0 - 2 * H, grid_w=-9000)], None),
    ],
)
def test_solar_share_is_energy_covered_by_surplus_over_energy_delivered(case, intervals, readings, expected_percent):
    figures = session_figures(
        started_at=intervals[0].start,
        ended_at=intervals[-1].end,
        meter_start_wh=0,
        meter_stop_wh=round(sum(i.energy_wh for i in intervals)),
        register_readings=[R(intervals[0].energy_wh, at=intervals[0].end)],
        periods=[],
        tz=UTC,
        site_readings=readings,
    )
    assert figures.solar_percent == expected_percent


def test_solar_energy_of_a_session_crossing_the_hold_boundary_counts_each_reading_once():
    readings = [SiteReading(S0 + dt.timedelta(minutes=m), grid_w=-3500) for m in range(0, 120, 5)]

    assert solar_energy_wh(EVEN_2H, readings) == pytest.approx(7000)


def test_solar_share_of_a_running_session_uses_its_energy_so_far():
    figures = session_figures(
        started_at=S0,
        ended_at=None,
        meter_start_wh=0,
        meter_stop_wh=None,
        register_readings=[R(1000, at=S0 + H / 2), R(2000, at=S0 + H)],
        periods=[],
        tz=UTC,
        site_readings=meter(S0, S0 + H / 2, grid_w=0) + meter(S0 + H / 2, S0 + H, grid_w=2000),
    )
    # 2 kW the first half hour, all solar (grid 0); then 2 kW importing 2 kW: none.
    assert (figures.energy_wh, figures.solar_percent) == (2000, 50.0)


def test_month_totals_add_up_energy_cost_and_weight_the_solar_share_by_energy():
    january, february = dt.date(2026, 1, 1), dt.date(2026, 2, 1)
    entries = [
        MonthEntry(january, 10000, Decimal("2.00"), "GBP", 80.0),
        MonthEntry(january, 30000, Decimal("6.50"), "GBP", 0.0),
        MonthEntry(january, 5000, None, "", None),  # no tariff, no readings: counted, not priced
        MonthEntry(february, 7000, Decimal("1.40"), "GBP", 100.0),
        MonthEntry(february, None, None, "", None),  # running, nothing sampled yet
    ]

    totals = month_totals(entries)

    assert [(t.month, t.sessions, t.energy_wh, t.costs, t.solar_percent) for t in totals] == [
        (february, 2, 7000, {"GBP": Decimal("1.40")}, 100.0),
        (january, 3, 45000, {"GBP": Decimal("8.50")}, 20.0),  # (10 x 80 + 30 x 0) / 40
    ]


@pytest.mark.parametrize(
    ("energy_wh", "rate", "cost"),
    [
        (10_000_000_000, "9.999999999", MAX_COST),  # 99,999,999.99: the largest cost the column holds
        (10_000_000_000, "9.9999999995", None),  # rounds to 100,000,000.00: beyond numeric(10,2)
        (1e300, "0.20", None),
        (1000, "0.20", Decimal("0.20")),
    ],
)
def test_a_cost_beyond_what_its_column_holds_is_unknown(energy_wh, rate, cost):
    at = utc(1, 13, 15)
    pieces = [PricedEnergy(at, at + dt.timedelta(hours=1), energy_wh, Period("flat", Decimal(rate)))]
    assert energy_cost(pieces) == cost


@pytest.mark.parametrize(
    ("meter_start", "meter_stop", "readings", "expected"),
    [
        (0, 2**62, [], None),  # a stop meter value no meter shows
        (1000, None, [R(1e300), R(float("inf")), R(float("nan")), R(-5.0), R(3000)], 2000),
        (None, None, [R(1e300, "kWh"), R(1000), R(1500)], 500),
    ],
)
def test_energy_is_never_built_from_a_register_no_meter_shows(meter_start, meter_stop, readings, expected):
    assert (
        session_energy_wh(meter_start_wh=meter_start, meter_stop_wh=meter_stop, register_readings=readings) == expected
    )
