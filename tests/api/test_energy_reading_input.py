"""POST /api/v1/energy/readings: a reading dated ahead of the server's clock is refused with a
clear error and stores nothing (issue 25, item 1: one dated 9999 stayed "the newest" for ever and
blinded load balancing and the meter fail-safe). A meter whose clock runs a little ahead is fine."""

import datetime as dt

import pytest
from django.utils import timezone

from energy.models import READING_MAX_AHEAD, EnergyReading
from tests.api.helpers import make_user, token_client
from tests.factories import make_site

pytestmark = pytest.mark.django_db


def post_reading(client, **body):
    return client.post("/api/v1/energy/readings", body, format="json")


@pytest.mark.parametrize(
    "measured_at",
    ["9999-12-31T23:59:59Z", (timezone.now() + READING_MAX_AHEAD + dt.timedelta(minutes=1)).isoformat()],
    ids=["year 9999", "six minutes ahead"],
)
def test_a_reading_dated_ahead_of_the_servers_clock_is_refused_and_stores_nothing(measured_at):
    site = make_site()
    client = token_client(make_user(sites=(site,)))

    response = post_reading(client, grid_w=500, measured_at=measured_at)

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid", body
    assert "ahead of the server's clock" in str(body["fields"]["measured_at"])
    assert not EnergyReading.objects.filter(site=site).exists()


def test_a_meter_whose_clock_runs_a_little_ahead_is_taken():
    site = make_site()
    client = token_client(make_user(sites=(site,)))
    measured_at = timezone.now() + dt.timedelta(minutes=2)

    response = post_reading(client, grid_w=500, measured_at=measured_at.isoformat())

    assert response.status_code == 201, response.json()
    assert EnergyReading.objects.get(site=site).measured_at == measured_at
