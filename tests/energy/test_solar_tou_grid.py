"""Solar surplus, time-of-use planning and grid response: tables of cases, no database."""

import datetime as dt
import zoneinfo

import pytest

from energy.grid import grid_limit_percent
from energy.planner import slots_between
from energy.solar import SolarSettings, SolarState, phases_for_budget, smoothed_w, solar_budget, surplus_w
from energy.tou import Period, Plan, Slot, next_local_time, period_at, schedule_periods

UTC = dt.UTC
LONDON = zoneinfo.ZoneInfo("Europe/London")
T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

# The spec's periods.
OFF_PEAK = Period("off_peak", 0.10, 1, dt.time(0, 0), dt.time(7, 0))
PEAK = Period("peak", 0.35, 3, dt.time(16, 0), dt.time(20, 0))
STANDARD = Period("standard", 0.20, 2)
SPEC_PERIODS = [OFF_PEAK, PEAK, STANDARD]


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        ({"ev_w": 0, "grid_w": -3000}, 3000),
        ({"ev_w": 2000, "grid_w": -1000}, 3000),  # the car's own draw is not house load
        ({"ev_w": 2000, "grid_w": 500}, 1500),
        ({"ev_w": 2000, "solar_w": 5000, "house_w": 4000}, 3000),  # house_w includes the car
        ({"ev_w": 0, "solar_w": 1000, "house_w": 1500}, -500),
        ({"ev_w": 0}, None),
        ({"ev_w": 0, "grid_w": -3000, "solar_w": 1000}, 1000),  # the rest is a battery exporting
    ],
)
def test_surplus_excludes_the_cars_own_draw(readings, expected):
    assert surplus_w(**readings) == expected


def test_surplus_is_smoothed_over_the_window():
    samples = [(T0 - dt.timedelta(seconds=s), w) for s, w in [(400, 9000), (240, 1000), (120, 2000), (0, 3000)]]
    assert smoothed_w(samples, now=T0, window_s=300) == 2000
    assert smoothed_w([], now=T0, window_s=300) is None


def at(seconds: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def run_hysteresis(mode: str, surpluses: list[tuple[int, float | None]]) -> list[float]:
    state, budgets = SolarState(), []
    for second, surplus in surpluses:
        budget, state, _ = solar_budget(state=state, surplus=surplus, settings=SolarSettings(mode=mode), now=at(second))
        budgets.append(budget)
    return budgets


@pytest.mark.parametrize(
    ("mode", "surpluses", "expected"),
    [
        # solar_only: start after 60 s of enough surplus, keep the minimum through a cloud of
        # under 300 s, stop after 300 s without.
        (
            "solar_only",
            [(0, 2000), (30, 2000), (60, 2500), (90, 500), (300, 800), (400, 3000)],
            [0, 0, 2500, 1400, 1400, 3000],
        ),
        ("solar_only", [(0, 2000), (60, 2000), (120, 0), (420, 0), (450, 5000)], [0, 2000, 1400, 0, 0]),
        ("solar_only", [(0, 1000), (120, 1399)], [0, 0]),
        ("solar_only", [(0, None)], [0]),
        # solar_priority: never below the grid minimum.
        ("solar_priority", [(0, 0), (60, 5000), (120, 5000)], [1400, 1400, 5000]),
        # mixed: surplus plus up to max_grid_w.
        ("mixed", [(0, 0), (60, 2000), (120, -500)], [3000, 5000, 3000]),
    ],
)
def test_solar_budget_with_hysteresis(mode, surpluses, expected):
    assert run_hysteresis(mode, surpluses) == expected


@pytest.mark.parametrize(
    ("budget_w", "current_phases", "expected"),
    [(4140, 3, 3), (4139, 3, 1), (4500, 1, 1), (4640, 1, 3), (1400, 1, 1), (11000, 1, 3)],
)
def test_phase_switching_keeps_a_margin_before_going_back_to_three_phases(budget_w, current_phases, expected):
    assert phases_for_budget(budget_w=budget_w, current_phases=current_phases) == expected


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("00:00", "off_peak"),
        ("06:59", "off_peak"),
        ("07:00", "standard"),
        ("16:00", "peak"),
        ("19:59", "peak"),
        ("20:00", "standard"),
        ("23:59", "standard"),
    ],
)
def test_the_period_in_force_follows_local_time(local, expected):
    hour, minute = map(int, local.split(":"))
    when = dt.datetime(2026, 1, 13, hour, minute, tzinfo=LONDON)  # winter: London = UTC
    assert period_at(SPEC_PERIODS, when, LONDON).name == expected


