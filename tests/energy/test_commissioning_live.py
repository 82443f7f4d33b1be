"""Commissioning a site against the real server: an independent simulated charger
(tests/chargepoint_sim.py) over a real WebSocket ticks the checklist's live items; the admin's
buttons run a real remote start and stop and a real test limit, and keep the charger's answers;
the API answers the same checklist as JSON.

The server runs with short test waits (COMMISSIONING_*_WAIT) so a charger that ignores a limit
fails in seconds, not the minute a real site allows."""

import asyncio
import datetime as dt
import html
import subprocess
from io import StringIO

import pytest
import requests
from cryptography import x509
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token

from energy.checklist import Item
from energy.commissioning import site_commissioning
from energy.models import CommissioningCheck, Site
from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim import sim_charger
from tests.chargepoint_sim201 import CarStation, sim_station
from tests.chargers.test_configuration import SPEC_YAML
from tests.conftest import start_server, stop_server
from tests.factories import make_charger, make_id_tag, make_site
from tests.ocpp_client import in_a_thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

PASSWORD = "commissioning-pw-1"
ADMIN_PASSWORD = "installer-commissioning-1"
HTTP_TIMEOUT_S = 60
LIMIT_WAIT_S = 6


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    process, live = start_server(
        tmp_path_factory.mktemp("commissioning"),
        {"COMMISSIONING_LIMIT_WAIT": str(LIMIT_WAIT_S), "COMMISSIONING_TRANSACTION_WAIT": "15"},
    )
    yield live
    stop_server(process)


def staff_token() -> str:
    return Token.objects.create(user=make_user(is_staff=True)).key


def items_of(body: dict) -> dict[str, dict]:
    return {item["id"]: item for item in body["items"]}


def admin_session(server) -> requests.Session:
    if not User.objects.filter(username="installer").exists():
        User.objects.create_superuser("installer", "installer@example.com", ADMIN_PASSWORD)
    session = requests.Session()
    session.get(f"{server.http_url}/admin/login/", timeout=HTTP_TIMEOUT_S).raise_for_status()
    response = session.post(
        f"{server.http_url}/admin/login/?next=/admin/",
        data={"username": "installer", "password": ADMIN_PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        timeout=HTTP_TIMEOUT_S,
    )
    assert response.url.endswith("/admin/"), "logged in"
    return session


def press(session: requests.Session, server, site: Site, data: dict) -> str:
    """Press a button of the commissioning page; the page that comes back, unescaped."""
    url = f"{server.http_url}/admin/energy/site/{site.pk}/commissioning/"
    session.get(url, timeout=HTTP_TIMEOUT_S).raise_for_status()
    response = session.post(
        url, data={**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]}, timeout=HTTP_TIMEOUT_S
    )
    assert response.status_code == 200, response.text[:2000]
    return html.unescape(response.text)


def test_the_checklist_ticks_from_a_connected_charger_and_says_what_next_before(server):
    site = make_site(name="Commissioned", circuit_limit_a=32)
    charger = make_charger(site=site, charge_point_id="comm-cp", password=PASSWORD, phases=3, max_power_w=22000)
    token = staff_token()
    path = f"/api/v1/sites/{site.name}/commissioning"

    status, before = http_json(server, "GET", path, token=token)
    assert status == 200
    items = items_of(before)
    url = f"ws://{server.http_url.removeprefix('http://')}/ocpp/comm-cp"
    assert items["central_system_url/comm-cp"]["status"] == "not_yet"
    assert url in items["central_system_url/comm-cp"]["evidence"]
    for key in ("connected", "status_updates", "meter_values", "compatibility_profile", "remote_start_stop"):
        item = items[f"{key}/comm-cp"]
        assert (item["status"], item["seen_at"]) == ("not_yet", None)
        assert item["next_step"]
    assert items["credentials_set"]["status"] == "ok"
    assert items["tls_configured"]["status"] == "not_yet"

    async def scenario():
        async with sim_charger(server, "comm-cp", password=PASSWORD, phases=3) as cp:
            await cp.wait_for(lambda: cp.sent("GetConfiguration"), what="the compatibility probe")
            await cp.send_meter_values()
            return await in_a_thread(http_json, server, "GET", path, token=token)

    status, after = asyncio.run(scenario())
    assert status == 200
    items = items_of(after)
    for key in ("central_system_url", "connected", "status_updates", "meter_values"):
        item = items[f"{key}/comm-cp"]
        assert item["status"] == "ok", item
        assert item["seen_at"] and item["next_step"] == ""
    assert "SimVendor Sim 22, firmware 1.0 booted over ocpp1.6" in items["connected/comm-cp"]["evidence"]
    assert "connector 1: Available" in items["status_updates/comm-cp"]["evidence"]
    assert "Power.Active.Import" in items["meter_values/comm-cp"]["evidence"]
    # By id as well as by name; staff only.
    assert http_json(server, "GET", f"/api/v1/sites/{site.pk}/commissioning", token=token)[0] == 200
    owner = Token.objects.create(user=make_user(sites=(site,))).key
    assert http_json(server, "GET", path, token=owner)[0] == 403
    assert http_json(server, "GET", "/api/v1/sites/nowhere/commissioning", token=token)[0] == 404
    assert charger.pk


