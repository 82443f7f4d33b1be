"""The day simulator's pure parts: scenario checks, what a station's profiles allow, the trace's
arithmetic, and the clock the product reads."""

import copy
import datetime as dt

import pytest

from energy import sending, services
from energy.simulation.clock import simulated_clock
from energy.simulation.scenario import ScenarioError, scenario_parse
from energy.simulation.station import Profile, Station, car_draw_a, effective_limit, profile_parse
from energy.simulation.trace import SITE_COLUMNS, ChargerStep, columns, trace_row

T0 = dt.datetime(2026, 6, 20, 10, tzinfo=dt.UTC)

SCENARIO = {
    "name": "tiny",
    "config": 'site:\n  name: "tiny"\n',
    "time_zone": "Europe/London",
    "start": "2026-06-20T11:00:00+01:00",
    "hours": 1,
    "step_s": 600,
    "series": {"solar_w": [0] * 6, "house_w": [500] * 6},
    "tariff": {"feed_in_per_kwh": 0.1},
    "grid_levels": [{"at": "2026-06-20T11:30:00+01:00", "level": "high"}],
    "cars": [
        {
            "charger": "garage",
            "arrive": "2026-06-20T11:00:00+01:00",
            "depart": "2026-06-20T12:00:00",
            "need_wh": 5000,
            "max_current_a": 16,
            "phases": 3,
            "target": {"ready_by": "2026-06-20T11:50:00+01:00", "energy_wh": 4000},
        }
    ],
}


def changed(path: tuple, value: object) -> dict:
    data = copy.deepcopy(SCENARIO)
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


def test_a_good_scenario_reads_with_local_times_in_its_zone():
    scenario = scenario_parse(SCENARIO)
    assert scenario.steps == 6
    assert scenario.start == T0
    assert scenario.cars[0].depart == dt.datetime(2026, 6, 20, 11, tzinfo=dt.UTC)  # no offset: London time
    assert scenario.grid_level_at(T0 + dt.timedelta(minutes=29)) == "normal"
    assert scenario.grid_level_at(T0 + dt.timedelta(minutes=30)) == "high"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (changed(("name",), KeyError), "name: missing"),
        (changed(("config",), {"site": {}}), "config: must be one string"),
        (changed(("config",), "a: [b"), "config: is not valid YAML"),
        (changed(("time_zone",), "Mars/Olympus"), "time_zone: unknown time zone"),
        (changed(("start",), "2026-06-20T11:00:00"), "start: needs an offset"),
        (changed(("hours",), 0), "hours: must be more than 0"),
        (changed(("step_s",), 7), "step_s: must divide hours × 3600"),
        (changed(("series", "solar_w"), [0] * 5), "series.solar_w: has 5 values where hours × 3600 / step_s is 6"),
        (changed(("series", "house_w"), [500, -1, 0, 0, 0, 0]), "series.house_w[1]: must be a number ≥ 0"),
        (changed(("series", "wind_w"), [0] * 6), "series.wind_w: unknown series"),
        (changed(("tariff", "feed_in_per_kwh"), "cheap"), "tariff.feed_in_per_kwh: must be a number"),
        (changed(("grid_levels", 0, "level"), "red"), "grid_levels[0].level: must be one of"),
        (changed(("cars", 0, "max_current_a"), 5), "cars[0].max_current_a: must be at least 6"),
        (changed(("cars", 0, "phases"), 2), "cars[0].phases: must be 1 or 3"),
        (changed(("cars", 0, "depart"), "2026-06-20T10:00:00+01:00"), "cars[0].depart: must be after arrive"),
        (changed(("cars", 0, "target", "energy_wh"), None), "cars[0].target.energy_wh: must be a number"),
        (changed(("cars", 0, "colour"), "red"), "cars[0].colour: unknown key"),
        (changed(("weather",), "fine"), "weather: unknown key"),
        (changed(("cars",), SCENARIO["cars"] * 2), "cars[1].arrive: charger 'garage' still holds cars[0]"),
    ],
)
def test_a_bad_scenario_is_refused_naming_the_key(data, error):
    with pytest.raises(ScenarioError) as refused:
        scenario_parse(data)
    assert any(e.startswith(error) for e in refused.value.errors), refused.value.errors


def profile(purpose, *, level=0, unit="A", periods=((0, 16.0, None),), start=T0, duration_s=None, connector=0):
    return Profile(1, purpose, level, connector, start, duration_s, unit, tuple(periods))


