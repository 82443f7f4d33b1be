"""Which main-meter reading energy control takes for each site: the newest by when it was
measured, whatever order readings arrived in."""

import datetime as dt

import pytest

from energy.models import EnergyReading
from energy.selectors import latest_readings
from tests.factories import make_site

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 1, 13, 10, 0, tzinfo=dt.UTC)

# Readings in the order they arrive, as (seconds before NOW, grid_l1_a); the expected grid_l1_a
# of the reading taken, or None when the site has none.
CASES = {
    "no reading": ([], None),
    "one": ([(0, 10.0)], 10.0),
    "newest of several": ([(20, 10.0), (10, 11.0), (0, 12.0)], 12.0),
    "a late arrival measured earlier does not win": ([(0, 12.0), (30, 9.0)], 12.0),
    "same instant: the one stored last": ([(5, 10.0), (5, 14.0)], 14.0),
    # A meter whose clock runs a little ahead still counts; one dated far ahead (year 9999, a
    # reset clock) would stay "the newest" until then and blind control: it never counts.
    "a few minutes ahead counts": ([(0, 12.0), (-240, 13.0)], 13.0),
    "far ahead never counts": ([(0, 12.0), (-3600, 30.0)], 12.0),
    "only far ahead: no current reading": ([(-86400 * 365, 30.0)], None),
}


@pytest.mark.parametrize(("readings", "expected_l1_a"), CASES.values(), ids=CASES.keys())
def test_latest_readings(readings, expected_l1_a):
    site, neighbour = make_site(), make_site()
    EnergyReading.objects.create(site=neighbour, measured_at=NOW + dt.timedelta(minutes=1), grid_l1_a=99.0)
    for seconds_before, grid_l1_a in readings:
        EnergyReading.objects.create(
            site=site, measured_at=NOW - dt.timedelta(seconds=seconds_before), grid_l1_a=grid_l1_a
        )

    latest = latest_readings(site_pks=[site.pk, neighbour.pk], now=NOW)

    assert latest[neighbour.pk].grid_l1_a == 99.0
    assert (latest[site.pk].grid_l1_a if site.pk in latest else None) == expected_l1_a
