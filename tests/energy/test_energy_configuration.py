import copy
import datetime as dt
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from chargers.models import Charger
from energy.configuration import (
    ConfigError,
    config_file_export,
    config_file_import,
    energy_config_export,
    energy_config_import,
    energy_config_parse,
)
from energy.models import Circuit, GridResponse, Site, SolarCharging, Tariff, TariffPeriod, TimeOfUse
from tests.chargers.test_configuration import SPEC_YAML
from tests.factories import make_charger, make_circuit, make_site

EXAMPLE_FILE = Path(__file__).resolve().parents[2] / "docs" / "example-config.yaml"

# The spec's "Energy Integration Configuration", "Dynamic Load Balancing" and "Energy
# Integration" examples, verbatim but for trailing spaces.
ENERGY_YAML = """\
# Energy integration settings
energy:
  # Solar optimization
  solar_charging:
    enabled: true
    mode: "solar_priority"
    min_surplus_w: 1400
    update_interval_seconds: 60

  # Load balancing
  load_balancing:
    enabled: true
    circuit_limit_a: 63
    algorithm: "proportional"

  # Time-of-use
  tou:
    enabled: true
    avoid_peak: true
    ready_by: "07:00"
"""

LOAD_BALANCING_YAML = """\
load_balancing:
  # Circuit limit
  circuit:
    max_current_a: 32
    phases: 3

  # Connected chargers
  chargers:
    - id: "charger-garage"
      max_current_a: 32

    - id: "charger-driveway"
      max_current_a: 32

  # Algorithm
  algorithm: "proportional"         # or "priority" | "round_robin"

  # Priority (if algorithm = "priority")
  priority:
    - "charger-garage"              # Higher priority
    - "charger-driveway"

  # Rebalance trigger
  rebalance:
    on_charger_change: true
    on_power_change: true
    min_interval_seconds: 10
"""

SOLAR_YAML = """\
solar_charging:
  enabled: true

  # Surplus calculation
  surplus:
    source: "energy_manager"
    formula: "solar_production - house_consumption"
    min_surplus_w: 1400             # Min to start charging (~6A single phase)

  # Behavior
  behavior:
    mode: "solar_only"              # or "solar_priority" | "mixed"

    solar_only:
      charge_only_from_solar: true
      stop_if_no_surplus: true

    solar_priority:
      prefer_solar: true
      allow_grid_minimum: 1400      # Min charge rate if no solar

    mixed:
      use_available_solar: true
      top_up_from_grid: true
      max_grid_w: 3000

  # Response time
  update_interval_seconds: 60

  # Smoothing
  smoothing:
    enabled: true
    window_seconds: 300             # 5-minute average
"""

TOU_YAML = """\
tou_charging:
  enabled: true

  # Rate periods
  periods:
    - name: "off_peak"
      start: "00:00"
      end: "07:00"
      rate_per_kwh: 0.10
      priority: 1                   # Prefer this period

    - name: "peak"
      start: "16:00"
      end: "20:00"
      rate_per_kwh: 0.35
      priority: 3                   # Avoid this period

    - name: "standard"
      start: null                   # All other times
      end: null
      rate_per_kwh: 0.20
      priority: 2

  # Behavior
  behavior:
    avoid_peak: true                # Don't charge during peak
    prefer_off_peak: true           # Charge during off-peak if possible

  # Target
  target:
    mode: "time"                    # or "soc" | "energy"
    ready_by: "07:00"               # Car ready by this time
"""

GRID_YAML = """\
grid_response:
  enabled: true

  # Demand response
  demand_response:
    # External signal source
    source: "grid_operator_api"     # or "frequency" | "manual"

    # Response levels
    levels:
      normal:
        limit_percent: 100

      moderate:
        limit_percent: 50

      high:
        limit_percent: 0            # Stop charging

  # Frequency response (future)
  frequency_response:
    enabled: false
    low_frequency_hz: 49.5
    high_frequency_hz: 50.5
"""
SPEC_BLOCKS = ENERGY_YAML + LOAD_BALANCING_YAML + SOLAR_YAML + TOU_YAML + GRID_YAML
DELETE = object()


def spec(text: str, *changes: tuple[tuple, object]) -> dict:
    """A spec example with (path, value) changes applied; DELETE removes the key."""
    data = copy.deepcopy(yaml.safe_load(text))
    for path, value in changes:
        target = data
        for key in path[:-1]:
            target = target[key]
        if value is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return data


def whole_file(*changes: tuple[tuple, object]) -> dict:
    """The spec's ocpp.yaml and energy examples in one file, agreeing with themselves as in
    docs/example-config.yaml."""
    return spec(SPEC_YAML + SPEC_BLOCKS, (("solar_charging", "behavior", "mode"), "solar_priority"), *changes)