@pytest.mark.parametrize(
    ("profiles", "when_min", "phases", "expected"),
    [
        ([], 0, 3, (None, None)),
        ([profile("ChargePointMaxProfile", periods=[(0, 20.0, None)])], 0, 3, (20.0, None)),
        # Before its start and after its duration a profile is not in force.
        ([profile("TxDefaultProfile", start=T0 + dt.timedelta(minutes=5))], 0, 3, (None, None)),
        ([profile("TxDefaultProfile", duration_s=600)], 10, 3, (None, None)),
        # The schedule's period in force at the time.
        ([profile("TxDefaultProfile", periods=[(0, 0.0, None), (1800, 32.0, None)])], 29, 3, (0.0, None)),
        ([profile("TxDefaultProfile", periods=[(0, 0.0, None), (1800, 32.0, None)])], 30, 3, (32.0, None)),
        # Watts over the phases the car draws on.
        ([profile("TxDefaultProfile", unit="W", periods=[(0, 6900.0, None)])], 0, 3, (10.0, None)),
        ([profile("TxDefaultProfile", unit="W", periods=[(0, 6900.0, 1)])], 0, 3, (30.0, 1)),
        # A TxProfile overrides the default; the charger's maximum caps both.
        (
            [
                profile("TxDefaultProfile", periods=[(0, 0.0, None)]),
                profile("TxProfile", level=2, periods=[(0, 25.0, None)], connector=1),
                profile("ChargePointMaxProfile", periods=[(0, 20.0, None)]),
            ],
            0,
            3,
            (20.0, None),
        ),
        # The highest stack level in force wins within a purpose.
        (
            [
                profile("TxDefaultProfile", level=1, periods=[(0, 10.0, None)]),
                profile("TxDefaultProfile", level=3, periods=[(0, 14.0, None)], duration_s=60),
            ],
            0,
            3,
            (14.0, None),
        ),
        (
            [
                profile("TxDefaultProfile", level=1, periods=[(0, 10.0, None)]),
                profile("TxDefaultProfile", level=3, periods=[(0, 14.0, None)], duration_s=60),
            ],
            1,
            3,
            (10.0, None),
        ),
    ],
)
def test_effective_limit_of_held_profiles(profiles, when_min, phases, expected):
    assert effective_limit(profiles, when=T0 + dt.timedelta(minutes=when_min), phases=phases) == expected


@pytest.mark.parametrize(
    ("limit_a", "car_max_a", "draws_a"),
    [(None, 16, 16), (32, 16, 16), (10, 16, 10), (6, 16, 6), (5.9, 16, 0), (0, 16, 0)],
)
def test_a_car_draws_up_to_the_limit_and_nothing_below_6_a(limit_a, car_max_a, draws_a):
    assert car_draw_a(limit_a=limit_a, car_max_a=car_max_a) == draws_a


def set_profile(purpose="TxProfile", connector=1, transaction=None, **schedule):
    body = {
        "chargingProfileId": 3,
        "stackLevel": 2,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "startSchedule": "2026-06-20T10:00:00Z",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
            **schedule,
        },
    }
    if transaction is not None:
        body["transactionId"] = transaction
    return {"connectorId": connector, "csChargingProfiles": body}


def test_a_station_refuses_what_a_real_one_refuses_and_keeps_the_rest():
    station = Station("garage", phases=3, supply_phase="L1", max_current_a=16)
    assert station.answer("SetChargingProfile", set_profile(), now=T0) == {"status": "Rejected"}  # no transaction
    station.transaction_id = 7
    assert station.answer("SetChargingProfile", set_profile(transaction=8), now=T0) == {"status": "Rejected"}
    assert station.answer("SetChargingProfile", set_profile("ChargePointMaxProfile"), now=T0) == {"status": "Rejected"}
    bad_periods = {"chargingSchedulePeriod": [{"startPeriod": 60, "limit": 16}]}
    assert station.answer("SetChargingProfile", set_profile(**bad_periods), now=T0) == {"status": "Rejected"}
    assert station.answer("SetChargingProfile", set_profile(transaction=7), now=T0) == {"status": "Accepted"}
    assert station.limit_at(T0, 3) == (16, 3)
    station.transaction_ended()  # a TxProfile ends with its transaction
    assert station.profiles == {}
    assert (station.profiles_sent, station.profiles_rejected) == (5, 4)
    with pytest.raises(ValueError):
        profile_parse({"connectorId": 0}, now=T0, transaction_id=None)


def test_a_trace_row_adds_the_cars_to_the_meter_on_their_phases():
    car_3 = ChargerStep(16, 3, 11040, 500, 2, ("L1", "L2", "L3"))
    car_1 = ChargerStep(32, 1, 7360, 100, 1, ("L2",))
    row = trace_row(
        time="t", solar_w=6900, house_w=690, price_per_kwh=0.3, grid_level="normal", chargers={"a": car_3, "b": car_1}
    )
    assert row["grid_w"] == 690 + 11040 + 7360 - 6900
    # (690 - 6900) / 3 / 230 = -9 A on each phase, +16 A of the 3-phase car, +32 A of the other on L2.
    assert (row["main_l1_a"], row["main_l2_a"], row["main_l3_a"]) == (7, 39, 7)
    exporting = trace_row(time="t", solar_w=6900, house_w=0, price_per_kwh=None, grid_level="high", chargers={})
    assert exporting["main_l1_a"] == 10  # a magnitude: 10 A flowing out
    assert list(row) == columns(["a", "b"])
    per_charger = ["a.limit_a", "a.phases", "a.power_w", "a.energy_wh", "a.profiles_sent"]
    assert columns(["a"])[len(SITE_COLUMNS) :] == per_charger


def test_the_simulated_clock_is_the_one_energy_control_reads():
    """If a module stopped reading timezone.now() through django.utils.timezone, the simulated
    day would mix the real clock into its records: this fails first."""
    with simulated_clock(T0) as clock:
        clock.now = T0 + dt.timedelta(hours=1)
        for module in (services, sending):
            assert module.timezone.now() == T0 + dt.timedelta(hours=1)
