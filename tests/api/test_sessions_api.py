"""GET /api/v1/chargers/{id}/sessions: the spec's shape, newest first, pages and date filters."""

import datetime as dt

import pytest

from energy.models import EnergyReading
from sessions.billing import session_account
from sessions.models import ChargingSession, MeterSample
from tests.api.helpers import make_user, token_client
from tests.factories import make_charger, make_site, make_tariff

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 1, day, hour, tzinfo=UTC)


def make_session(charger, started_at: dt.datetime, *, hours: int | None = 2, energy_wh: int = 7000) -> ChargingSession:
    ended = started_at + dt.timedelta(hours=hours) if hours is not None else None
    return ChargingSession.objects.create(
        charger=charger,
        connector_id=1,
        started_at=started_at,
        meter_start_wh=1000,
        stopped_at=ended,
        meter_stop_wh=1000 + energy_wh if ended else None,
        energy_wh=energy_wh if ended else None,
    )


@pytest.fixture
def charger():
    return make_charger(site=make_site(time_zone="Pacific/Auckland"))


@pytest.fixture
def client():
    return token_client(make_user(is_staff=True))


def history(client, charger, query: str = "") -> dict:
    response = client.get(f"/api/v1/chargers/{charger.charge_point_id}/sessions{query}")
    assert response.status_code == 200, response.json()
    return response.json()


def test_sessions_are_listed_newest_first_in_the_specs_shape(client, charger):
    older = make_session(charger, at(13, 9), hours=3, energy_wh=21000)
    running = make_session(charger, at(14, 9), hours=None)
    MeterSample.objects.create(
        charger=charger, connector_id=1, session=running, timestamp=at(14, 10), value=2.5, unit="kWh"
    )
    make_session(make_charger(), at(14, 9))  # another charger's

    body = history(client, charger)

    assert body == {
        "count": 2,
        "next": None,
        "previous": None,
        "sessions": [
            {
                "id": running.transaction_id,
                "started": "2026-01-14T09:00:00Z",
                "ended": None,
                "energy_wh": 1500,
                "cost": None,
                "solar_percent": None,
            },
            {
                "id": older.transaction_id,
                "started": "2026-01-13T09:00:00Z",
                "ended": "2026-01-13T12:00:00Z",
                "energy_wh": 21000,
                "cost": None,
                "solar_percent": None,
            },
        ],
    }


def test_history_comes_in_pages_with_links_to_the_next_and_previous(client, charger):
    sessions = [make_session(charger, at(day)) for day in range(1, 6)]
    newest_first = [s.transaction_id for s in reversed(sessions)]

    first = history(client, charger, "?limit=2")
    second = history(client, charger, "?limit=2&offset=2")

    assert first["count"] == 5
    assert [s["id"] for s in first["sessions"]] == newest_first[:2]
    assert first["next"].endswith(f"/api/v1/chargers/{charger.charge_point_id}/sessions?limit=2&offset=2")
    assert first["previous"] is None
    assert [s["id"] for s in second["sessions"]] == newest_first[2:4]
    assert second["previous"] is not None
    assert history(client, charger, "?limit=2&offset=4")["next"] is None


@pytest.mark.parametrize("query", ["?limit=abc", "?limit=-3", "?offset=-1", "?offset=99999999999999999999999"])
def test_odd_page_parameters_fall_back_to_sensible_pages(client, charger, query):
    make_session(charger, at(1))

    assert history(client, charger, query)["count"] == 1


def test_dates_filter_on_the_start_in_the_sites_time_zone(client, charger):
    # Auckland is UTC+13 in January: its 14 January runs from 13 Jan 11:00 to 14 Jan 11:00 UTC.
    before = make_session(charger, at(13, 10))
    first = make_session(charger, at(13, 11))
    last = make_session(charger, at(14, 10))
    after = make_session(charger, at(14, 11))

    ids = [s["id"] for s in history(client, charger, "?from=2026-01-14&to=2026-01-14")["sessions"]]
    assert ids == [last.transaction_id, first.transaction_id]
    assert [s["id"] for s in history(client, charger, "?to=2026-01-13")["sessions"]] == [before.transaction_id]
    assert [s["id"] for s in history(client, charger, "?from=2026-01-15")["sessions"]] == [after.transaction_id]


def test_date_times_filter_to_the_instant_and_a_naive_one_is_site_time(client, charger):
    make_session(charger, at(13, 10))
    inside = make_session(charger, at(13, 11))

    utc = history(client, charger, "?from=2026-01-13T11:00:00Z&to=2026-01-13T11:00:00%2B00:00")
    naive = history(client, charger, "?from=2026-01-14T00:00:00")

    assert [s["id"] for s in utc["sessions"]] == [inside.transaction_id]
    assert [s["id"] for s in naive["sessions"]] == [inside.transaction_id]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?from=yesterday", "from"),
        ("?from=2026-02-30", "from"),
        ("?to=2026-01-13T25:00:00", "to"),
        ("?to=2026-01-13T10:00:00%2B25:00", "to"),
        ("?from=0001-01-01", "from"),
        ("?from=2026-01-14&to=2026-01-13", "to"),
    ],
)
def test_a_bad_date_is_a_400_naming_the_parameter(client, charger, query, field):
    response = client.get(f"/api/v1/chargers/{charger.charge_point_id}/sessions{query}")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert field in response.json()["fields"]


def test_an_owner_reads_the_history_of_their_own_charger_only(charger):
    make_session(charger, at(1))
    owner = token_client(make_user(sites=(charger.site,)))
    stranger = token_client(make_user(sites=(make_site(),)))

    assert owner.get(f"/api/v1/chargers/{charger.charge_point_id}/sessions").json()["count"] == 1
    assert stranger.get(f"/api/v1/chargers/{charger.charge_point_id}/sessions").status_code == 404


def test_cost_and_solar_share_are_the_final_ones_and_so_far_while_running(client):
    site = make_site(time_zone="Europe/London")
    make_tariff(site=site)
    charger = make_charger(site=site)
    # 15:00-21:00 GMT, 6 kWh evenly: standard, peak 16:00-20:00, standard.
    ended = make_session(charger, at(13, 15), hours=6, energy_wh=6000)
    session_account(transaction_id=ended.transaction_id)
    running = make_session(charger, at(14, 15), hours=None)
    MeterSample.objects.create(
        charger=charger, connector_id=1, session=running, timestamp=at(14, 17), value=3.0, unit="kWh"
    )  # 2 kWh by 17:00: 1 standard, 1 peak
    for minute in range(0, 120, 5):  # exporting 1 kW while the running car draws 1 kW: all solar
        EnergyReading.objects.create(site=site, measured_at=at(14, 15) + dt.timedelta(minutes=minute), grid_w=-1000)

    sessions = history(client, charger)["sessions"]

    assert [(s["id"], s["energy_wh"], s["cost"], s["solar_percent"]) for s in sessions] == [
        (running.transaction_id, 2000, 0.55, 100.0),
        (ended.transaction_id, 6000, 1.8, None),  # no readings that day: unknown, not 0 %
    ]
