"""The site's feed-in rate in the configuration file (`tariff.feed_in_per_kwh`, an extension next
to tou_charging's periods): imported, refused with its path when wrong, exported and imported back
unchanged, and every existing key still importable beside it."""

from decimal import Decimal
from io import StringIO

import pytest
import yaml
from django.core.management import call_command

from chargers.models import Charger
from energy.configuration import ConfigError, config_file_export, config_file_import, energy_config_parse
from energy.models import Site, TariffPeriod
from tests.energy.test_energy_configuration import TOU_YAML, whole_file

OUT_OF_RANGE = "tariff.feed_in_per_kwh: must be a number from -100 to 100 (what an exported kWh earns)"
FEED_IN_YAML = """\
tariff:
  feed_in_per_kwh: 0.15
"""


@pytest.mark.django_db
def test_the_import_command_sets_the_feed_in_rate_beside_the_whole_spec_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(whole_file(), sort_keys=False) + FEED_IN_YAML)
    out = StringIO()

    call_command("import_config", str(path), stdout=out)

    site = Site.objects.get()
    assert site.feed_in_per_kwh == Decimal("0.15")
    # The spec's blocks went in as before, the tariff's periods among them.
    assert sorted(TariffPeriod.objects.values_list("name", flat=True)) == ["off_peak", "peak", "standard"]
    assert site.chargers.count() == 2
    lines = out.getvalue().splitlines()
    assert "updated tariff of site 'Home': feed_in_per_kwh 0 -> 0.15" in lines
    assert not [line for line in lines if line.startswith("warning: tariff")]


@pytest.mark.django_db
def test_changing_the_feed_in_rate_is_reported_and_a_file_without_it_leaves_it():
    config_file_import(data=whole_file())
    assert Site.objects.get().feed_in_per_kwh == 0  # the default: exports earn nothing

    report = config_file_import(data={**whole_file(), "tariff": {"feed_in_per_kwh": -0.05}})
    config_file_import(data=whole_file())

    assert report.updated["tariff of site 'Home'"] == {"feed_in_per_kwh": (Decimal("0.0000"), Decimal("-0.05"))}
    assert Site.objects.get().feed_in_per_kwh == Decimal("-0.05")  # export costs on some dynamic tariffs


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("cheap", OUT_OF_RANGE),
        (True, OUT_OF_RANGE),
        (None, OUT_OF_RANGE),
        (100.5, OUT_OF_RANGE),
        (float("nan"), OUT_OF_RANGE),
        (0.12345, "tariff.feed_in_per_kwh: at most 4 decimal places"),
    ],
)
def test_a_bad_feed_in_rate_is_refused_with_its_path(value, error):
    with pytest.raises(ConfigError) as refused:
        energy_config_parse(data={"tariff": {"feed_in_per_kwh": value}})

    assert refused.value.errors == [error]


@pytest.mark.django_db
def test_a_bad_feed_in_rate_changes_nothing():
    with pytest.raises(ConfigError):
        config_file_import(data={**whole_file(), "tariff": {"feed_in_per_kwh": 101}})

    assert not Site.objects.exists()


def test_an_unknown_key_in_the_tariff_block_is_a_warning():
    config = energy_config_parse(data={"tariff": {"feed_in_per_kwh": 0.1, "export_cap_w": 3000}})

    assert config.warnings == ["tariff.export_cap_w: unknown key; ignored"]
    assert config.tariff.values == {"feed_in_per_kwh": Decimal("0.1")}


@pytest.mark.django_db
def test_the_feed_in_rate_round_trips_through_an_export():
    config_file_import(data={**whole_file(), "tariff": {"feed_in_per_kwh": 0.0825}})
    exported = config_file_export()
    first = yaml.safe_dump(exported, sort_keys=False)
    assert exported["tariff"] == {"feed_in_per_kwh": 0.0825}
    assert list(exported).index("tariff") == list(exported).index("tou_charging") + 1

    again = config_file_import(data=yaml.safe_load(first))
    assert not again.changed, again.lines()
    Charger.objects.all().delete()
    Site.objects.all().delete()
    config_file_import(data=yaml.safe_load(first))

    assert Site.objects.get().feed_in_per_kwh == Decimal("0.0825")
    assert yaml.safe_dump(config_file_export(), sort_keys=False) == first


@pytest.mark.django_db
def test_an_export_leaves_the_tariff_block_out_at_the_default():
    config_file_import(data=yaml.safe_load(TOU_YAML) | {"site": {"name": "Home"}})

    assert "tariff" not in config_file_export()