def spec_chargers(site: Site) -> tuple[Charger, Charger]:
    """The spec's two chargers, as the ocpp.yaml example makes them."""
    garage = make_charger(charge_point_id="charger-garage", site=site, max_power_w=7400, phases=1)
    driveway = make_charger(charge_point_id="charger-driveway", site=site, max_power_w=22000, phases=3)
    return garage, driveway


def database() -> dict[str, list[dict]]:
    """Every row the energy configuration touches, to show nothing changed."""
    models = [Site, Charger, Circuit, SolarCharging, TimeOfUse, GridResponse, Tariff, TariffPeriod]
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}


@pytest.mark.django_db
def test_the_spec_energy_section_sets_load_balancing_solar_and_time_of_use():
    site = make_site(name="Home", circuit_limit_a=40, algorithm="priority", load_balancing_enabled=False)

    report = energy_config_import(data=yaml.safe_load(ENERGY_YAML), site=site)

    site.refresh_from_db()
    assert (site.load_balancing_enabled, site.circuit_limit_a, site.algorithm) == (True, 63, "proportional")
    solar = SolarCharging.objects.get(site=site)
    assert (solar.enabled, solar.mode, solar.min_surplus_w, solar.update_interval_s) == (
        True,
        "solar_priority",
        1400,
        60,
    )
    tou = TimeOfUse.objects.get(site=site)
    assert (tou.enabled, tou.avoid_peak, tou.ready_by) == (True, True, dt.time(7, 0))
    assert report.updated["load balancing of site 'Home'"] == {
        "load_balancing_enabled": (False, True),
        "circuit_limit_a": (40, 63),
        "algorithm": ("priority", "proportional"),
    }
    assert report.created == ["solar charging of site 'Home'", "time of use of site 'Home'"]
    assert report.warnings == []


@pytest.mark.django_db
def test_the_spec_load_balancing_block_hangs_the_chargers_on_one_circuit():
    site = make_site(name="Home")
    garage, driveway = spec_chargers(site)

    report = energy_config_import(data=yaml.safe_load(LOAD_BALANCING_YAML), site=site)

    circuit = Circuit.objects.get(site=site)
    assert (circuit.name, circuit.max_current_a, circuit.phases, circuit.parent) == (
        "load balancing circuit",
        32,
        3,
        None,
    )
    garage.refresh_from_db()
    driveway.refresh_from_db()
    assert (garage.circuit, garage.priority, garage.max_power_w) == (circuit, 0, 7400)
    # 22000 W on three phases is 31.9 A: 32 A as the spec's block says, so it stays.
    assert (driveway.circuit, driveway.priority, driveway.max_power_w) == (circuit, 1, 22000)
    site.refresh_from_db()
    assert (site.algorithm, site.min_interval_s) == ("proportional", 10)
    assert "created circuit 'load balancing circuit'" in report.lines()
    assert report.notes == []


@pytest.mark.django_db
def test_a_charger_current_in_load_balancing_sets_its_power():
    site = make_site(name="Home")
    make_charger(charge_point_id="charger-garage", site=site, max_power_w=3700, phases=1)
    make_charger(charge_point_id="charger-driveway", site=site, max_power_w=11000, phases=3)

    report = energy_config_import(data=yaml.safe_load(LOAD_BALANCING_YAML), site=site)

    powers = dict(Charger.objects.values_list("charge_point_id", "max_power_w"))
    assert powers == {"charger-garage": 32 * 230, "charger-driveway": 32 * 230 * 3}
    assert report.updated["charger 'charger-garage'"]["max_power_w"] == (3700, 7360)


@pytest.mark.django_db
def test_the_spec_solar_block_configures_solar_charging():
    site = make_site(name="Home")

    report = energy_config_import(data=yaml.safe_load(SOLAR_YAML), site=site)

    solar = SolarCharging.objects.get(site=site)
    assert solar.enabled
    assert solar.mode == "solar_only"
    assert (solar.min_surplus_w, solar.allow_grid_minimum_w, solar.max_grid_w) == (1400, 1400, 3000)
    assert (solar.update_interval_s, solar.window_s) == (60, 300)
    # Not in the spec's block: the documented hysteresis defaults.
    assert (solar.start_delay_s, solar.stop_delay_s) == (60, 300)
    assert report.notes == []
    assert report.warnings == []


@pytest.mark.django_db
def test_the_spec_time_of_use_block_makes_the_active_tariff():
    site = make_site(name="Home")

    report = energy_config_import(data=yaml.safe_load(TOU_YAML), site=site)

    tariff = Tariff.objects.get(site=site)
    assert (tariff.name, tariff.is_active) == ("time of use", True)
    periods = {p.name: (p.start, p.end, p.rate_per_kwh, p.priority) for p in tariff.periods.all()}
    assert periods == {
        "off_peak": (dt.time(0, 0), dt.time(7, 0), Decimal("0.1"), 1),
        "peak": (dt.time(16, 0), dt.time(20, 0), Decimal("0.35"), 3),
        "standard": (None, None, Decimal("0.2"), 2),
    }
    tou = TimeOfUse.objects.get(site=site)
    assert (tou.enabled, tou.avoid_peak, tou.prefer_off_peak) == (True, True, True)
    assert (tou.target_mode, tou.ready_by) == ("time", dt.time(7, 0))
    assert "created period 'peak' of tariff 'time of use'" in report.lines()


