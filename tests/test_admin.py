import datetime as dt

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chargers.credentials import charger_password_matches
from chargers.models import Charger, ChargerEvent, Connector, IdTag
from energy.models import Site, Tariff, TariffPeriod
from sessions.models import ChargingSession, MeterSample
from tests.factories import make_charger, make_circuit, make_id_tag, make_site

pytestmark = pytest.mark.django_db

START = dt.datetime(2025, 3, 1, 18, 0, tzinfo=dt.UTC)


def make_history() -> dict:
    """One charger with everything the admin shows about it."""
    site = make_site(name="Home")
    circuit = make_circuit(site=site, name="Garage circuit")
    tariff = Tariff.objects.create(site=site, name="Night saver")
    TariffPeriod.objects.create(tariff=tariff, name="Night", start=dt.time(0), end=dt.time(7), rate_per_kwh="0.0700")
    charger = make_charger(
        charge_point_id="garage-1",
        name="Garage charger",
        site=site,
        circuit=circuit,
        vendor="Wallbox",
        model="Pulsar",
        firmware_version="6.1.2",
        is_connected=True,
        status="Available",
        password="initial-password-1234",
    )
    Connector.objects.create(charger=charger, connector_id=1, status="Charging", error_code="NoError")
    event = ChargerEvent.objects.create(
        charger=charger, charge_point_id="garage-1", kind=ChargerEvent.Kind.BOOT, message="Wallbox Pulsar: Accepted"
    )
    session = ChargingSession.objects.create(
        charger=charger,
        connector_id=1,
        id_tag="CARD-7",
        started_at=START,
        meter_start_wh=1000,
        stopped_at=START + dt.timedelta(hours=2),
        meter_stop_wh=8000,
        energy_wh=7000,
        stop_reason="EVDisconnected",
    )
    sample = MeterSample.objects.create(
        charger=charger,
        connector_id=1,
        session=session,
        timestamp=START + dt.timedelta(minutes=1),
        measurand="Power.Active.Import",
        unit="W",
        context="Sample.Periodic",
        location="Outlet",
        value=7123.0,
    )
    tag = make_id_tag(id_tag="CARD-7", name="Anna's card", last_seen_charger=charger)
    return {
        "site": site,
        "circuit": circuit,
        "tariff": tariff,
        "charger": charger,
        "connector": charger.connectors.get(),
        "event": event,
        "session": session,
        "sample": sample,
        "tag": tag,
    }


# (admin URL name, object key, text the page must show)
PAGES = [
    ("energy_site", "site", "Home"),
    ("energy_circuit", "circuit", "Garage circuit"),
    ("energy_tariff", "tariff", "Night saver"),
    ("chargers_charger", "charger", "garage-1"),
    ("chargers_connector", "connector", "Charging"),
    ("chargers_idtag", "tag", "CARD-7"),
    ("chargers_chargerevent", "event", "Wallbox Pulsar: Accepted"),
    ("charging_sessions_chargingsession", "session", "EVDisconnected"),
    ("charging_sessions_metersample", "sample", "Power.Active.Import"),
]


@pytest.mark.parametrize(("url_name", "key", "text"), PAGES)
def test_every_changelist_shows_its_rows(admin_client, url_name, key, text):
    make_history()

    response = admin_client.get(reverse(f"admin:{url_name}_changelist"))

    assert response.status_code == 200
    assert text in response.content.decode()


@pytest.mark.parametrize(("url_name", "key", "text"), PAGES)
def test_every_change_page_shows_its_object(admin_client, url_name, key, text):
    obj = make_history()[key]

    response = admin_client.get(reverse(f"admin:{url_name}_change", args=[obj.pk]))

    assert response.status_code == 200
    assert text in response.content.decode()


