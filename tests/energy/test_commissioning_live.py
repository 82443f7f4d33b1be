"""Commissioning a site against the real server: an independent simulated charger
(tests/chargepoint_sim.py) over a real WebSocket ticks the checklist's live items; the admin's
buttons start a real remote start and stop and a real test limit as jobs, answer at once, and the
page shows each result, with the charger's answers, once its job kept it; the API answers the same
checklist as JSON.

The server runs with short test waits (COMMISSIONING_*_WAIT) so a charger that ignores a limit
fails in seconds, not the minute a real site allows."""

import asyncio
import datetime as dt
import html
import os
import re
import subprocess
import sys
import time
from io import StringIO

import pytest
import redis
import requests
from cryptography import x509
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token

from energy.checklist import RUNNING_MARGIN_S, CommissioningTest, Item
from energy.commissioning import TESTS, longest_wait_s, site_commissioning, start_test
from energy.models import CommissioningCheck, Site
from energy.tasks import commissioning_test
from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim import sim_charger
from tests.chargepoint_sim201 import CarStation, sim_station
from tests.chargers.test_configuration import SPEC_YAML
from tests.conftest import ROOT, _database_url, start_server, stop_server
from tests.factories import make_charger, make_id_tag, make_site
from tests.ocpp_client import in_a_thread
from tests.services import require_service

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

PASSWORD = "commissioning-pw-1"
ADMIN_PASSWORD = "installer-commissioning-1"
HTTP_TIMEOUT_S = 60
LIMIT_WAIT_S = 6
# How long a test may take to show its result here: its waits, its commands, a busy machine.
RESULT_WAIT_S = 120


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


def post_button(session: requests.Session, server, site: Site, data: dict) -> str:
    """Press a button of the commissioning page; the page it answers with at once, unescaped."""
    url = f"{server.http_url}/admin/energy/site/{site.pk}/commissioning/"
    session.get(url, timeout=HTTP_TIMEOUT_S).raise_for_status()
    response = session.post(
        url, data={**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]}, timeout=HTTP_TIMEOUT_S
    )
    assert response.status_code == 200, response.text[:2000]
    return html.unescape(response.text)


def press(session: requests.Session, server, site: Site, data: dict) -> str:
    """Press a button of the commissioning page: it answers at once that the test is running;
    then the page (unescaped) once no test runs any more, as the page's own reloading finds it."""
    url = f"{server.http_url}/admin/energy/site/{site.pk}/commissioning/"
    page = post_button(session, server, site, data)
    assert ": running. It waits for the charger's answers" in page
    deadline = time.monotonic() + RESULT_WAIT_S
    while 'data-status="running"' in page:
        assert time.monotonic() < deadline, f"the test still runs after {RESULT_WAIT_S} s"
        time.sleep(0.5)
        page = session.get(url, timeout=HTTP_TIMEOUT_S).text
    assert 'http-equiv="refresh"' not in page
    return html.unescape(page)


def row_of(page: str, item_id: str) -> str:
    """An item's row of the checklist page, its tags stripped: "Load balancing tested ✓ ok ..."."""
    start = page.index(">", page.index(f'id="item-{item_id}"')) + 1
    return " ".join(re.sub(r"<[^>]+>", " ", page[start : page.index("</tr>", start)]).split())


def result_of(site: Site, item: Item, charger=None) -> CommissioningCheck:
    """The result the test's job kept (its running row aside)."""
    checks = CommissioningCheck.objects.filter(site=site, charger=charger, item=item).order_by("-seen_at", "-id")
    results = [check for check in checks if not check.details.get("running")]
    assert len(results) == 1, [(c.status, c.evidence) for c in checks]
    return results[0]


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

    check = result_of(site, Item.REMOTE_START_STOP, charger)
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

    check = result_of(site, Item.REMOTE_START_STOP, charger)
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

    check = result_of(site, Item.POWER_LIMITS, charger)
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

    check = result_of(site, Item.LOAD_BALANCING)
    assert check.status == "ok", check.evidence
    assert "fuse 20 A" in check.evidence and first.charge_point_id in check.evidence
    assert set(check.details["chargers"]) == {first.charge_point_id, second.charge_point_id}
    assert row_of(page, "load_balancing").startswith("Load balancing tested ✓ ok")


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

    checks = CommissioningCheck.objects.filter(site=site, item=Item.TOU_SCHEDULE).order_by("seen_at", "id")
    first, last = [check for check in checks if not check.details.get("running")]
    assert first.status == "not_yet"
    assert "no connected charger holds a time-of-use plan" in before
    assert last.status == "ok", last.evidence
    assert f"{charger.charge_point_id} follows its plan's" in last.evidence
    held = last.details["chargers"][charger.charge_point_id]
    assert held["plan"][0][1] == 0 and any(w > 0 for _, w in held["plan"])
    assert row_of(after, "tou_schedule").startswith("TOU schedule verified ✓ ok")


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

    check = result_of(site, Item.POWER_LIMITS, charger)
    assert (check.status, check.evidence, check.requested_by) == ("not_yet", "no car is charging on it", "installer")
    assert row_of(page, f"power_limits/{charger.charge_point_id}").startswith(
        "Power limits applied correctly not yet no car is charging on it (run by installer)"
    )
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

    check = result_of(site, Item.LOAD_BALANCING)
    assert check.status == "failed", check.evidence
    # With no profile its schedule is its own maximum: 32 A, past the 20 A fuse on its own.
    assert f"{refuses.charge_point_id} holds 32.0 A on 3 phases" in check.evidence
    assert "at most 32.0 A on L1, fuse 20 A" in check.evidence
    assert row_of(page, "load_balancing").startswith("Load balancing tested ✗ failed")