@pytest.mark.django_db
def test_the_spec_grid_response_block_configures_the_levels():
    site = make_site(name="Home")
    GridResponse.objects.create(site=site, moderate_limit_percent=30, high_limit_percent=10)

    report = energy_config_import(data=yaml.safe_load(GRID_YAML), site=site)

    grid = GridResponse.objects.get(site=site)
    assert (grid.enabled, grid.moderate_limit_percent, grid.high_limit_percent) == (True, 50, 0)
    assert (grid.frequency_response_enabled, grid.low_frequency_hz, grid.high_frequency_hz) == (False, 49.5, 50.5)
    assert report.updated["grid response of site 'Home'"] == {
        "enabled": (False, True),
        "moderate_limit_percent": (30, 50),
        "high_limit_percent": (10, 0),
    }


@pytest.mark.django_db
def test_the_whole_spec_file_imports_in_one_go(settings):
    settings.TIME_ZONE = "Europe/London"

    report = config_file_import(data=whole_file())

    site = Site.objects.get()
    assert site.name == "Home"
    assert Charger.objects.filter(circuit__name="load balancing circuit").count() == 2
    assert SolarCharging.objects.get(site=site).mode == "solar_priority"
    assert TariffPeriod.objects.filter(tariff__site=site).count() == 3
    assert GridResponse.objects.get(site=site).enabled
    # The chargers were made by the ocpp part; their circuit is not reported as a change on top.
    assert "charger 'charger-garage'" in report.created
    assert "charger 'charger-garage'" not in report.updated
    assert not any(warning.startswith("energy") for warning in report.warnings), report.warnings


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (spec(ENERGY_YAML, (("energy",), "on")), "energy: must be a mapping"),
        (
            spec(ENERGY_YAML, (("energy", "solar_charging", "mode"), "sunny")),
            "energy.solar_charging.mode: must be one of solar_only, solar_priority, mixed",
        ),
        (
            spec(ENERGY_YAML, (("energy", "solar_charging", "min_surplus_w"), -1)),
            "energy.solar_charging.min_surplus_w: must be a whole number from 0 (watts)",
        ),
        (
            spec(ENERGY_YAML, (("energy", "solar_charging", "update_interval_seconds"), 0)),
            "energy.solar_charging.update_interval_seconds: must be a positive integer (seconds)",
        ),
        (
            spec(ENERGY_YAML, (("energy", "load_balancing", "circuit_limit_a"), "63A")),
            "energy.load_balancing.circuit_limit_a: must be a positive integer (amps)",
        ),
        (
            spec(ENERGY_YAML, (("energy", "load_balancing", "algorithm"), "fair")),
            "energy.load_balancing.algorithm: must be one of proportional, priority, round_robin",
        ),
        (
            spec(ENERGY_YAML, (("energy", "load_balancing", "enabled"), "yes")),
            "energy.load_balancing.enabled: must be true or false",
        ),
        (
            spec(ENERGY_YAML, (("energy", "tou", "ready_by"), "7am")),
            'energy.tou.ready_by: must be a time of day such as "07:00"',
        ),
        (
            spec(ENERGY_YAML, (("energy", "tou", "ready_by"), "25:00")),
            'energy.tou.ready_by: must be a time of day such as "07:00"',
        ),
        (
            spec(LOAD_BALANCING_YAML, (("load_balancing", "circuit", "phases"), 2)),
            "load_balancing.circuit.phases: must be 1 or 3",
        ),
        (
            spec(LOAD_BALANCING_YAML, (("load_balancing", "circuit", "max_current_a"), 0)),
            "load_balancing.circuit.max_current_a: must be a positive integer (amps)",
        ),
        (
            spec(LOAD_BALANCING_YAML, (("load_balancing", "chargers", 1, "id"), DELETE)),
            "load_balancing.chargers[1].id: missing",
        ),
        (
            spec(LOAD_BALANCING_YAML, (("load_balancing", "chargers", 1, "id"), "charger-garage")),
            "load_balancing.chargers[1]: 'charger-garage' is listed twice (also load_balancing.chargers[0])",
        ),
        (
            spec(LOAD_BALANCING_YAML, (("load_balancing", "chargers", 0, "max_current_a"), 16.5)),
            "load_balancing.chargers[0].max_current_a: must be a positive integer (amps)",
        ),
        (
            spec(LOAD_BALANCING_YAML, (("load_balancing", "chargers", 0, "supply_phase"), "L4")),
            "load_balancing.chargers[0].supply_phase: must be one of L1, L2, L3",
        ),
        (
            spec(LOAD_BALANCING_YAML, (("load_balancing", "priority", 1), "charger-garage")),
            "load_balancing.priority[1]: 'charger-garage' is listed twice (also load_balancing.priority[0])",
        ),
        (
            spec(LOAD_BALANCING_YAML, (("load_balancing", "rebalance", "min_interval_seconds"), "10s")),
            "load_balancing.rebalance.min_interval_seconds: must be a whole number from 0 (seconds)",
        ),
        (
            spec(SOLAR_YAML, (("solar_charging", "behavior", "mode"), "solar")),
            "solar_charging.behavior.mode: must be one of solar_only, solar_priority, mixed",
        ),
        (
            spec(SOLAR_YAML, (("solar_charging", "surplus", "min_surplus_w"), 1.4e3)),
            "solar_charging.surplus.min_surplus_w: must be a whole number from 0 (watts)",
        ),
        (
            spec(SOLAR_YAML, (("solar_charging", "behavior", "mixed", "max_grid_w"), None)),
            "solar_charging.behavior.mixed.max_grid_w: must be a whole number from 0 (watts)",
        ),
        (
            spec(SOLAR_YAML, (("solar_charging", "smoothing", "window_seconds"), 0)),
            "solar_charging.smoothing.window_seconds: must be a positive integer (seconds)",
        ),
        (
            spec(SOLAR_YAML, (("solar_charging", "behavior", "solar_only", "stop_if_no_surplus"), "no")),
            "solar_charging.behavior.solar_only.stop_if_no_surplus: must be true or false",
        ),
        (
            spec(TOU_YAML, (("tou_charging", "periods", 0, "rate_per_kwh"), "10p")),
            "tou_charging.periods[0].rate_per_kwh: must be a number from 0 to 9999.9999",
        ),
        (
            spec(TOU_YAML, (("tou_charging", "periods", 0, "rate_per_kwh"), 0.123456)),
            "tou_charging.periods[0].rate_per_kwh: at most 4 decimal places",
        ),
        (
            spec(TOU_YAML, (("tou_charging", "periods", 1, "end"), None)),
            "tou_charging.periods[1]: give both start and end, or neither",
        ),
        (
            spec(TOU_YAML, (("tou_charging", "periods", 1, "end"), "16:00")),
            "tou_charging.periods[1].end: equals start",
        ),
        (
            spec(TOU_YAML, (("tou_charging", "periods", 1, "name"), "off_peak")),
            "tou_charging.periods[1].name: 'off_peak' is listed twice (also tou_charging.periods[0])",
        ),
        (
            spec(
                TOU_YAML, (("tou_charging", "periods", 0, "start"), None), (("tou_charging", "periods", 0, "end"), None)
            ),
            "tou_charging.periods[2]: only one period can cover all other times (also tou_charging.periods[0])",
        ),
        (spec(TOU_YAML, (("tou_charging", "periods", 2, "name"), DELETE)), "tou_charging.periods[2].name: missing"),
        (
            spec(TOU_YAML, (("tou_charging", "target", "mode"), "range")),
            "tou_charging.target.mode: must be one of time, energy, soc",
        ),
        (
            spec(TOU_YAML, (("tou_charging", "target", "soc_percent"), 120)),
            "tou_charging.target.soc_percent: must be at most 100 (percent)",
        ),
        (
            spec(GRID_YAML, (("grid_response", "demand_response", "levels", "normal", "limit_percent"), 90)),
            "grid_response.demand_response.levels.normal.limit_percent: must be 100",
        ),
        (
            spec(GRID_YAML, (("grid_response", "demand_response", "levels", "moderate", "limit_percent"), 150)),
            "grid_response.demand_response.levels.moderate.limit_percent: must be at most 100 (percent)",
        ),
        (
            spec(GRID_YAML, (("grid_response", "frequency_response", "low_frequency_hz"), "49.5Hz")),
            "grid_response.frequency_response.low_frequency_hz: must be a number from 40 to 70 (hertz)",
        ),
        ({"circuits": [{"max_current_a": 16}]}, "circuits[0].name: missing"),
        (
            {"circuits": [{"name": "a", "parent": "b"}, {"name": "b", "parent": "a"}]},
            "circuits[0].parent: makes a loop (a -> b -> a)",
        ),
        (
            {"circuits": [{"name": "a"}, {"name": "a"}]},
            "circuits[1].name: 'a' is listed twice (also circuits[0])",
        ),
    ],
)
def test_invalid_energy_settings_are_refused_with_the_path_of_the_problem(data, error):
    with pytest.raises(ConfigError) as raised:
        energy_config_parse(data=data)

    assert any(message.startswith(error) for message in raised.value.errors), raised.value.errors


