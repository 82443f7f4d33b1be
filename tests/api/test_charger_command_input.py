"""POST start/stop/limit without a live charger: bad input, scope and the conflicts decided
before any call goes out. The charger's real answers are in test_charger_commands_live.py."""

import datetime as dt
import json

import pytest
from rest_framework.test import APIClient

from chargers.models import ChargerCommand, Connector
from sessions.models import ChargingSession
from tests.api.helpers import make_user, token_client
from tests.factories import make_charger, make_site

pytestmark = pytest.mark.django_db


@pytest.fixture
def charger():
    return make_charger(is_connected=False, max_power_w=7400)


@pytest.fixture
def client():
    return token_client(make_user(is_staff=True))


def limit_path(charger) -> str:
    return f"/api/v1/chargers/{charger.charge_point_id}/limit"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"limit_w": -1}, "limit_w"),
        ({"limit_w": "3000"}, "limit_w"),
        ({"limit_w": 7401}, "limit_w"),
        ({"limit_w": 10**30}, "limit_w"),
        ('{"limit_w": 1e400}', "limit_w"),
        ({"limit_w": 3000.5}, "limit_w"),
        ({"limit_w": True}, "limit_w"),
        ({"limit_w": [3000]}, "limit_w"),
        ({}, "limit_w"),
        ({"limit_w": 3000, "reason": "x" * 201}, "reason"),
        ({"limit_w": 3000, "reason": "nul\x00byte"}, "reason"),
        ({"limit_w": 3000, "duration_seconds": 0}, "duration_seconds"),
        ({"limit_w": 3000, "duration_seconds": 7 * 86400 + 1}, "duration_seconds"),
        ({"limit_w": 3000, "duration_seconds": "60"}, "duration_seconds"),
        ([3000], "non_field_errors"),
        ('"3000"', "non_field_errors"),
        ("null", "non_field_errors"),
    ],
)
def test_a_bad_limit_is_a_400_naming_the_field_and_reaches_no_charger(client, charger, payload, field):
    body = payload if isinstance(payload, str) else json.dumps(payload)  # str: JSON text as sent
    response = client.generic("POST", limit_path(charger), body, content_type="application/json")

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid"
    assert field in body["fields"]
    assert body["detail"]
    assert not ChargerCommand.objects.exists()


def test_a_limit_above_the_chargers_maximum_says_what_the_maximum_is(client, charger):
    response = client.post(limit_path(charger), {"limit_w": 22000}, format="json")

    assert response.json() == {
        "error": "invalid",
        "detail": "limit_w: Ensure this value is at most the charger's 7400 W.",
        "fields": {"limit_w": ["Ensure this value is at most the charger's 7400 W."]},
    }


def test_a_body_that_is_not_json_is_a_400(client, charger):
    response = client.generic("POST", limit_path(charger), "{limit_w: 3000", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"] == "parse_error"


def test_a_body_in_another_media_type_is_a_415(client, charger):
    response = client.generic("POST", limit_path(charger), "limit_w=3000", content_type="text/plain")

    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


# transaction=True: the command path logs through database_sync_to_async, which closes the
# connection of a test wrapped in a transaction.
@pytest.mark.django_db(transaction=True)
def test_unknown_fields_are_ignored_and_an_offline_charger_is_a_409(client, charger):
    response = client.post(limit_path(charger), {"limit_w": 3000, "colour": "blue"}, format="json")

    assert response.status_code == 409
    assert response.json() == {"error": "charger_offline", "detail": f"charger {charger.charge_point_id} is offline"}


@pytest.mark.django_db(transaction=True)
def test_starting_an_offline_charger_is_a_409_and_is_logged_with_who_asked(client, charger):
    response = client.post(f"/api/v1/chargers/{charger.charge_point_id}/start")

    assert response.status_code == 409
    assert response.json()["error"] == "charger_offline"
    logged = ChargerCommand.objects.get(charger=charger)
    assert (logged.action, logged.outcome, logged.payload) == (
        "RemoteStartTransaction",
        "offline",
        {"connectorId": 1, "idTag": "GrayLogic"},
    )
    assert logged.requested_by.startswith("api:user")


def test_stopping_when_nothing_runs_is_a_409(client, charger):
    response = client.post(f"/api/v1/chargers/{charger.charge_point_id}/stop")

    assert response.status_code == 409
    assert response.json() == {"error": "charger_busy", "detail": "no charging session is running on this charger"}


def test_starting_a_connector_that_is_already_charging_is_a_409(client, charger):
    Connector.objects.create(charger=charger, connector_id=1, status="Charging")

    response = client.post(f"/api/v1/chargers/{charger.charge_point_id}/start", {"connector_id": 1}, format="json")

    assert response.status_code == 409
    assert response.json()["error"] == "charger_busy"
    assert "Charging" in response.json()["detail"]


@pytest.mark.parametrize("connector_id", [0, -1, 3, "1", 10**9])
def test_starting_a_connector_the_charger_does_not_have_is_a_400(client, connector_id):
    charger = make_charger(number_of_connectors=2)

    response = client.post(
        f"/api/v1/chargers/{charger.charge_point_id}/start", {"connector_id": connector_id}, format="json"
    )

    assert response.status_code == 400
    assert "connector_id" in response.json()["fields"]


def test_nobody_can_command_a_charger_of_a_site_they_do_not_own():
    alice_site = make_site()
    bob_charger = make_charger(site=make_site(), is_connected=True)
    ChargingSession.objects.create(
        charger=bob_charger, connector_id=1, started_at=dt.datetime(2026, 1, 13, tzinfo=dt.UTC), meter_start_wh=0
    )
    alice = token_client(make_user(sites=(alice_site,)))

    for action, payload in (("start", {}), ("stop", {}), ("limit", {"limit_w": 1000})):
        response = alice.post(f"/api/v1/chargers/{bob_charger.charge_point_id}/{action}", payload, format="json")
        assert response.status_code == 404, action
        assert response.json()["error"] == "not_found"
    assert not ChargerCommand.objects.exists()


def test_commands_need_credentials(charger):
    response = APIClient().post(limit_path(charger), {"limit_w": 1000}, format="json")

    assert response.status_code == 401
    assert not ChargerCommand.objects.exists()
