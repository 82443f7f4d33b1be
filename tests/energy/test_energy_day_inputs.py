"""What the day simulator tells the product as a real installation would get it: the feed-in rate
through the config's `tariff:` block, a dynamic tariff's prices and a solar forecast through
owner_controls' series stores (15-minute slots, posted on the simulated clock), each car's owner
target on its charger from arrival to departure, and the runs those ask for taken by the steps."""

import datetime as dt
from decimal import Decimal

import pytest
from django.apps import apps
from django.test import override_settings

from chargers.models import Charger
from energy.models import ChargerControl, PriceSlot, Site, SolarForecastSlot
from energy.owner_controls import site_prices_store
from energy.rebalance import rebalancer
from energy.simulation.day import day_simulate, site_setup
from energy.simulation.runtime import step_rebalancer
from energy.simulation.scenario import ScenarioError, scenario_parse
from energy.simulation.series import quarter_hour_slots

IN_MEMORY_LAYER = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
T0 = dt.datetime(2026, 6, 20, 10, tzinfo=dt.UTC)  # 11:00 in London
STEP_S = 300
CONFIG = """\
site:
  name: "inputs"
  time_zone: "Europe/London"
  circuit_limit_a: 40
ocpp:
  chargers:
    - id: "garage"
      max_power_w: 11000
      phases: 3
    - id: "drive"
      max_power_w: 7400
      phases: 1
"""


def scenario(hours: int) -> dict:
    steps = hours * 3600 // STEP_S
    return {
        "name": "inputs",
        "config": CONFIG,
        "time_zone": "Europe/London",
        "start": "2026-06-20T11:00:00+01:00",
        "hours": hours,
        "step_s": STEP_S,
        "series": {
            "solar_w": [0] * steps,
            "house_w": [400] * steps,
            "price_per_kwh": [round(0.10 + 0.01 * i, 2) for i in range(steps)],
            "solar_forecast_w": [100.0 * i for i in range(steps)],
        },
        "tariff": {"feed_in_per_kwh": 0.15},
        "cars": [
            {
                "charger": "garage",
                "arrive": "2026-06-20T11:10:00+01:00",
                "depart": "2026-06-20T12:20:00+01:00",
                "need_wh": 3000,
                "max_current_a": 16,
                "phases": 3,
                # Given in UTC: the owner's 13:00 in the site's zone.
                "target": {"ready_by": "2026-06-20T12:00:00+00:00", "energy_wh": 3000},
            },
            {
                "charger": "drive",
                "arrive": "2026-06-20T11:30:00+01:00",
                "depart": "2026-06-20T14:00:00+01:00",
                "need_wh": 9000,
                "max_current_a": 32,
                "phases": 1,
                # Two days on: only its time of day is the owner's (the next 07:00).
                "target": {"ready_by": "2026-06-22T07:00:00+01:00", "energy_wh": 8000},
            },
        ],
    }


def simulated(data: dict):
    with override_settings(CHANNEL_LAYERS=IN_MEMORY_LAYER):
        return day_simulate(scenario_parse(data))


def control(charge_point_id: str) -> ChargerControl:
    return ChargerControl.objects.get(charger__charge_point_id=charge_point_id)