def test_every_problem_in_the_energy_settings_is_reported_at_once():
    data = {
        **spec(SOLAR_YAML, (("solar_charging", "behavior", "mode"), "solar")),
        **spec(GRID_YAML, (("grid_response", "enabled"), "yes")),
        **spec(TOU_YAML, (("tou_charging", "target", "ready_by"), "noon")),
    }

    with pytest.raises(ConfigError) as raised:
        energy_config_parse(data=data)

    assert len(raised.value.errors) == 3


def test_unknown_keys_are_warnings_and_fixed_behaviour_set_to_false_is_a_note():
    data = spec(
        LOAD_BALANCING_YAML,
        (("load_balancing", "colour"), "red"),
        (("load_balancing", "rebalance", "on_power_change"), False),
    )

    config = energy_config_parse(data=data)

    assert config.warnings == ["load_balancing.colour: unknown key; ignored"]
    assert len(config.notes) == 1
    assert config.notes[0].startswith("load_balancing.rebalance.on_power_change: false is ignored; ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('ready_by: "07:00"', dt.time(7, 0)),
        ("ready_by: 07:00", dt.time(7, 0)),  # a leading zero keeps it a string
        ("ready_by: 7:00", dt.time(7, 0)),  # YAML 1.1 base 60: the number 420
        ("ready_by: 16:30", dt.time(16, 30)),  # 990
        ("ready_by: 23:59", dt.time(23, 59)),
        ('ready_by: "24:00"', dt.time(0, 0)),
        ("ready_by: 24:00", dt.time(0, 0)),  # 1440
        ('ready_by: "06:30:15"', dt.time(6, 30, 15)),
    ],
)
def test_times_are_read_quoted_or_as_yaml_reads_them_unquoted(text, expected):
    data = {"energy": {"tou": yaml.safe_load(text)}}

    assert energy_config_parse(data=data).tou.values["ready_by"] == expected


