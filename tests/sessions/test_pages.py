"""The homeowner pages through Django's test client: login, scoping, filters, totals, CSV."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client

from chargers.models import Connector
from energy.models import LimitDecision
from sessions.models import MeterSample
from sessions.pages import not_charging_reason
from tests.api.helpers import make_user
from tests.factories import make_charger, make_session, make_site, make_tariff

pytestmark = pytest.mark.django_db

UTC = dt.UTC
PASSWORD = "a-long-homeowner-password"


def at(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def home():
    """A household with two chargers and sessions in June and July; a neighbour with one."""
    site = make_site(name="Home", time_zone="Europe/London")
    make_tariff(site=site)
    garage = make_charger(site=site, charge_point_id="garage", name="Garage")
    drive = make_charger(site=site, charge_point_id="drive", name="Drive")
    owner = make_user(sites=(site,), password=PASSWORD)
    sessions = {
        "june": make_session(
            charger=garage, started_at=at(6, 10, 9), energy_wh=10000, cost=Decimal("2.00"), solar_percent=80.0
        ),
        # 23:30 UTC on 30 June is 00:30 on 1 July in London (BST): a July session.
        "july_first": make_session(
            charger=garage,
            started_at=at(6, 30, 23, 30),
            energy_wh=30000,
            cost=Decimal("6.50"),
            cost_currency="GBP",
            solar_percent=0.0,
            id_tag="=HYPERLINK(1)",
        ),
        "july_drive": make_session(
            charger=drive, started_at=at(7, 5, 12), energy_wh=5000, cost=Decimal("1.00"), solar_percent=100.0
        ),
    }
    for key in ("june", "july_drive"):
        sessions[key].cost_currency = "GBP"
        sessions[key].save()
    neighbour_site = make_site(name="Next door")
    neighbour = make_user(sites=(neighbour_site,), password=PASSWORD)
    theirs = make_charger(site=neighbour_site, charge_point_id="next-door", name="Their charger")
    their_session = make_session(charger=theirs, started_at=at(7, 6, 12))
    return {
        "owner": owner,
        "neighbour": neighbour,
        "garage": garage,
        "drive": drive,
        "sessions": sessions,
        "their_session": their_session,
    }


def test_pages_need_a_login_and_send_you_to_the_homeowner_login_not_the_admin(client):
    for path in ("/", "/chargers/", "/chargers/live", "/sessions/", "/sessions.csv", "/sessions/1/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_a_homeowner_logs_in_with_their_own_account_and_out_again(home, client):
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b'<label for="id_username">' in page.content and b'<label for="id_password">' in page.content

    response = client.post("/accounts/login/", {"username": home["owner"].username, "password": PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/")
    assert client.get("/").status_code == 200

    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_a_wrong_password_is_refused_on_the_page(home, client):
    response = client.post("/accounts/login/", {"username": home["owner"].username, "password": "wrong"})
    assert response.status_code == 200
    assert b'role="alert"' in response.content


def test_the_now_page_shows_only_your_chargers_with_their_state(home):
    garage = home["garage"]
    garage.is_connected = True
    garage.save()
    control = garage.control
    control.limit_w, control.limit_source = 0, "solar"
    control.limit_reason = "solar surplus 800 W is below the 1,400 W needed to start"
    control.save()
    Connector.objects.create(charger=garage, connector_id=1, status="SuspendedEVSE")
    running = make_session(charger=garage, started_at=dt.datetime.now(UTC) - dt.timedelta(minutes=30), hours=None)
    MeterSample.objects.create(
        charger=garage, connector_id=1, session=running, timestamp=running.started_at, value=1.5, unit="kWh"
    )
    MeterSample.objects.create(
        charger=garage,
        connector_id=1,
        session=running,
        timestamp=running.started_at + dt.timedelta(minutes=20),
        measurand="Power.Active.Import",
        value=3600,
        unit="W",
    )

    for path in ("/", "/chargers/live"):
        body = logged_in(home["owner"]).get(path).content.decode()
        assert "Garage" in body and "Drive" in body and "Their charger" not in body
        assert "Online" in body and "SuspendedEVSE" in body
        assert "3.6 kW" in body  # power of the running session
        assert '0.0 kW <span class="source">(solar charging)</span>' in body
        assert "Not charging:</strong> Solar surplus 800 W is below the 1,400 W needed to start." in body
        assert "The charger is offline" in body  # the drive never connected

    neighbour_view = logged_in(home["neighbour"]).get("/chargers/live").content.decode()
    assert "Garage" not in neighbour_view and "Their charger" in neighbour_view


def test_a_car_held_by_the_meter_fail_safe_is_told_so_in_words_not_as_a_fuse(home):
    garage = home["garage"]
    garage.is_connected = True
    garage.save()
    control = garage.control
    control.limit_w, control.limit_source = 1380, "failsafe"
    control.limit_reason = "main meter silent since 21:37:05 — held at 6 A for safety"
    control.save()
    Connector.objects.create(charger=garage, connector_id=1, status="Charging")

    body = logged_in(home["owner"]).get("/chargers/live").content.decode()

    assert '1.4 kW <span class="source">(meter fail-safe)</span>' in body
    assert '<dd class="why">Main meter silent since 21:37:05 — held at 6 A for safety</dd>' in body
    assert "fuse" not in body.split('data-charger="garage"')[1].split("</section>")[0]


SUSPENDED_EV = "The car has paused charging (it may be full, or waiting for its own timer)."
GRID_STOP = "the grid operator asks to stop charging (level high)"


@pytest.mark.parametrize(
    ("connected", "status", "limit_w", "source", "expected"),
    [
        (False, "Charging", 7400, "none", "The charger is offline: it is not connected to the server."),
        (True, "Charging", 7400, "none", None),
        (True, "Charging", 0, "grid", "The grid operator asks to stop charging (level high)."),
        (True, "Available", 7400, "none", "No car is plugged in."),
        (True, "Available", 0, "idle", "No car is plugged in."),
        (True, "SuspendedEV", 7400, "none", SUSPENDED_EV),
        (True, "Faulted", 7400, "none", "The charger reports a fault (GroundFailure)."),
        (True, "", 7400, "none", "Waiting for the charger to report its status."),
    ],
)
def test_the_reason_a_charger_is_not_charging_is_in_plain_words(connected, status, limit_w, source, expected):
    reason = not_charging_reason(
        connected=connected, status=status, error_code="GroundFailure", limit_w=limit_w, source=source, reason=GRID_STOP
    )
    assert reason == expected


def test_a_pause_without_a_recorded_reason_names_its_source_in_words():
    reason = not_charging_reason(connected=True, status="SuspendedEVSE", limit_w=0, source="failsafe", reason="")
    assert reason == "Paused (meter fail-safe)."


def session_ids(response) -> list[int]:
    return [int(part.split('"')[0]) for part in response.content.decode().split('data-session="')[1:]]


def test_history_lists_your_sessions_newest_first_with_month_totals(home):
    s = home["sessions"]

    response = logged_in(home["owner"]).get("/sessions/")

    assert response.status_code == 200
    assert session_ids(response) == [s["july_drive"].pk, s["july_first"].pk, s["june"].pk]
    totals = {(t.month, t.sessions, t.energy_wh, t.costs["GBP"], t.solar_percent) for t in response.context["totals"]}
    assert totals == {
        (dt.date(2026, 7, 1), 2, 35000, Decimal("7.50"), 14.3),  # (30 x 0 + 5 x 100) / 35
        (dt.date(2026, 6, 1), 1, 10000, Decimal("2.00"), 80.0),
    }
    body = response.content.decode()
    assert "£7.50" in body and "35.00" in body
    assert "Wed 1 Jul 2026 00:30" in body  # the site's time, not UTC
    assert "RFID123" in body


def test_history_filters_by_charger_and_by_the_sites_month(home):
    s = home["sessions"]
    client = logged_in(home["owner"])

    assert session_ids(client.get("/sessions/?charger=garage")) == [s["july_first"].pk, s["june"].pk]
    assert session_ids(client.get("/sessions/?month=2026-07")) == [s["july_drive"].pk, s["july_first"].pk]
    assert session_ids(client.get("/sessions/?charger=garage&month=2026-06")) == [s["june"].pk]


def test_history_shows_none_of_another_household(home):
    client = logged_in(home["neighbour"])

    assert session_ids(client.get("/sessions/")) == [home["their_session"].pk]
    filtered = client.get("/sessions/?charger=garage")
    assert session_ids(filtered) == []
    assert b'role="alert"' in filtered.content


def test_staff_see_every_household(home):
    staff = make_user(is_staff=True)

    assert len(session_ids(logged_in(staff).get("/sessions/"))) == 4


def read_csv(response) -> list[dict]:
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_csv_holds_exactly_the_filtered_sessions(home):
    s = home["sessions"]
    client = logged_in(home["owner"])

    rows = read_csv(client.get("/sessions.csv?charger=garage&month=2026-07"))

    assert rows == [
        {
            "session": str(s["july_first"].pk),
            "charger": "Garage",
            "started": "2026-07-01T00:30:00+01:00",
            "ended": "2026-07-01T02:30:00+01:00",
            "duration_min": "120",
            "energy_kwh": "30.000",
            "cost": "6.50",
            "currency": "GBP",
            "solar_percent": "0.0",
            "id_tag": "'=HYPERLINK(1)",  # a spreadsheet must not run it
            "stop_reason": "EVDisconnected",
        }
    ]
    everything = read_csv(client.get("/sessions.csv"))
    assert [int(r["session"]) for r in everything] == session_ids(client.get("/sessions/"))


def test_the_csv_of_another_household_is_empty_and_a_bad_filter_is_a_400(home):
    client = logged_in(home["neighbour"])

    assert [r["charger"] for r in read_csv(client.get("/sessions.csv"))] == ["Their charger"]
    assert client.get("/sessions.csv?charger=garage").status_code == 400
    assert client.get("/sessions.csv?month=July").status_code == 400


def test_a_session_page_charts_power_and_the_limit_and_lists_the_decisions(home):
    session = home["sessions"]["june"]  # 10:00-12:00 BST
    for minute, watts in ((0, 0), (10, 7200), (60, 3600), (110, 3500)):
        MeterSample.objects.create(
            charger=home["garage"],
            connector_id=1,
            session=session,
            timestamp=session.started_at + dt.timedelta(minutes=minute),
            measurand="Power.Active.Import",
            value=watts,
            unit="W",
        )
    decisions = [
        (session.started_at - dt.timedelta(hours=1), 7400, "circuit", "main fuse shared", "unchanged"),
        (
            session.started_at + dt.timedelta(minutes=55, seconds=7),
            3600,
            "solar",
            "solar surplus 3.6 kW",
            "TxProfile Accepted",
        ),
        (session.started_at + dt.timedelta(minutes=70), 1400, "solar", "refused one", "TxProfile Rejected"),
        (session.stopped_at + dt.timedelta(minutes=5), 0, "idle", "after the session", "unchanged"),
    ]
    for decided_at, limit_w, source, reason, outcome in decisions:
        decision = LimitDecision.objects.create(
            charger=home["garage"],
            limit_w=limit_w,
            current_a=0,
            phases=1,
            source=source,
            reason=reason,
            outcome=outcome,
        )
        # decided_at is set on creation; move it to the moment of the story.
        LimitDecision.objects.filter(pk=decision.pk).update(decided_at=decided_at)

    response = logged_in(home["owner"]).get(f"/sessions/{session.pk}/")

    assert response.status_code == 200
    body = response.content.decode()
    assert 'role="img"' in body and "aria-labelledby=" in body
    assert "peaking at 7.2 kW" in body and "Limit applied: 3.6 to 7.4 kW" in body
    assert '<polyline class="power"' in body and '<path class="limit"' in body
    assert "<td>fuse limit</td>\n      <td>Main fuse shared</td>" in body and "(in force at the start)" in body
    assert "<td>solar charging</td>\n      <td>Solar surplus 3.6 kW</td>" in body and "Refused one" in body
    assert "10 Jun 10:55:07" in body  # to the second, on the site's clock (BST)
    assert "after the session" not in body
    assert "£2.00" in body and "80 %" in body and "10.00 kWh" in body
    assert "Wed 10 Jun 2026 10:00" in body  # BST
    limit = response.context["detail"].limit
    assert [w for _, w in limit] == [7400, 3600, 3600]  # the refused limit never applied


def test_a_session_page_of_another_household_is_a_404(home):
    theirs = home["their_session"]

    assert logged_in(home["owner"]).get(f"/sessions/{theirs.pk}/").status_code == 404
    assert logged_in(home["owner"]).get("/sessions/999999/").status_code == 404
    assert logged_in(home["neighbour"]).get(f"/sessions/{theirs.pk}/").status_code == 200


def test_a_running_session_page_shows_the_figures_so_far(home):
    site = home["garage"].site
    started = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    running = make_session(charger=home["garage"], started_at=started, hours=None)
    MeterSample.objects.create(
        charger=home["garage"],
        connector_id=1,
        session=running,
        timestamp=started + dt.timedelta(minutes=30),
        value=3.0,
        unit="kWh",
    )
    assert site.tariffs.exists()

    response = logged_in(home["owner"]).get(f"/sessions/{running.pk}/")

    assert response.status_code == 200
    assert "still charging" in response.content.decode()
    figures = response.context["row"].figures
    assert figures.energy_wh == 2000 and figures.cost is not None
    assert "Average power between the charger" in response.content.decode()  # no power samples