@pytest.mark.parametrize(
    ("rejects", "status", "words"),
    [
        (False, "ok", "RemoteStart answered Accepted, a transaction began; RemoteStop answered Accepted"),
        (True, "failed", "RemoteStart answered Rejected"),
    ],
)
def test_the_start_stop_button_runs_a_real_remote_start_and_stop(server, rejects, status, words):
    site = make_site(circuit_limit_a=32)
    charger = make_charger(site=site, password=PASSWORD, phases=3, max_power_w=22000)
    session = admin_session(server)

    async def scenario():
        async with sim_charger(
            server, charger.charge_point_id, password=PASSWORD, phases=3, rejects_remote_start=rejects
        ) as cp:
            await cp.plug_in()
            page = await in_a_thread(press, session, server, site, {"test": "start_stop", "charger": str(charger.pk)})
            return page, [action for action, _ in cp.calls]

    page, calls = asyncio.run(scenario())

    check = CommissioningCheck.objects.get(site=site, charger=charger, item=Item.REMOTE_START_STOP)
    assert (check.status, words in check.evidence) == (status, True), (check.evidence, check.details)
    assert words in page
    assert "RemoteStartTransaction" in calls
    if rejects:
        assert check.details["start_error"] and "RemoteStopTransaction" not in calls
    else:
        assert check.details["start"] == {"status": "Accepted"}
        assert check.details["stop"] == {"status": "Accepted"}
        assert "RemoteStopTransaction" in calls
    assert check.requested_by == "installer"


def test_the_start_stop_test_runs_on_an_ocpp_201_station_too(server):
    site = make_site(circuit_limit_a=32)
    charger = make_charger(site=site, password=PASSWORD, phases=3, max_power_w=22000, protocol="ocpp2.0.1")
    session = admin_session(server)

    async def scenario():
        async with sim_station(server, charger.charge_point_id, password=PASSWORD, station_class=CarStation) as st:
            await st.plug_in()
            page = await in_a_thread(press, session, server, site, {"test": "start_stop", "charger": str(charger.pk)})
            return page, [action for action, _ in st.calls]

    page, calls = asyncio.run(scenario())

    check = CommissioningCheck.objects.get(site=site, charger=charger, item=Item.REMOTE_START_STOP)
    assert check.status == "ok", (check.evidence, check.details)
    assert {"RequestStartTransaction", "RequestStopTransaction"} <= set(calls)
    assert "RemoteStop answered Accepted and the transaction ended" in page


@pytest.mark.parametrize(
    ("ignores", "status", "words"),
    [
        (False, "ok", "the measured power followed: 4,140 W"),
        (True, "failed", "the measured power stayed above it: 22,080 W"),
    ],
)
def test_the_limit_button_sets_a_test_limit_and_watches_the_power_follow(server, ignores, status, words):
    site = make_site(circuit_limit_a=32)
    charger = make_charger(site=site, password=PASSWORD, phases=3, max_power_w=22080)
    make_id_tag(id_tag="RFID-COMM")
    session = admin_session(server)

    async def scenario():
        async with sim_charger(
            server, charger.charge_point_id, password=PASSWORD, phases=3, ignores_limits=ignores
        ) as cp:
            await cp.start(id_tag="RFID-COMM")
            await cp.wait_for(lambda: cp.effective_limit_a() == 32, what="its fuse share")
            await cp.send_meter_values()
            page = await in_a_thread(press, session, server, site, {"test": "limit", "charger": str(charger.pk)})
            return page, [action for action, _ in cp.calls], cp.effective_limit_a()

    page, calls, limit_after_a = asyncio.run(scenario())

    check = CommissioningCheck.objects.get(site=site, charger=charger, item=Item.POWER_LIMITS)
    assert (check.status, words in check.evidence) == (status, True), check.evidence
    assert "the composite schedule holds 4,140 W" in check.evidence
    assert words in page
    assert {"SetChargingProfile", "GetCompositeSchedule", "TriggerMessage"} <= set(calls)
    assert check.details["test_limit_w"] == 4140
    # The test limit is lifted afterwards: the charger gets its fuse share again.
    assert limit_after_a == 32
    charger.control.refresh_from_db()
    assert charger.control.manual_limit_w is None