@pytest.mark.parametrize(
    "text",
    [
        "ready_by: 7",  # a number below 60 cannot come from h:mm
        "ready_by: 10:00:00",  # base 60: 36000 seconds, not minutes
        "ready_by: 24:01",
        "ready_by: true",
        "ready_by: 7.5",
    ],
)
def test_numbers_that_are_not_unquoted_times_are_refused(text):
    data = {"energy": {"tou": yaml.safe_load(text)}}

    with pytest.raises(ConfigError, match=r'^energy\.tou\.ready_by: must be a time of day such as "07:00"'):
        energy_config_parse(data=data)


@pytest.mark.django_db
def test_unquoted_tariff_times_import_like_quoted_ones():
    site = make_site(name="Home")
    unquoted = TOU_YAML.replace('"16:00"', "16:00").replace('"20:00"', "20:00").replace('"07:00"', "7:00")
    assert yaml.safe_load(unquoted)["tou_charging"]["periods"][1]["start"] == 960

    energy_config_import(data=yaml.safe_load(unquoted), site=site)
    report = energy_config_import(data=yaml.safe_load(TOU_YAML), site=site)

    assert not report.changed, report.lines()
    peak = TariffPeriod.objects.get(name="peak")
    assert (peak.start, peak.end) == (dt.time(16, 0), dt.time(20, 0))
    assert TimeOfUse.objects.get(site=site).ready_by == dt.time(7, 0)


@pytest.mark.django_db
def test_importing_the_same_file_twice_changes_nothing_the_second_time():
    config_file_import(data=whole_file())
    before = database()

    report = config_file_import(data=whole_file())

    assert not report.changed, report.lines()
    assert report.lines()[-1] == "Nothing changed."
    assert database() == before
    assert "unchanged circuit 'load balancing circuit'" in report.lines()
    assert "unchanged period 'standard' of tariff 'time of use'" in report.lines()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            [(("solar_charging", "behavior", "mode"), "solar_only")],
            "energy.solar_charging.mode: 'solar_priority' disagrees with solar_charging.behavior.mode: 'solar_only'",
        ),
        (
            [(("solar_charging", "surplus", "min_surplus_w"), 2000)],
            "energy.solar_charging.min_surplus_w: 1400 disagrees with solar_charging.surplus.min_surplus_w: 2000",
        ),
        (
            [(("solar_charging", "enabled"), False)],
            "energy.solar_charging.enabled: true disagrees with solar_charging.enabled: false",
        ),
        (
            [(("load_balancing", "algorithm"), "priority")],
            "energy.load_balancing.algorithm: 'proportional' disagrees with load_balancing.algorithm: 'priority'",
        ),
        (
            [(("tou_charging", "target", "ready_by"), "06:30")],
            "energy.tou.ready_by: '07:00' disagrees with tou_charging.target.ready_by: '06:30'",
        ),
        (
            [(("tou_charging", "behavior", "avoid_peak"), False)],
            "energy.tou.avoid_peak: true disagrees with tou_charging.behavior.avoid_peak: false",
        ),
        (
            [(("site",), {"name": "Home", "circuit_limit_a": 40})],
            "site.circuit_limit_a: 40 disagrees with energy.load_balancing.circuit_limit_a: 63",
        ),
        (
            [(("load_balancing", "chargers", 0, "max_current_a"), 16)],
            "load_balancing.chargers[0].max_current_a: 16 A disagrees with ocpp.chargers[0].max_power_w: 7400 W",
        ),
    ],
)
def test_the_energy_section_and_a_block_that_disagree_are_refused_and_nothing_changes(changes, message):
    config_file_import(data=whole_file((("grid_response", "enabled"), False)))
    before = database()

    with pytest.raises(ConfigError) as raised:
        config_file_import(data=whole_file(*changes))

    assert any(error.startswith(message) for error in raised.value.errors), raised.value.errors
    assert database() == before