def test_the_charger_page_shows_connectors_events_sessions_and_live_state(admin_client):
    history = make_history()

    response = admin_client.get(reverse("admin:chargers_charger_change", args=[history["charger"].pk]))

    page = response.content.decode()
    assert "Wallbox Pulsar: Accepted" in page
    assert "Connector 1:" in page and "Charging." in page
    assert "CARD-7" in page
    assert reverse("admin:charging_sessions_chargingsession_change", args=[history["session"].pk]) in page
    assert "Live state" in page
    assert "6.1.2" in page


def test_the_charger_page_says_a_password_is_set_but_never_shows_the_hash(admin_client):
    charger = make_history()["charger"]

    page = admin_client.get(reverse("admin:chargers_charger_change", args=[charger.pk])).content.decode()

    assert "Set (only a hash is stored)." in page
    assert charger.password_hash.split("$")[-1] not in page


def test_the_session_page_shows_its_samples_and_links_to_all_of_them(admin_client):
    session = make_history()["session"]

    page = admin_client.get(
        reverse("admin:charging_sessions_chargingsession_change", args=[session.pk])
    ).content.decode()

    assert "7123.0" in page
    assert f"?session__exact={session.pk}" in page


def test_the_sample_list_filters_by_session(admin_client):
    history = make_history()
    other = ChargingSession.objects.create(
        charger=history["charger"], connector_id=1, started_at=START + dt.timedelta(days=1), meter_start_wh=0
    )

    response = admin_client.get(
        reverse("admin:charging_sessions_metersample_changelist") + f"?session__exact={other.pk}"
    )

    assert response.status_code == 200
    assert "7123.0" not in response.content.decode()


def test_the_sample_list_never_counts_the_whole_table(admin_client):
    make_history()

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(reverse("admin:charging_sessions_metersample_changelist"))

    assert response.status_code == 200
    sample_table = MeterSample._meta.db_table
    assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and sample_table in q["sql"]]


def test_searches_and_filters_answer(admin_client):
    make_history()

    for url in [
        reverse("admin:chargers_charger_changelist") + "?q=Wallbox",
        reverse("admin:chargers_charger_changelist") + "?registration__exact=pending&is_connected__exact=1",
        reverse("admin:charging_sessions_chargingsession_changelist") + "?q=not-a-number",
        reverse("admin:charging_sessions_chargingsession_changelist") + "?q=1",
        reverse("admin:chargers_chargerevent_changelist") + "?q=garage&kind__exact=boot",
        reverse("admin:chargers_idtag_changelist") + "?status__exact=Invalid",
    ]:
        assert admin_client.get(url).status_code == 200, url


def test_the_approve_action_accepts_pending_chargers(admin_client):
    site = make_site()
    pending = make_charger(site=site, registration=Charger.Registration.PENDING)
    accepted = make_charger(site=site)

    response = admin_client.post(
        reverse("admin:chargers_charger_changelist"),
        {"action": "approve", "_selected_action": [pending.pk, accepted.pk]},
        follow=True,
    )

    assert response.status_code == 200
    pending.refresh_from_db()
    assert pending.registration == Charger.Registration.ACCEPTED
    assert f"Approved {pending}" in response.content.decode()


def charger_form(charger: Charger, **overrides) -> dict:
    """What the browser posts for the charger page; the read-only inlines send empty formsets."""
    data = {
        "charge_point_id": charger.charge_point_id,
        "name": charger.name,
        "location": charger.location,
        "site": charger.site_id,
        "circuit": charger.circuit_id or "",
        "max_power_w": charger.max_power_w,
        "phases": charger.phases,
        "enabled": "on",
        "registration": charger.registration,
        "protocol": charger.protocol,
        "security_profile": charger.security_profile,
        "heartbeat_interval_s": "",
        "supply_phase": charger.supply_phase,
        "priority": charger.priority,
        "min_current_a": charger.min_current_a,
        "password_env": charger.password_env,
        "new_password": "",
    }
    for prefix in ("connectors", "limit_decisions", "commands", "events", "charging_sessions", "certificates"):
        data[f"{prefix}-TOTAL_FORMS"] = 0
        data[f"{prefix}-INITIAL_FORMS"] = 0
    data.update(overrides)
    return data