def test_load_balancing_reads_back_what_each_charger_holds_against_the_fuse(server):
    site = make_site(circuit_limit_a=20)
    first = make_charger(site=site, password=PASSWORD, phases=3, max_power_w=22080)
    second = make_charger(site=site, password=PASSWORD, phases=3, max_power_w=22080)
    session = admin_session(server)

    async def scenario():
        async with (
            sim_charger(server, first.charge_point_id, password=PASSWORD, phases=3),
            sim_charger(server, second.charge_point_id, password=PASSWORD, phases=3),
        ):
            return await in_a_thread(press, session, server, site, {"test": "load_balancing"})

    page = asyncio.run(scenario())

    check = CommissioningCheck.objects.get(site=site, item=Item.LOAD_BALANCING)
    assert check.status == "ok", check.evidence
    assert "fuse 20 A" in check.evidence and first.charge_point_id in check.evidence
    assert set(check.details["chargers"]) == {first.charge_point_id, second.charge_point_id}
    assert "Load balancing tested: ok" in page


def test_a_yaml_import_leaving_a_charger_open_warns_and_the_checklist_names_it(admin_client, tmp_path):
    path = tmp_path / "ocpp.yaml"
    path.write_text(SPEC_YAML)
    out = StringIO()
    call_command("import_config", str(path), stdout=out)
    assert "(charger-driveway) has no credentials" in out.getvalue()

    site = Site.objects.get(chargers__charge_point_id="charger-driveway")
    page = admin_client.get(f"/admin/energy/site/{site.pk}/commissioning/").content.decode()
    assert 'class="check-failed" id="item-credentials_set"' in page
    assert "open to anyone presenting its id: charger-driveway" in html.unescape(page)


def test_tou_verify_compares_the_plan_the_charger_was_sent_with_its_schedule(server):
    site = make_site(circuit_limit_a=32)
    charger = make_charger(site=site, password=PASSWORD, max_power_w=7360, phases=1)
    make_id_tag(id_tag="RFID-TOU")
    owner = Token.objects.create(user=make_user(sites=(site,))).key
    session = admin_session(server)
    start = timezone.now().replace(second=0, microsecond=0)
    start -= dt.timedelta(minutes=start.minute % 15)
    # Dear for the next two hours, then cheap: the plan waits, then charges.
    slots = [
        {
            "start": (start + dt.timedelta(minutes=15 * i)).isoformat(),
            "end": (start + dt.timedelta(minutes=15 * (i + 1))).isoformat(),
            "price_per_kwh": 0.40 if i < 8 else 0.05,
        }
        for i in range(16)
    ]
    ready_by = (start + dt.timedelta(hours=4)).astimezone(site.zone)

    async def scenario():
        async with sim_charger(server, charger.charge_point_id, password=PASSWORD, phases=1) as cp:
            before = await in_a_thread(press, session, server, site, {"test": "tou"})
            await cp.start(id_tag="RFID-TOU")
            await in_a_thread(http_json, server, "POST", "/api/v1/energy/prices", token=owner, body={"slots": slots})
            target = {"ready_by": f"{ready_by:%H:%M}", "energy_wh": 7000}
            path = f"/api/v1/chargers/{charger.charge_point_id}/target"
            await in_a_thread(http_json, server, "PUT", path, token=owner, body=target)
            await cp.wait_for(lambda: cp.profile_of("TxDefaultProfile"), timeout=30, what="the plan")
            await cp.wait_for(lambda: cp.effective_limit_a() == 0, timeout=30, what="waiting for the cheap hours")
            after = await in_a_thread(press, session, server, site, {"test": "tou"})
            return before, after

    before, after = asyncio.run(scenario())

    first, last = CommissioningCheck.objects.filter(site=site, item=Item.TOU_SCHEDULE).order_by("seen_at", "id")
    assert first.status == "not_yet"
    assert "no connected charger holds a time-of-use plan" in before
    assert last.status == "ok", last.evidence
    assert f"{charger.charge_point_id} follows its plan's" in last.evidence
    held = last.details["chargers"][charger.charge_point_id]
    assert held["plan"][0][1] == 0 and any(w > 0 for _, w in held["plan"])
    assert "TOU schedule verified: ok" in after


def test_a_test_the_page_does_not_know_or_a_charger_of_another_site_is_not_found_and_runs_nothing(admin_client):
    site, other = make_site(), make_site()
    stranger = make_charger(site=other, password=PASSWORD)
    url = f"/admin/energy/site/{site.pk}/commissioning/"

    assert admin_client.post(url, {"test": "reboot"}).status_code == 404
    assert admin_client.post(url, {"test": "start_stop", "charger": str(stranger.pk)}).status_code == 404
    assert admin_client.post(url, {"test": "limit", "charger": "not-a-number"}).status_code == 404
    assert not CommissioningCheck.objects.exists()