def test_the_spec_examples_verbatim_disagree_about_the_solar_mode():
    with pytest.raises(ConfigError) as raised:
        config_file_import(data=yaml.safe_load(SPEC_YAML + SPEC_BLOCKS))

    assert raised.value.errors == [
        "energy.solar_charging.mode: 'solar_priority' disagrees with solar_charging.behavior.mode: 'solar_only'; "
        "give one of them or make them equal"
    ]


@pytest.mark.django_db
def test_keys_left_out_leave_values_as_they_are():
    site = make_site(name="Home")
    energy_config_import(data=yaml.safe_load(SOLAR_YAML), site=site)
    SolarCharging.objects.filter(site=site).update(min_surplus_w=2000, stop_delay_s=600)

    report = energy_config_import(data={"solar_charging": {"enabled": True, "behavior": {"mode": "mixed"}}}, site=site)

    solar = SolarCharging.objects.get(site=site)
    assert (solar.mode, solar.min_surplus_w, solar.stop_delay_s) == ("mixed", 2000, 600)
    assert report.updated == {"solar charging of site 'Home'": {"mode": ("solar_only", "mixed")}}


@pytest.mark.django_db
def test_turning_smoothing_off_and_on_again():
    site = make_site(name="Home")
    energy_config_import(data=yaml.safe_load(SOLAR_YAML), site=site)

    report = energy_config_import(data=spec(SOLAR_YAML, (("solar_charging", "smoothing", "enabled"), False)), site=site)

    assert SolarCharging.objects.get(site=site).window_s == 0
    assert report.notes == ["solar_charging.smoothing.window_seconds: ignored while smoothing.enabled is false"]
    energy_config_import(data={"solar_charging": {"smoothing": {"enabled": True}}}, site=site)
    assert SolarCharging.objects.get(site=site).window_s == 300


@pytest.mark.django_db
def test_tariff_periods_are_made_to_match_the_file_exactly():
    site = make_site(name="Home")
    tariff = Tariff.objects.create(site=site, name="Night saver")
    TariffPeriod.objects.create(tariff=tariff, name="night", start=dt.time(0), end=dt.time(5), rate_per_kwh="0.07")
    TariffPeriod.objects.create(tariff=tariff, name="peak", start=None, end=None, rate_per_kwh="0.40", priority=3)

    report = energy_config_import(data=yaml.safe_load(TOU_YAML), site=site)

    # The site's active tariff keeps its name; "peak" stops being the default period.
    assert Tariff.objects.get(site=site) == tariff
    assert sorted(tariff.periods.values_list("name", flat=True)) == ["off_peak", "peak", "standard"]
    assert report.updated["tariff 'Night saver'"] == {"periods": ("night, peak", "off_peak, peak, standard")}
    assert report.updated["period 'peak' of tariff 'Night saver'"]["start"] == (None, dt.time(16, 0))


@pytest.mark.django_db
def test_time_of_use_targets_by_energy_or_charge_need_their_amounts():
    site = make_site(name="Home")

    with pytest.raises(
        ConfigError, match=r"^tou_charging\.target\.mode: 'soc' needs tou_charging\.target\.soc_percent"
    ):
        energy_config_import(
            data={"tou_charging": {"target": {"mode": "soc", "battery_capacity_wh": 60000}}}, site=site
        )
    assert not TimeOfUse.objects.exists()

    target = {"mode": "energy", "ready_by": "06:00", "energy_wh": 20000}
    energy_config_import(data={"tou_charging": {"target": target}}, site=site)
    tou = TimeOfUse.objects.get(site=site)
    assert (tou.target_mode, tou.target_energy_wh, tou.ready_by) == ("energy", 20000, dt.time(6))
    # null clears an amount; the energy mode then has nothing to aim at.
    with pytest.raises(ConfigError, match=r"'energy' needs tou_charging\.target\.energy_wh"):
        energy_config_import(data={"tou_charging": {"target": {"energy_wh": None}}}, site=site)
    energy_config_import(data={"tou_charging": {"target": {"mode": "time", "energy_wh": None}}}, site=site)
    tou.refresh_from_db()
    assert (tou.target_mode, tou.target_energy_wh) == ("time", None)