@pytest.mark.parametrize(
    ("step_s", "values", "since_min", "expected"),
    [
        # Steps of a minute: each slot the mean of its 15.
        (60, [float(i) for i in range(30)], None, [(0, 7.0), (15, 22.0)]),
        # 600 s steps do not divide 900: a slot weighs each step by the seconds it covers.
        (600, [0.0, 30.0, 60.0], None, [(0, 10.0), (15, 50.0)]),  # (5 × 30 + 10 × 60) / 15
        # Steps longer than a slot give their value to each slot in them.
        (3600, [4.0], None, [(0, 4.0), (15, 4.0), (30, 4.0), (45, 4.0)]),
        # From the slot holding `since` on.
        (60, [float(i) for i in range(30)], 20, [(15, 22.0)]),
    ],
)
def test_a_series_becomes_the_mean_of_each_quarter_hour(step_s, values, since_min, expected):
    since = T0 + dt.timedelta(minutes=since_min) if since_min is not None else None

    slots = quarter_hour_slots(start=T0, step_s=step_s, values=values, since=since)

    assert [((s.start - T0) // dt.timedelta(minutes=1), s.value) for s in slots] == expected
    assert all(s.end - s.start == dt.timedelta(minutes=15) for s in slots)


def test_a_day_starting_off_the_quarter_hour_averages_what_its_edge_slots_cover():
    start = T0 + dt.timedelta(minutes=10)

    slots = quarter_hour_slots(start=start, step_s=60, values=[1.0] * 5 + [7.0] * 10)

    assert [(s.start, s.value) for s in slots] == [(T0, 1.0), (T0 + dt.timedelta(minutes=15), 7.0)]


@pytest.mark.django_db(transaction=True)
def test_the_prices_forecast_and_feed_in_reach_the_site_as_posted():
    data = scenario(hours=2)

    simulated(data)

    site = Site.objects.get()
    assert site.feed_in_per_kwh == Decimal("0.15")
    prices = data["series"]["price_per_kwh"]
    slots = list(PriceSlot.objects.filter(site=site).order_by("start"))
    # The whole day, posted at its start as a day-ahead tariff is, each slot three 5-minute steps.
    assert [(s.start, s.end) for s in slots] == [
        (T0 + dt.timedelta(minutes=15 * n), T0 + dt.timedelta(minutes=15 * (n + 1))) for n in range(8)
    ]
    assert [s.price_per_kwh for s in slots] == [
        Decimal(str(round(sum(prices[3 * n : 3 * n + 3]) / 3, 4))) for n in range(8)
    ]
    assert {s.received_at for s in slots} == {T0}
    forecast = list(SolarForecastSlot.objects.filter(site=site).order_by("start"))
    assert [s.start for s in forecast] == [s.start for s in slots]
    assert [s.solar_w for s in forecast] == [100.0 * (3 * n + 1) for n in range(8)]
    # Posted at the start and again an hour later for the rest of the day, as a service refreshes.
    assert [s.received_at for s in forecast] == [T0] * 4 + [T0 + dt.timedelta(hours=1)] * 4


@pytest.mark.django_db(transaction=True)
def test_a_cars_target_is_the_owners_on_its_charger_from_arrival():
    simulated(scenario(hours=1))  # ends with both cars still plugged in

    garage, drive = control("garage"), control("drive")
    assert (garage.target_ready_by, garage.target_energy_wh) == (dt.time(13, 0), 3000)
    assert garage.target_set_at == T0 + dt.timedelta(minutes=10)
    assert (drive.target_ready_by, drive.target_energy_wh) == (dt.time(7, 0), 8000)
    assert drive.target_set_at == T0 + dt.timedelta(minutes=30)
    assert drive.target_set_by == garage.target_set_by == "energy_day"


@pytest.mark.django_db(transaction=True)
def test_a_cars_target_is_cleared_when_it_leaves():
    simulated(scenario(hours=2))  # the garage's car left at 12:20

    garage = control("garage")
    assert (garage.target_ready_by, garage.target_energy_wh, garage.target_set_at) == (None, None, None)
    assert control("drive").target_energy_wh == 8000  # still there


@pytest.mark.django_db(transaction=True)
def test_a_config_whose_feed_in_disagrees_with_the_scenarios_is_refused():
    data = scenario(hours=1)
    data["config"] += "tariff:\n  feed_in_per_kwh: 0.05\n"

    with pytest.raises(ScenarioError, match=r"config: tariff.feed_in_per_kwh \(0.05\) disagrees"):
        site_setup(scenario_parse(data))

    assert not Site.objects.exists()


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        (("series", "price_per_kwh", 3), 101, "series.price_per_kwh[3]: must be at most 100"),
        (("series", "solar_forecast_w", 0), 2e6, "series.solar_forecast_w[0]: must be at most 1e+06"),
        (("cars", 0, "target", "energy_wh"), 0, "cars[0].target.energy_wh: must be at least 1"),
        (("cars", 1, "target", "energy_wh"), 600_000, "cars[1].target.energy_wh: must be at most 500000"),
    ],
)
def test_what_the_product_would_refuse_is_named_before_the_day_runs(path, value, error):
    data = scenario(hours=1)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value

    with pytest.raises(ScenarioError) as refused:
        scenario_parse(data)

    assert any(e.startswith(error) for e in refused.value.errors), refused.value.errors


@pytest.mark.django_db(transaction=True)
def test_a_post_asks_the_steps_runtime_which_notes_it_and_runs_nothing():
    site, _ = site_setup(scenario_parse(scenario(hours=1)))
    before = rebalancer()
    slot = quarter_hour_slots(start=dt.datetime.now(dt.UTC).replace(second=0, microsecond=0), step_s=900, values=[0.2])

    with step_rebalancer() as runtime:
        assert rebalancer() is runtime
        site_prices_store(site=site, slots=slot, source="test")

    assert runtime.requests == [(site.pk, "prices")]
    site.refresh_from_db()
    assert site.last_rebalanced_at is None  # no run outside the day's steps
    assert rebalancer() is before is apps.get_app_config("energy").rebalancer
    assert Charger.objects.filter(site=site).count() == 2