def running_row(site: Site, charger, item: Item, *, started_at: dt.datetime) -> CommissioningCheck:
    """The row a button keeps while its test's job runs, as start_test keeps it."""
    return CommissioningCheck.objects.create(
        site=site,
        charger=charger,
        item=item,
        status="not_yet",
        evidence=f"running since {started_at:%H:%M:%S} (requested by colleague)",
        details={"running": True},
        seen_at=started_at,
        requested_by="colleague",
    )


def test_a_second_press_while_a_test_runs_starts_none_and_a_test_that_never_finished_reads_as_failed(server):
    site = make_site(circuit_limit_a=32)
    charger = make_charger(site=site, password=PASSWORD, phases=3, max_power_w=22000)
    cp_id = charger.charge_point_id
    session = admin_session(server)
    url = f"{server.http_url}/admin/energy/site/{site.pk}/commissioning/"
    # A colleague's start/stop test is running (its job has not kept a result yet).
    running = running_row(site, charger, Item.REMOTE_START_STOP, started_at=timezone.now())

    async def scenario():
        async with sim_charger(server, cp_id, password=PASSWORD, phases=3) as cp:
            await cp.plug_in()
            again = await in_a_thread(
                post_button, session, server, site, {"test": "start_stop", "charger": str(charger.pk)}
            )
            sent_meanwhile = [action for action, _ in cp.calls]
            # The job died (a restart): past its longest wait and the margin, the row reads as failed.
            dead_at = timezone.now() - dt.timedelta(seconds=longest_wait_s() + RUNNING_MARGIN_S + 1)
            await in_a_thread(CommissioningCheck.objects.filter(pk=running.pk).update, seen_at=dead_at)
            dead = html.unescape((await in_a_thread(session.get, url, timeout=HTTP_TIMEOUT_S)).text)
            rerun = await in_a_thread(press, session, server, site, {"test": "start_stop", "charger": str(charger.pk)})
            return again, sent_meanwhile, dead, rerun

    again, sent_meanwhile, dead, rerun = asyncio.run(scenario())

    assert f"Remote start/stop works of {cp_id}: a test is already running" in again
    assert "RemoteStartTransaction" not in sent_meanwhile
    assert row_of(again, f"remote_start_stop/{cp_id}").startswith("Remote start/stop works running… running since")
    assert re.search(rf'id="test-start-stop-{cp_id}"\s+disabled', again)
    assert re.search(rf'id="test-limit-{cp_id}">', again), "the charger's other test may still run"
    assert 'http-equiv="refresh"' in again

    assert row_of(dead, f"remote_start_stop/{cp_id}").startswith(
        "Remote start/stop works ✗ failed did not finish: running since"
    )
    assert 'http-equiv="refresh"' not in dead and f'id="test-start-stop-{cp_id}">' in dead
    assert row_of(rerun, f"remote_start_stop/{cp_id}").startswith("Remote start/stop works ✓ ok RemoteStart answered")
    assert [c.requested_by for c in CommissioningCheck.objects.filter(site=site).order_by("seen_at", "id")] == [
        "colleague",
        "installer",
        "installer",
    ]


def test_a_test_whose_job_dies_keeps_a_failed_result_with_the_error(monkeypatch):
    site = make_site()

    def dies(**_):
        raise RuntimeError("the database went away")

    monkeypatch.setitem(TESTS, CommissioningTest.LOAD_BALANCING, dies)
    assert start_test(site=site, test=CommissioningTest.LOAD_BALANCING, charger=None, requested_by="installer")
    # What a worker (or the server's loop) runs for the button: it raises nothing.
    commissioning_test(test="load_balancing", site_pk=site.pk, charger_pk=None, requested_by="installer")

    check = result_of(site, Item.LOAD_BALANCING)
    assert (check.status, check.evidence) == ("failed", "the test stopped with an error: the database went away")
    item = {item.id: item for item in site_commissioning(site=site, host="bridge.local")}["load_balancing"]
    assert (item.status, item.running) == ("failed", False)


COMMISSIONING_REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture
def scaled_server(django_db_setup, tmp_path):
    """The scaled deployment: a server on Redis and a real Celery worker; no test runs in the server."""
    require_service("Redis", "127.0.0.1", 6379)
    redis.Redis.from_url(COMMISSIONING_REDIS_URL).flushdb()
    env = {"REDIS_URL": COMMISSIONING_REDIS_URL, "COMMISSIONING_TRANSACTION_WAIT": "15"}
    process, server = start_server(tmp_path, env)
    with (tmp_path / "celery.log").open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "graylogic", "worker", "--pool", "solo", "--loglevel", "INFO"],
            cwd=ROOT,
            env={**os.environ, **env, "DATABASE_URL": _database_url()},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        yield server
        stop_server(worker)
        stop_server(process)


def test_in_the_scaled_deployment_a_celery_worker_runs_the_test_and_reaches_the_charger_over_redis(scaled_server):
    site = make_site(circuit_limit_a=32)
    charger = make_charger(site=site, password=PASSWORD, phases=3, max_power_w=22000)
    session = admin_session(scaled_server)

    async def scenario():
        async with sim_charger(scaled_server, charger.charge_point_id, password=PASSWORD, phases=3) as cp:
            await cp.plug_in()
            data = {"test": "start_stop", "charger": str(charger.pk)}
            page = await in_a_thread(press, session, scaled_server, site, data)
            return page, [action for action, _ in cp.calls]

    page, calls = asyncio.run(scenario())

    check = result_of(site, Item.REMOTE_START_STOP, charger)
    assert check.status == "ok", (check.evidence, check.details)
    assert {"RemoteStartTransaction", "RemoteStopTransaction"} <= set(calls)
    assert "the transaction ended" in row_of(page, f"remote_start_stop/{charger.charge_point_id}")
