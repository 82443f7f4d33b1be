"""Every homeowner page and the sessions API answer 200 whatever an old version or a broken
charger left in the database: starts in year 1 or 9999, samples of absurd size (issue 25)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client

from chargers.models import Connector
from sessions.measurands import ENERGY_REGISTER_MAX_WH
from sessions.models import ChargingSession, MeterSample
from tests.api.helpers import make_user, token_client
from tests.factories import make_charger, make_site, make_tariff

pytestmark = pytest.mark.django_db

UTC = dt.UTC
YEAR_1 = dt.datetime(1, 1, 1, tzinfo=UTC)
YEAR_9999 = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
ABSURD_VALUES = (1e300, -1e300, 1e15, -5000.0)


def _samples(session: ChargingSession, at: dt.datetime, values=ABSURD_VALUES) -> None:
    for n, value in enumerate(values):
        for measurand, unit in (("Power.Active.Import", "W"), ("Energy.Active.Import.Register", "Wh")):
            MeterSample.objects.create(
                charger=session.charger,
                connector_id=session.connector_id,
                session=session,
                timestamp=at + dt.timedelta(seconds=n) if at < YEAR_9999 else at,
                measurand=measurand,
                unit=unit,
                location=f"L{n}",
                value=value,
            )


@pytest.fixture
def stored():
    """A household whose chargers left the rows an unbelievable clock and a broken meter leave:
    one site behind UTC in year 1 (London's LMT), one ahead of it in 9999 (Auckland)."""
    now = dt.datetime.now(UTC)
    london = make_site(name="London", time_zone="Europe/London")
    auckland = make_site(name="Auckland", time_zone="Pacific/Auckland")
    for site in (london, auckland):
        make_tariff(site=site)
    garage = make_charger(site=london, charge_point_id="garage")
    drive = make_charger(site=auckland, charge_point_id="drive")
    owner = make_user(sites=(london, auckland))
    sessions = [
        # Running since year 1, still charging: its figures are computed on every read.
        ChargingSession.objects.create(charger=garage, connector_id=1, started_at=YEAR_1, meter_start_wh=0),
        # Stopped: year 1 to now, with the largest cost the column holds.
        ChargingSession.objects.create(
            charger=garage,
            connector_id=2,
            started_at=YEAR_1,
            meter_start_wh=0,
            stopped_at=now,
            meter_stop_wh=2**62,
            energy_wh=2**62,
            cost=Decimal("99999999.99"),
            cost_currency="GBP",
        ),
        ChargingSession.objects.create(charger=drive, connector_id=1, started_at=YEAR_9999, meter_start_wh=0),
        ChargingSession.objects.create(
            charger=drive,
            connector_id=2,
            started_at=YEAR_9999,
            meter_start_wh=0,
            stopped_at=YEAR_9999,
            meter_stop_wh=0,
            energy_wh=0,
        ),
    ]
    _samples(sessions[0], now - dt.timedelta(minutes=1))
    _samples(sessions[0], YEAR_1 + dt.timedelta(days=1), values=(10.0,))
    _samples(sessions[1], now - dt.timedelta(minutes=5))
    _samples(sessions[2], YEAR_9999)
    for charger in (garage, drive):
        Connector.objects.create(charger=charger, connector_id=1, status="Charging")
    return owner, sessions


@pytest.mark.parametrize("server_zone", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_every_page_answers_200_whatever_dates_and_values_are_stored(stored, server_zone, settings):
    settings.TIME_ZONE = server_zone
    owner, sessions = stored
    client = Client()
    client.force_login(owner)
    paths = ["/", "/chargers/", "/chargers/live", "/sessions/", "/sessions.csv", "/sessions/?month=0001-01"]
    paths += [f"/sessions/{s.transaction_id}/" for s in sessions]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
    history = client.get("/sessions/").content.decode()
    for session in sessions:
        assert f"/sessions/{session.transaction_id}/" in history
    csv_text = client.get("/sessions.csv").content.decode()
    assert csv_text.count("\n") == 1 + len(sessions)
    chart = client.get(f"/sessions/{sessions[0].transaction_id}/").content.decode()
    assert "1e+300" not in chart and "inf" not in chart.lower().replace("info", "")


@pytest.mark.parametrize("server_zone", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_the_sessions_api_answers_200_whatever_dates_and_values_are_stored(stored, server_zone, settings):
    settings.TIME_ZONE = server_zone
    owner, sessions = stored
    api = token_client(owner)
    for charger_id, expected in (("garage", sessions[:2]), ("drive", sessions[2:])):
        response = api.get(f"/api/v1/chargers/{charger_id}/sessions")
        assert response.status_code == 200, response.content
        assert sorted(s["id"] for s in response.json()["sessions"]) == sorted(s.transaction_id for s in expected)
        for session in response.json()["sessions"]:
            assert session["energy_wh"] is None or 0 <= session["energy_wh"] <= ENERGY_REGISTER_MAX_WH
        for filters in ("from=0001-01-01", "to=9999-12-31", "from=0001-01-01T00:00:00&to=9999-12-31T23:59:59"):
            response = api.get(f"/api/v1/chargers/{charger_id}/sessions?{filters}")
            assert response.status_code in (200, 400), (filters, response.content)
            assert response["Content-Type"] == "application/json"