def test_staff_who_may_only_view_sites_read_the_checklist_and_the_report_but_run_no_test(client):
    site = make_site(name="Viewed")
    make_charger(site=site, charge_point_id="viewed-cp", password=PASSWORD)
    viewer = User.objects.create_user("viewer", password=ADMIN_PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_site"))
    client.force_login(viewer)
    url = f"/admin/energy/site/{site.pk}/commissioning/"

    page = client.get(url).content.decode()
    assert "viewed-cp" in page and 'id="test-start-stop-viewed-cp"' not in page
    assert "Viewed" in client.get(f"{url}report/").content.decode()
    assert client.post(url, {"test": "load_balancing"}).status_code == 403
    assert not CommissioningCheck.objects.exists()


def test_the_tls_item_reads_the_servers_certificate_and_its_expiry_and_the_url_becomes_wss(settings, tmp_path):
    cert, key = tmp_path / "ocpp.crt", tmp_path / "ocpp.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30"),
            *("-subj", "/CN=bridge.local", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    expires = x509.load_pem_x509_certificate(cert.read_bytes()).not_valid_after_utc
    site = make_site()
    make_charger(site=site, charge_point_id="tls-cp", password=PASSWORD)
    settings.TLS_CERT_FILE, settings.TLS_KEY_FILE = str(cert), str(key)

    items = {item.id: item for item in site_commissioning(site=site, host="bridge.local:9000")}
    assert items["tls_configured"].status == "ok"
    assert f"valid until {expires:%Y-%m-%d %H:%M} UTC" in items["tls_configured"].evidence
    assert "wss://bridge.local:9000/ocpp/tls-cp" in items["central_system_url/tls-cp"].evidence

    cert.write_text("not a certificate")
    items = {item.id: item for item in site_commissioning(site=site, host="bridge.local:9000")}
    assert items["tls_configured"].status == "failed"
    assert str(cert) in items["tls_configured"].evidence


@pytest.mark.parametrize("site", ["²", "9" * 30, "-1", "nowhere"])
def test_a_site_the_api_cannot_find_is_a_404_whatever_its_spelling(client, site):
    client.force_login(User.objects.create_user("staff", is_staff=True))
    response = client.get(f"/api/v1/sites/{site}/commissioning")
    assert (response.status_code, response.json()["error"]) == (404, "not_found")


def test_the_limit_test_without_a_car_charging_is_not_yet_and_sends_nothing(server):
    site = make_site(circuit_limit_a=32)
    charger = make_charger(site=site, password=PASSWORD, phases=3, max_power_w=22080)
    session = admin_session(server)

    async def scenario():
        async with sim_charger(server, charger.charge_point_id, password=PASSWORD, phases=3) as cp:
            sent_before = len(cp.calls)
            page = await in_a_thread(press, session, server, site, {"test": "limit", "charger": str(charger.pk)})
            return page, cp.calls[sent_before:]

    page, calls = asyncio.run(scenario())

    check = CommissioningCheck.objects.get(site=site, charger=charger, item=Item.POWER_LIMITS)
    assert (check.status, check.evidence, check.requested_by) == ("not_yet", "no car is charging on it", "installer")
    assert "Power limits applied correctly: not_yet" in page
    # No test limit (6 A) and no asking for meter values: the boot's own profiles aside, nothing.
    limits = [
        period["limit"]
        for action, payload in calls
        if action == "SetChargingProfile"
        for period in payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"]
    ]
    assert 6 not in limits and "TriggerMessage" not in [action for action, _ in calls]


def test_the_site_list_links_each_site_to_its_commissioning_page(admin_client):
    site = make_site(name="Listed")
    page = admin_client.get("/admin/energy/site/").content.decode()
    assert f'href="/admin/energy/site/{site.pk}/commissioning/"' in page


def test_load_balancing_fails_when_a_charger_refuses_its_limit_and_could_draw_past_the_fuse(server):
    site = make_site(circuit_limit_a=20)
    obeys = make_charger(site=site, password=PASSWORD, phases=3, max_power_w=22080)
    refuses = make_charger(site=site, password=PASSWORD, phases=3, max_power_w=22080)
    session = admin_session(server)

    async def scenario():
        async with (
            sim_charger(server, obeys.charge_point_id, password=PASSWORD, phases=3),
            sim_charger(server, refuses.charge_point_id, password=PASSWORD, phases=3, accept_profiles=False),
        ):
            return await in_a_thread(press, session, server, site, {"test": "load_balancing"})

    page = asyncio.run(scenario())

    check = CommissioningCheck.objects.get(site=site, item=Item.LOAD_BALANCING)
    assert check.status == "failed", check.evidence
    # With no profile its schedule is its own maximum: 32 A, past the 20 A fuse on its own.
    assert f"{refuses.charge_point_id} holds 32.0 A on 3 phases" in check.evidence
    assert "at most 32.0 A on L1, fuse 20 A" in check.evidence
    assert "Load balancing tested: failed" in page