@pytest.mark.django_db
def test_a_load_balancing_charger_that_is_not_on_the_site_is_refused():
    site = make_site(name="Home")
    make_charger(charge_point_id="charger-garage", site=site)
    make_charger(charge_point_id="charger-driveway", site=make_site(name="Cottage"))
    before = database()

    with pytest.raises(ConfigError) as raised:
        energy_config_import(
            data=spec(LOAD_BALANCING_YAML, (("load_balancing", "priority"), ["charger-shed"])), site=site
        )

    assert raised.value.errors == [
        "load_balancing.chargers[1]: charger 'charger-driveway' is on site 'Cottage', not 'Home'",
        "load_balancing.priority[0]: no charger 'charger-shed' (list it in ocpp.chargers, or let it connect first)",
    ]
    assert database() == before


@pytest.mark.django_db
def test_a_priority_list_keeps_priorities_that_already_rise_in_its_order():
    site = make_site(name="Home")
    make_charger(charge_point_id="a", site=site, priority=5)
    make_charger(charge_point_id="b", site=site, priority=7)
    make_charger(charge_point_id="c", site=site, priority=7)

    kept = energy_config_import(data={"load_balancing": {"priority": ["a", "b"]}}, site=site)
    renumbered = energy_config_import(data={"load_balancing": {"priority": ["b", "a"]}}, site=site)

    assert not kept.changed
    assert kept.notes == ["not in load_balancing.priority, priority left as it is: c"]
    assert dict(Charger.objects.values_list("charge_point_id", "priority")) == {"a": 1, "b": 0, "c": 7}
    assert renumbered.updated["charger 'b'"] == {"priority": (7, 0)}


@pytest.mark.django_db
def test_a_circuits_list_builds_a_deeper_fuse_tree():
    site = make_site(name="Home")
    spec_chargers(site)
    data = {
        "circuits": [
            {"name": "garage sub-board", "max_current_a": 16, "phases": 1, "supply_phase": "L2", "parent": "house"},
            {"name": "house", "max_current_a": 40, "phases": 3, "chargers": ["charger-driveway"]},
        ]
    }
    data["circuits"][0]["chargers"] = [{"id": "charger-garage", "supply_phase": "L2"}]

    energy_config_import(data=data, site=site)

    house = Circuit.objects.get(name="house")
    board = Circuit.objects.get(name="garage sub-board")
    assert (board.parent, board.phases, board.supply_phase, board.max_current_a) == (house, 1, "L2", 16)
    chargers = {c.charge_point_id: (c.circuit, c.supply_phase) for c in Charger.objects.all()}
    assert chargers == {"charger-garage": (board, "L2"), "charger-driveway": (house, "L1")}
    with pytest.raises(
        ConfigError, match=r"^circuits\[0\]\.parent: makes a loop \(house -> garage sub-board -> house\)"
    ):
        energy_config_import(data={"circuits": [{"name": "house", "parent": "garage sub-board"}]}, site=site)


@pytest.mark.django_db
def test_importing_an_export_changes_nothing():
    site = make_site(name="Home", time_zone="Europe/Berlin", circuit_limit_a=35, algorithm="priority")
    main = make_circuit(site=site, name="main", max_current_a=40)
    board = make_circuit(site=site, name="board", max_current_a=16, phases=1, supply_phase="L3", parent=main)
    make_charger(charge_point_id="a", site=site, circuit=main, phases=3, max_power_w=11000, priority=2)
    make_charger(charge_point_id="b", site=site, circuit=board, max_power_w=3680, supply_phase="L3", priority=1)
    make_charger(charge_point_id="c", site=site, max_power_w=100, priority=0)
    SolarCharging.objects.create(site=site, enabled=True, mode="mixed", window_s=0, start_delay_s=0)
    TimeOfUse.objects.create(site=site, target_mode="soc", target_soc_percent=80, battery_capacity_wh=64000)
    GridResponse.objects.create(site=site, frequency_response_enabled=True, low_frequency_hz=49.8)
    tariff = Tariff.objects.create(site=site, name="Agile")
    TariffPeriod.objects.create(
        tariff=tariff, name="night", start=dt.time(23, 30), end=dt.time(5, 30), rate_per_kwh="0.0712"
    )
    TariffPeriod.objects.create(tariff=tariff, name="day", rate_per_kwh="0.2450", priority=3)
    before = database()
    exported = config_file_export()

    # Through YAML text, as the commands do.
    report = config_file_import(data=yaml.safe_load(yaml.safe_dump(exported, sort_keys=False)))

    assert not report.changed, report.lines()
    assert database() == before
    assert config_file_export() == exported
    assert [c["name"] for c in exported["circuits"]] == ["main", "board"]
    assert exported["load_balancing"]["priority"] == ["c", "b", "a"]
    assert exported["solar_charging"]["smoothing"] == {"enabled": False}


