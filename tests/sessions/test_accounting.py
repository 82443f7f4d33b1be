"""Session energy from meter readings: a table of cases, no database."""

import pytest

from sessions.accounting import EnergyReading, session_energy_wh

R = EnergyReading


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