def test_the_new_password_field_stores_a_hash_the_charger_can_log_in_with(admin_client):
    charger = make_history()["charger"]

    response = admin_client.post(
        reverse("admin:chargers_charger_change", args=[charger.pk]),
        charger_form(charger, new_password="a-new-charger-password"),
    )

    assert response.status_code == 302, response.content.decode()
    charger.refresh_from_db()
    assert charger_password_matches(
        password="a-new-charger-password", password_hash=charger.password_hash, password_env=""
    )
    assert not charger_password_matches(
        password="initial-password-1234", password_hash=charger.password_hash, password_env=""
    )


def test_a_blank_password_field_keeps_the_current_password(admin_client):
    charger = make_history()["charger"]
    before = charger.password_hash

    response = admin_client.post(
        reverse("admin:chargers_charger_change", args=[charger.pk]), charger_form(charger, name="Renamed")
    )

    assert response.status_code == 302
    charger.refresh_from_db()
    assert (charger.name, charger.password_hash) == ("Renamed", before)


def test_clear_password_removes_it(admin_client):
    charger = make_history()["charger"]

    admin_client.post(
        reverse("admin:chargers_charger_change", args=[charger.pk]), charger_form(charger, clear_password="on")
    )

    charger.refresh_from_db()
    assert charger.password_hash == ""


def test_setting_and_clearing_the_password_at_once_is_refused(admin_client):
    charger = make_history()["charger"]
    before = charger.password_hash

    response = admin_client.post(
        reverse("admin:chargers_charger_change", args=[charger.pk]),
        charger_form(charger, new_password="another-password-99", clear_password="on"),
    )

    assert response.status_code == 200
    assert "Set a new password or clear it, not both." in response.content.decode()
    charger.refresh_from_db()
    assert charger.password_hash == before


def test_a_circuit_on_another_site_is_refused(admin_client):
    charger = make_history()["charger"]
    elsewhere = make_circuit(site=make_site(name="Cottage"))

    response = admin_client.post(
        reverse("admin:chargers_charger_change", args=[charger.pk]), charger_form(charger, circuit=elsewhere.pk)
    )

    assert response.status_code == 200
    assert "This circuit is on another site (Cottage)." in response.content.decode()


def test_a_charger_can_be_added_with_a_password(admin_client):
    site = make_site()
    data = charger_form(Charger(charge_point_id="new-1", site=site), new_password="first-password-123")

    response = admin_client.post(reverse("admin:chargers_charger_add"), data)

    assert response.status_code == 302, response.content.decode()
    charger = Charger.objects.get(charge_point_id="new-1")
    assert charger_password_matches(password="first-password-123", password_hash=charger.password_hash, password_env="")


def test_tag_actions_accept_and_block_in_bulk(admin_client):
    unknown = make_id_tag(status=IdTag.Status.INVALID)
    other = make_id_tag(status=IdTag.Status.INVALID)
    url = reverse("admin:chargers_idtag_changelist")

    admin_client.post(url, {"action": "accept", "_selected_action": [unknown.pk, other.pk]})
    assert set(IdTag.objects.values_list("status", flat=True)) == {IdTag.Status.ACCEPTED}

    admin_client.post(url, {"action": "block", "_selected_action": [other.pk]})
    other.refresh_from_db()
    assert other.status == IdTag.Status.BLOCKED


def test_the_tag_just_presented_comes_first(admin_client):
    make_id_tag(id_tag="AAA-OLD", last_seen_at=START)
    make_id_tag(id_tag="ZZZ-NEW", status=IdTag.Status.INVALID, last_seen_at=START + dt.timedelta(days=1))

    page = admin_client.get(reverse("admin:chargers_idtag_changelist")).content.decode()

    assert page.index("ZZZ-NEW") < page.index("AAA-OLD")