@pytest.mark.django_db
def test_an_export_of_the_spec_file_has_the_spec_layout():
    config_file_import(data=whole_file())

    exported = config_file_export()

    assert list(exported) == ["site", "ocpp", *yaml.safe_load(SPEC_BLOCKS)]
    assert exported["energy"] == yaml.safe_load(ENERGY_YAML)["energy"]
    assert exported["load_balancing"]["circuit"] == {"name": "load balancing circuit", "max_current_a": 32, "phases": 3}
    assert exported["load_balancing"]["chargers"] == [
        {"id": "charger-driveway", "max_current_a": 32},
        {"id": "charger-garage", "max_current_a": 32, "supply_phase": "L1"},
    ]
    assert exported["tou_charging"]["periods"] == yaml.safe_load(TOU_YAML)["tou_charging"]["periods"]
    assert (
        exported["grid_response"]
        == spec(GRID_YAML, (("grid_response", "demand_response", "source"), DELETE))["grid_response"]
    )
    report = config_file_import(data=yaml.safe_load(yaml.safe_dump(exported)))
    assert not report.changed, report.lines()


@pytest.mark.django_db
def test_equal_priorities_are_left_out_of_an_export():
    site = make_site(name="Home")
    make_charger(charge_point_id="a", site=site)
    make_charger(charge_point_id="b", site=site)

    exported = energy_config_export(site=site)

    assert "priority" not in exported["load_balancing"]
    assert "solar_charging" not in exported  # never set up: not invented


@pytest.mark.django_db
def test_a_file_with_only_energy_settings_applies_them_to_the_only_site():
    site = make_site(name="Cottage")

    report = config_file_import(data=yaml.safe_load(GRID_YAML))

    assert GridResponse.objects.get().site == site
    assert report.created == ["grid response of site 'Cottage'"]


def test_a_file_with_nothing_to_import_is_refused():
    with pytest.raises(ConfigError, match="nothing to import"):
        config_file_import(data={"site": {"name": "Home"}, "colour": "red"})


@pytest.mark.django_db
def test_the_import_command_reads_the_example_file(settings, monkeypatch):
    settings.TIME_ZONE = "Europe/London"
    monkeypatch.setenv("OCPP_CHARGER_GARAGE_PW", "garage-password")
    monkeypatch.setenv("OCPP_CHARGER_DRIVEWAY_PW", "driveway-password")
    out = StringIO()

    call_command("import_config", str(EXAMPLE_FILE), stdout=out)
    again = StringIO()
    call_command("import_config", str(EXAMPLE_FILE), stdout=again)

    assert "created charger 'charger-garage'" in out.getvalue()
    assert "created circuit 'load balancing circuit'" in out.getvalue()
    assert "created tariff 'time of use'" in out.getvalue()
    assert "warning:" not in out.getvalue()
    assert again.getvalue().endswith("Nothing changed.\n")
    assert SolarCharging.objects.get().mode == "solar_priority"
    assert yaml.safe_load(EXAMPLE_FILE.read_text())["energy"] == yaml.safe_load(ENERGY_YAML)["energy"]


@pytest.mark.django_db
def test_the_import_command_names_energy_errors_and_changes_nothing(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(SPEC_YAML + SPEC_BLOCKS)

    with pytest.raises(CommandError, match="nothing was changed") as raised:
        call_command("import_config", str(path), stdout=StringIO())

    assert "energy.solar_charging.mode: 'solar_priority' disagrees with solar_charging.behavior.mode" in str(
        raised.value
    )
    assert not Site.objects.exists()


@pytest.mark.django_db
def test_the_export_command_writes_the_energy_settings_too(tmp_path):
    config_file_import(data=whole_file())
    out = StringIO()

    call_command("export_config", str(tmp_path / "out.yaml"), stdout=out)

    assert yaml.safe_load((tmp_path / "out.yaml").read_text()) == config_file_export()
    assert out.getvalue().startswith("Wrote 2 chargers and energy, load_balancing, solar_charging, tou_charging")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"circuits": [{"name": "sub-board", "max_current_a": 20, "phases": 1, "supply_phase": "L2", "parent": None}]},
    ],
    ids=["the spec's file", "with a deeper fuse tree"],
)
def test_export_import_export_into_an_empty_database_gives_the_same_text(extra):
    config_file_import(data={**whole_file(), **extra})
    first = yaml.safe_dump(config_file_export(), sort_keys=False)
    Charger.objects.all().delete()
    Site.objects.all().delete()

    config_file_import(data=yaml.safe_load(first))

    assert yaml.safe_dump(config_file_export(), sort_keys=False) == first


def test_a_key_spelled_like_the_column_is_an_unknown_key_not_a_value():
    config = energy_config_parse(data={"solar_charging": {"update_interval_s": 5, "smoothing": {"window_s": 30}}})

    assert config.warnings == [
        "solar_charging.update_interval_s: unknown key; ignored",
        "solar_charging.smoothing.window_s: unknown key; ignored",
    ]
    assert config.solar.values == {}
