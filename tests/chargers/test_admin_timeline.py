"""The admin charger page's "why this limit" timeline: a real control run's decision, read in words
on the site's clock."""

import datetime as dt
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from energy.models import EnergyReading, LimitDecision
from energy.services import site_control_run
from tests.factories import make_charger, make_site

pytestmark = pytest.mark.django_db(transaction=True)

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def test_the_timeline_names_the_meter_fail_safe_in_words_to_the_second_on_the_sites_clock(admin_client):
    site = make_site(name="Home", time_zone="Europe/Paris", failsafe_current_a=6, meter_timeout_s=60)
    silent_since = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=10)
    EnergyReading.objects.create(site=site, measured_at=silent_since, grid_l1_a=1)
    # Reports no SmartCharging: the profile is refused at once, and the decision is kept all the same.
    charger = make_charger(site=site, name="Garage", is_connected=True, supported_feature_profiles="Core")

    site_control_run(site=site, trigger="test")

    decision = LimitDecision.objects.get(charger=charger)
    assert (decision.source, decision.limit_w) == ("failsafe", 1380)
    page = admin_client.get(reverse("admin:chargers_charger_change", args=[charger.pk])).content.decode()
    timeline = page.split('id="limit_decisions-group"')[1].split("</fieldset>")[0]
    assert f"Main meter silent since {silent_since.astimezone(PARIS):%H:%M:%S} — held at 6 A for safety" in timeline
    assert "meter fail-safe" in timeline and "fuse" not in timeline
    assert f"{decision.decided_at.astimezone(PARIS):%d %b %Y %H:%M:%S %Z}" in timeline
    assert "Garage: 1,380 W, meter fail-safe" in timeline  # the row's title: the charger's name and words
    assert f"{charger.pk}: 1380 W" not in timeline
