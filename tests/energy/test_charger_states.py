"""Which chargers of a site energy control steers, and whether a car wants power at each, as read
from the database (connector statuses) for the control core."""

import datetime as dt

import pytest

from chargers.models import Charger, Connector
from energy.selectors import Draw, charger_states, sites_chargers
from tests.factories import make_charger, make_site

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 1, 13, 10, 0, tzinfo=dt.UTC)

# The charger's connector statuses by connector id -> whether a car wants power there.
CASES = {
    "no connector reported yet": ({}, True),
    "available": ({1: "Available"}, False),
    "charging": ({1: "Charging"}, True),
    "suspended by the car still wants": ({1: "SuspendedEV"}, True),
    "one idle, one charging": ({1: "Available", 2: "Charging"}, True),
    "all idle": ({1: "Finishing", 2: "Faulted"}, False),
    "a status not known yet counts as wanting": ({1: ""}, True),
}


@pytest.mark.parametrize(("statuses", "wants_power"), CASES.values(), ids=CASES.keys())
def test_wants_power_follows_the_connectors(statuses, wants_power):
    site = make_site()
    charger = make_charger(site=site)
    for connector_id, status in statuses.items():
        Connector.objects.create(charger=charger, connector_id=connector_id, status=status)
    neighbour = make_charger(site=site)
    Connector.objects.create(charger=neighbour, connector_id=1, status="Charging")

    chargers = sites_chargers(site_pks=[site.pk])[site.pk]
    states = charger_states(chargers=chargers, draws={c.pk: Draw(None, None) for c in chargers}, now=NOW)

    assert {s.id: s.wants_power for s in states} == {str(charger.pk): wants_power, str(neighbour.pk): True}


def test_only_the_sites_enabled_accepted_chargers_are_steered():
    site, other_site = make_site(), make_site()
    steered = make_charger(site=site)
    make_charger(site=site, enabled=False)
    make_charger(site=site, registration=Charger.Registration.PENDING)
    elsewhere = make_charger(site=other_site)

    by_site = sites_chargers(site_pks=[site.pk, other_site.pk])

    assert [c.pk for c in by_site[site.pk]] == [steered.pk]
    assert [c.pk for c in by_site[other_site.pk]] == [elsewhere.pk]


@pytest.mark.parametrize(
    ("configuration", "switches"),
    [
        (None, True),  # never probed: the installer's setting
        ([{"key": "NumberOfConnectors", "value": "1"}], True),  # a 1.6 charger's GetConfiguration
        ({"SmartChargingCtrlr.Phases3to1": "true"}, True),
        ({"SmartChargingCtrlr.Phases3to1": "false"}, False),  # it would reject every 1-phase profile
    ],
)
def test_phase_switching_follows_the_installer_unless_the_station_says_it_cannot(configuration, switches):
    site = make_site()
    make_charger(site=site, phases=3, max_power_w=11000, can_switch_phases=True, configuration=configuration)

    chargers = sites_chargers(site_pks=[site.pk])[site.pk]
    (state,) = charger_states(chargers=chargers, draws={c.pk: Draw(None, None) for c in chargers}, now=NOW)

    assert state.can_switch_phases is switches