def test_a_period_may_wrap_past_midnight():
    night = Period("night", 0.08, 1, dt.time(23, 0), dt.time(5, 0))
    assert night.covers(dt.time(23, 30)) and night.covers(dt.time(4, 59))
    assert not night.covers(dt.time(5, 0)) and not night.covers(dt.time(12, 0))


@pytest.mark.parametrize(
    ("day", "hours"),
    [(dt.date(2026, 3, 29), 23), (dt.date(2026, 10, 25), 25), (dt.date(2026, 6, 1), 24)],
    ids=["spring-forward", "fall-back", "ordinary"],
)
def test_a_local_day_has_23_24_or_25_hours_of_slots(day, hours):
    start = dt.datetime.combine(day, dt.time(0), tzinfo=LONDON).astimezone(UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=LONDON).astimezone(UTC)
    slots = slots_between(start, end)
    assert len(slots) == hours * 4
    off_peak_s = sum((b - a).total_seconds() for a, b in slots if period_at(SPEC_PERIODS, a, LONDON) is OFF_PEAK)
    # 00:00-07:00 local lasts 6 hours when the clocks go forward at 01:00, 8 when they go back.
    assert off_peak_s / 3600 == {23: 6, 24: 7, 25: 8}[hours]


def test_ready_by_is_the_next_local_occurrence_across_dst():
    evening = dt.datetime(2026, 3, 28, 22, 0, tzinfo=UTC)
    assert next_local_time(evening, dt.time(7, 0), LONDON) == dt.datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    autumn = dt.datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
    assert next_local_time(autumn, dt.time(7, 0), LONDON) == dt.datetime(2026, 10, 25, 7, 0, tzinfo=UTC)


def plan_of(periods_wanted: set[str], start: dt.datetime, end: dt.datetime) -> Plan:
    """A plan charging in every slot of the named periods between start and end."""
    slots = [Slot(a, b, period_at(SPEC_PERIODS, a, LONDON)) for a, b in slots_between(start, end)]
    return Plan([s for s in slots if s.period.name in periods_wanted], "")


def test_the_plan_becomes_a_schedule_like_the_spec_example():
    midnight = dt.datetime(2026, 1, 13, 0, 0, tzinfo=UTC)
    plan = plan_of({"off_peak", "standard"}, midnight, midnight + dt.timedelta(hours=23, minutes=59))
    assert schedule_periods(plan, start=midnight, limit=7000) == [
        {"startPeriod": 0, "limit": 7000},
        {"startPeriod": 16 * 3600, "limit": 0},  # never in the peak
        {"startPeriod": 20 * 3600, "limit": 7000},
        {"startPeriod": 23 * 3600 + 59 * 60, "limit": 0},  # the plan ends at ready_by
    ]


def test_a_plan_made_a_fraction_of_a_second_after_the_schedule_starts_gives_increasing_periods():
    # Found by a charger that validates profiles: the first slot began at "now" (00:03:02.5) and
    # the schedule at the whole second before it, so two periods started at 0.
    now = dt.datetime(2026, 12, 5, 0, 3, 2, 500000, tzinfo=UTC)
    plan = plan_of({"off_peak"}, now, dt.datetime(2026, 12, 5, 7, 0, tzinfo=UTC))
    periods = schedule_periods(plan, start=now.replace(microsecond=0), limit=11000)
    assert periods == [{"startPeriod": 0, "limit": 11000}, {"startPeriod": 25018, "limit": 0}]


@pytest.mark.parametrize(
    ("level", "frequency", "enabled", "expected"),
    [
        ("normal", None, False, 100),
        ("moderate", None, False, 50),
        ("high", None, False, 0),
        ("moderate", 49.4, True, 0),
        ("moderate", 49.4, False, 50),
        ("high", 50.6, True, 100),
        ("normal", 50.0, True, 100),
    ],
)
def test_grid_response_levels_and_frequency(level, frequency, enabled, expected):
    percent, _ = grid_limit_percent(level=level, frequency_hz=frequency, frequency_response=enabled)
    assert percent == expected
