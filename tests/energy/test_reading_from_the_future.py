"""A main-meter reading dated far ahead (year 9999, left by an old version or written straight
into the database) changes nothing energy control decides (issue 25, item 1: it stayed the
site's newest for ever, so a house load rising to 30 A on a 32 A fuse left the car at 24 A and
a silent meter never brought the fail-safe)."""

import datetime as dt

import pytest
from django.utils import timezone

from energy.models import EnergyReading, Site
from energy.services import site_control_run
from tests.factories import make_charger, make_site

pytestmark = pytest.mark.django_db(transaction=True)

YEAR_9999 = dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.UTC)
# Below this a charger cannot charge (6 A on one phase).
LEAST_CHARGING_W = 6 * 230


def decided(site: Site) -> list[tuple[int, str]]:
    """Each charger's limit and reason from a control run of the site."""
    run = site_control_run(site=site, trigger="test")
    return sorted((d.limit_w, d.reason) for d in run.decisions.values())


def site_with_readings(*readings: tuple[dt.datetime, float], **site_fields) -> Site:
    """A 32 A site with one 7.4 kW charger (it reports no smart charging: profiles are refused
    at once) and main-meter readings as (measured at, L1 amps)."""
    site = make_site(circuit_limit_a=32, **site_fields)
    make_charger(site=site, is_connected=True, supported_feature_profiles="Core")
    for measured_at, grid_l1_a in readings:
        EnergyReading.objects.create(site=site, measured_at=measured_at, grid_l1_a=grid_l1_a)
    return site


def test_the_house_load_rising_still_lowers_the_car_beside_a_reading_from_9999():
    now = timezone.now()
    house_at_30_a = (now - dt.timedelta(seconds=5), 30.0)
    from_the_future = (YEAR_9999, 1.0)

    alone = decided(site_with_readings(house_at_30_a))
    beside = decided(site_with_readings(house_at_30_a, from_the_future))

    assert beside == alone
    [(limit_w, _)] = beside
    assert limit_w < LEAST_CHARGING_W, "30 A of house load leaves the car less than it can charge with"


def test_a_silent_meter_still_brings_the_fail_safe_beside_a_reading_from_9999():
    now = timezone.now()
    ten_minutes_ago = (now - dt.timedelta(minutes=10), 1.0)
    silent = {"meter_timeout_s": 60, "failsafe_current_a": 6}

    alone = decided(site_with_readings(ten_minutes_ago, **silent))
    beside = decided(site_with_readings(ten_minutes_ago, (YEAR_9999, 1.0), **silent))

    assert beside == alone
    [(limit_w, reason)] = beside
    assert limit_w == LEAST_CHARGING_W
    assert reason.startswith("main meter silent since")
