"""GET /api/v1/chargers and /api/v1/chargers/{id}: the spec's shapes, scope and auth."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from chargers.models import Connector
from chargers.selectors import NO_LIMIT_REASON
from sessions.models import ChargingSession, MeterSample
from tests.api.helpers import make_user, token_client
from tests.factories import make_charger, make_site

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 1, 13, 9, 0, tzinfo=dt.UTC)


def garage_charger(**overrides):
    fields = {
        "charge_point_id": "charger-garage",
        "name": "Garage Charger",
        "vendor": "Wallbox",
        "model": "Pulsar Plus",
        "firmware_version": "5.2.1",
        "is_connected": True,
        "connection_protocol": "ocpp1.6",
        "last_heartbeat_at": dt.datetime(2026, 1, 13, 10, 30, tzinfo=dt.UTC),
        "max_power_w": 7400,
    }
    fields.update(overrides)
    charger = make_charger(**fields)
    Connector.objects.create(charger=charger, connector_id=1, status="Charging", error_code="NoError")
    return charger


def sample(session, measurand: str, value: float, unit: str, *, minutes: int, phase: str = "") -> MeterSample:
    return MeterSample.objects.create(
        charger=session.charger,
        connector_id=1,
        session=session,
        timestamp=T0 + dt.timedelta(minutes=minutes),
        measurand=measurand,
        value=value,
        unit=unit,
        phase=phase,
        location="Outlet",
    )


def staff_client() -> APIClient:
    return token_client(make_user(is_staff=True))


def test_the_list_shows_each_charger_as_the_spec_shapes_it():
    garage_charger()
    make_charger(charge_point_id="charger-driveway", name="Driveway Charger", is_connected=False)

    response = staff_client().get("/api/v1/chargers")

    assert response.status_code == 200
    assert response.json() == {
        "chargers": [
            {
                "id": "charger-driveway",
                "name": "Driveway Charger",
                "model": "",
                "status": "disconnected",
                "connector_status": None,
            },
            {
                "id": "charger-garage",
                "name": "Garage Charger",
                "model": "Wallbox Pulsar Plus",
                "status": "connected",
                "connector_status": "Charging",
            },
        ]
    }


def test_the_detail_fills_connection_connector_transaction_and_limits_from_live_state():
    charger = garage_charger(limit_w=3000, limit_source="solar", limit_reason="solar surplus 3.0 kW")
    session = ChargingSession.objects.create(charger=charger, connector_id=1, started_at=T0, meter_start_wh=12345)
    sample(session, "Energy.Active.Import.Register", 14000, "Wh", minutes=10)
    sample(session, "Energy.Active.Import.Register", 15.678, "kWh", minutes=20)
    sample(session, "Power.Active.Import", 3500, "W", minutes=10)
    sample(session, "Power.Active.Import", 7.2, "kW", minutes=20)

    response = staff_client().get("/api/v1/chargers/charger-garage")

    assert response.status_code == 200
    assert response.json() == {
        "id": "charger-garage",
        "name": "Garage Charger",
        "vendor": "Wallbox",
        "model": "Pulsar Plus",
        "firmware": "5.2.1",
        "connection": {"status": "connected", "protocol": "ocpp1.6", "last_heartbeat": "2026-01-13T10:30:00Z"},
        "connector": {"id": 1, "status": "Charging", "error": "NoError"},
        "connectors": [{"id": 1, "status": "Charging", "error": "NoError"}],
        "transaction": {
            "id": session.transaction_id,
            "started": "2026-01-13T09:00:00Z",
            "energy_wh": 3333,
            "power_w": 7200,
        },
        "limits": {
            "max_power_w": 7400,
            "current_limit_w": 3000,
            "limit_source": "solar",
            "reason": "solar surplus 3.0 kW",
        },
    }


def test_an_idle_charger_that_never_reported_has_no_transaction_no_connector_and_no_limit():
    charger = make_charger(is_connected=False, max_power_w=11000)
    ChargingSession.objects.create(
        charger=charger, connector_id=1, started_at=T0, meter_start_wh=0, stopped_at=T0, energy_wh=0
    )

    body = staff_client().get(f"/api/v1/chargers/{charger.charge_point_id}").json()

    assert body["connection"] == {"status": "disconnected", "protocol": "ocpp1.6", "last_heartbeat": None}
    assert body["connector"] is None
    assert body["transaction"] is None
    assert body["limits"] == {
        "max_power_w": 11000,
        "current_limit_w": 11000,
        "limit_source": "none",
        "reason": NO_LIMIT_REASON,
    }


def test_a_limit_that_lapsed_is_reported_as_no_limit():
    charger = make_charger(
        limit_w=2000,
        limit_source="manual",
        manual_limit_w=2000,
        manual_limit_expires_at=timezone.now() - dt.timedelta(seconds=1),
    )

    body = staff_client().get(f"/api/v1/chargers/{charger.charge_point_id}").json()

    assert body["limits"] == {
        "max_power_w": 7400,
        "current_limit_w": 7400,
        "limit_source": "none",
        "reason": NO_LIMIT_REASON,
    }


def test_power_reported_per_phase_only_is_summed_and_a_session_without_samples_has_none():
    charger = make_charger(phases=3)
    session = ChargingSession.objects.create(charger=charger, connector_id=1, started_at=T0, meter_start_wh=0)
    client = staff_client()

    assert client.get(f"/api/v1/chargers/{charger.charge_point_id}").json()["transaction"]["power_w"] is None

    for phase in ("L1", "L2", "L3"):
        sample(session, "Power.Active.Import", 3.68, "kW", minutes=1, phase=phase)
    assert client.get(f"/api/v1/chargers/{charger.charge_point_id}").json()["transaction"]["power_w"] == 11040


def test_an_unknown_charger_is_a_404_in_the_error_envelope():
    response = staff_client().get("/api/v1/chargers/no-such-charger")

    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "no charger 'no-such-charger'"}


@pytest.mark.parametrize("charger_id", ["bad%00id", "x" * 200, "%E2%9C%93", "a%20b"])
def test_an_id_no_charger_could_have_is_a_404(charger_id):
    response = staff_client().get(f"/api/v1/chargers/{charger_id}")

    assert response.status_code == 404


def test_an_owner_sees_only_the_chargers_of_their_own_sites():
    alice_site, bob_site = make_site(), make_site()
    alice_charger = make_charger(site=alice_site)
    bob_charger = make_charger(site=bob_site)
    alice = token_client(make_user(sites=(alice_site,)))

    listed = [c["id"] for c in alice.get("/api/v1/chargers").json()["chargers"]]
    assert listed == [alice_charger.charge_point_id]
    assert alice.get(f"/api/v1/chargers/{alice_charger.charge_point_id}").status_code == 200
    for path in ("", "/sessions"):
        response = alice.get(f"/api/v1/chargers/{bob_charger.charge_point_id}{path}")
        assert response.status_code == 404, path
        assert response.json()["detail"] == f"no charger {bob_charger.charge_point_id!r}"


def test_a_user_who_owns_no_site_sees_no_charger():
    make_charger()

    assert token_client(make_user()).get("/api/v1/chargers").json() == {"chargers": []}


def test_staff_see_every_charger():
    chargers = [make_charger(), make_charger(site=make_site())]

    listed = {c["id"] for c in staff_client().get("/api/v1/chargers").json()["chargers"]}

    assert listed == {c.charge_point_id for c in chargers}


def test_without_credentials_the_api_answers_401_with_the_token_scheme():
    response = APIClient().get("/api/v1/chargers")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"error": "not_authenticated", "detail": "Authentication credentials were not provided."}


@pytest.mark.parametrize("header", ["Token not-a-token", "Token " + "0" * 40, "Token a\x00b", "Token", "Bearer x"])
def test_a_wrong_token_is_refused(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/v1/chargers")

    assert response.status_code in (401, 403)
    assert set(response.json()) == {"error", "detail"}


def test_an_inactive_users_token_no_longer_works():
    user = make_user()
    client = token_client(user)
    user.is_active = False
    user.save()

    assert client.get("/api/v1/chargers").status_code == 401


def test_a_browser_session_can_read_but_must_send_the_csrf_token_to_command():
    site = make_site()
    charger = make_charger(site=site)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(make_user(sites=(site,)))

    assert client.get(f"/api/v1/chargers/{charger.charge_point_id}").status_code == 200
    response = client.post(f"/api/v1/chargers/{charger.charge_point_id}/stop")
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"
    assert "CSRF" in response.json()["detail"]
