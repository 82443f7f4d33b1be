"""The physical bounds of a sampled value and the charger clock rule: table tests, no database."""

import datetime as dt

import pytest

from sessions.charger_clock import server_time_if_off
from sessions.measurands import sample_rejection
from sessions.models import RejectedSample

OUT, NAN = RejectedSample.Reason.OUT_OF_RANGE, RejectedSample.Reason.NOT_A_NUMBER

BOUNDS_CASES = [
    # (what, measurand, unit, value, charger rating W, expected reason)
    ("a car drawing 7 kW", "Power.Active.Import", "W", 7000, 7400, None),
    ("the same in kW", "Power.Active.Import", "kW", 7.0, 7400, None),
    ("the issue's 1e15 W", "Power.Active.Import", "W", 1e15, 7400, OUT),
    ("1e15 W on a charger of unknown rating", "Power.Active.Import", "W", 1e15, None, OUT),
    ("a kW/W mix-up: 7400 kW", "Power.Active.Import", "kW", 7400, 7400, OUT),
    ("22 kW on a charger left at the 7.4 kW default", "Power.Active.Import", "W", 22000, 7400, None),
    ("3 MW on a charger of unknown rating", "Power.Active.Import", "W", 3e6, None, None),
    ("negative imported power", "Power.Active.Import", "W", -5, 7400, OUT),
    ("power offered", "Power.Offered", "W", 7400, 7400, None),
    ("reactive power may be negative", "Power.Reactive.Import", "var", -300, 7400, None),
    ("a power factor", "Power.Factor", "", 0.95, 7400, None),
    ("a power factor above 1", "Power.Factor", "", 1.5, 7400, OUT),
    ("32 A", "Current.Import", "A", 32, 7400, None),
    ("1000 A on a 7.4 kW charger", "Current.Import", "A", 1000, 7400, OUT),
    ("current offered", "Current.Offered", "A", 16, 7400, None),
    ("230 V", "Voltage", "V", 230, 7400, None),
    ("a DC charger's 920 V", "Voltage", "V", 920, 150_000, None),
    ("1e6 V", "Voltage", "V", 1e6, 7400, OUT),
    ("a register of 12.5 MWh", "Energy.Active.Import.Register", "Wh", 12_500_000, 7400, None),
    ("the same in kWh", "Energy.Active.Import.Register", "kWh", 12_500, 7400, None),
    ("a negative register", "Energy.Active.Import.Register", "Wh", -1, 7400, OUT),
    ("a 309-digit register", "Energy.Active.Import.Register", "Wh", 1e308, 7400, OUT),
    ("an energy interval", "Energy.Active.Import.Interval", "Wh", 120, 7400, None),
    ("50 Hz", "Frequency", "", 50, 7400, None),
    ("1e9 Hz", "Frequency", "", 1e9, 7400, OUT),
    ("SoC 80 %", "SoC", "Percent", 80, 7400, None),
    ("SoC 101 %", "SoC", "Percent", 101, 7400, OUT),
    ("35 C", "Temperature", "Celsius", 35, 7400, None),
    ("-60 C", "Temperature", "Celsius", -60, 7400, OUT),
    ("95 F", "Temperature", "Fahrenheit", 95, 7400, None),
    ("400 F", "Temperature", "Fahrenheit", 400, 7400, OUT),
    ("300 K", "Temperature", "K", 300, 7400, None),
    ("0 K", "Temperature", "K", 0, 7400, OUT),
    ("a fan's rpm", "RPM", "", 3000, 7400, None),
    ("NaN", "Power.Active.Import", "W", float("nan"), 7400, NAN),
    ("infinity", "Energy.Active.Import.Register", "Wh", float("inf"), None, OUT),
    ("minus infinity", "Voltage", "V", float("-inf"), None, OUT),
]


@pytest.mark.parametrize(
    ("what", "measurand", "unit", "value", "max_power_w", "expected"), BOUNDS_CASES, ids=[c[0] for c in BOUNDS_CASES]
)
def test_a_sampled_value_is_used_only_within_physical_bounds(what, measurand, unit, value, max_power_w, expected):
    assert sample_rejection(measurand=measurand, unit=unit, value=value, max_power_w=max_power_w) == expected


NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)

CLOCK_CASES = [
    # (what, charger's timestamp, believed)
    ("now", NOW, True),
    ("a second ago", NOW - dt.timedelta(seconds=1), True),
    ("4 minutes ahead (a drifting clock)", NOW + dt.timedelta(minutes=4), True),
    ("10 minutes ahead", NOW + dt.timedelta(minutes=10), False),
    ("year 9999", dt.datetime(9999, 12, 31, tzinfo=dt.UTC), False),
    ("an offline replay of last month", NOW - dt.timedelta(days=30), True),
    ("an offline replay of 300 days ago", NOW - dt.timedelta(days=300), True),
    ("two years ago (a firmware build date)", NOW - dt.timedelta(days=730), False),
    ("1970 (a clock reset)", dt.datetime(1970, 1, 1, tzinfo=dt.UTC), False),
    ("year 1", dt.datetime(1, 1, 1, tzinfo=dt.UTC), False),
]


@pytest.mark.parametrize(("what", "timestamp", "believed"), CLOCK_CASES, ids=[c[0] for c in CLOCK_CASES])
def test_a_charger_timestamp_off_the_server_clock_is_kept_beside_the_receive_time(what, timestamp, believed):
    used, kept = server_time_if_off(timestamp, received_at=NOW)
    assert (used, kept) == ((timestamp, None) if believed else (NOW, timestamp))