def test_the_event_log_cannot_be_added_to_or_edited(admin_client):
    event = make_history()["event"]

    assert admin_client.get(reverse("admin:chargers_chargerevent_add")).status_code == 403
    page = admin_client.get(reverse("admin:chargers_chargerevent_change", args=[event.pk])).content.decode()
    assert 'name="_save"' not in page
    assert admin_client.post(reverse("admin:chargers_chargerevent_delete", args=[event.pk])).status_code == 403
    assert ChargerEvent.objects.filter(pk=event.pk).exists()


def test_sessions_are_read_only_but_a_superuser_may_delete_one(admin_client):
    session = make_history()["session"]

    assert admin_client.get(reverse("admin:charging_sessions_chargingsession_add")).status_code == 403
    page = admin_client.get(
        reverse("admin:charging_sessions_chargingsession_change", args=[session.pk])
    ).content.decode()
    assert 'name="_save"' not in page

    response = admin_client.post(
        reverse("admin:charging_sessions_chargingsession_delete", args=[session.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not ChargingSession.objects.filter(pk=session.pk).exists()
    assert MeterSample.objects.filter(session=None).count() == 1


def test_staff_with_every_permission_still_cannot_delete_a_session(client):
    session = make_history()["session"]
    staff = User.objects.create_user("installer", password="pw", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="charging_sessions"))
    client.force_login(staff)

    response = client.post(
        reverse("admin:charging_sessions_chargingsession_delete", args=[session.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert ChargingSession.objects.filter(pk=session.pk).exists()


# The site page's one-to-one inlines: solar, time of use, grid response.
ENERGY_BLOCKS = ("solar_charging", "time_of_use", "grid_response")


def test_an_installer_can_create_a_site_with_its_circuits(admin_client):
    response = admin_client.post(
        reverse("admin:energy_site_add"),
        {
            "name": "New home",
            "time_zone": "Europe/Dublin",
            "circuit_limit_a": 40,
            "phases": 1,
            # The energy control settings, as the form shows them by default.
            "load_balancing_enabled": "on",
            "algorithm": "proportional",
            "min_interval_s": 10,
            "meter_timeout_s": 120,
            "failsafe_current_a": 6.0,
            "circuits-TOTAL_FORMS": 1,
            "circuits-INITIAL_FORMS": 0,
            "circuits-0-name": "Garage",
            "circuits-0-max_current_a": 32,
            "circuits-0-phases": 1,
            "circuits-0-supply_phase": "L2",
            "tariffs-TOTAL_FORMS": 0,
            "tariffs-INITIAL_FORMS": 0,
            **{f"{block}-{n}": 0 for block in ENERGY_BLOCKS for n in ("TOTAL_FORMS", "INITIAL_FORMS")},
        },
    )

    assert response.status_code == 302, response.content.decode()
    site = Site.objects.get(name="New home")
    assert list(site.circuits.values_list("name", "max_current_a", "supply_phase")) == [("Garage", 32, "L2")]


def test_a_site_with_an_unknown_time_zone_is_refused(admin_client):
    response = admin_client.post(
        reverse("admin:energy_site_add"),
        {
            "name": "Somewhere",
            "time_zone": "Mars/Olympus",
            "circuit_limit_a": 40,
            "phases": 3,
            "circuits-TOTAL_FORMS": 0,
            "circuits-INITIAL_FORMS": 0,
            "tariffs-TOTAL_FORMS": 0,
            "tariffs-INITIAL_FORMS": 0,
            **{f"{block}-{n}": 0 for block in ENERGY_BLOCKS for n in ("TOTAL_FORMS", "INITIAL_FORMS")},
        },
    )

    assert response.status_code == 200
    assert "is not an IANA time zone" in response.content.decode()
    assert not Site.objects.filter(name="Somewhere").exists()
