"""The commissioning page in a real browser (Playwright driving Debian's chromium) against the
live server, with an independent simulated charge point connected: the installer opens it from
the site's page, reads the checklist, presses the remote start/stop test, which answers at once
that it runs, and sees the result and the charger's answers once the page has reloaded itself,
then opens the printable report.

Screenshots go to test-artifacts/. Everything runs in one event loop (Playwright's async API next
to the charge point); the database is only touched before it."""

import asyncio

import pytest
from django.contrib.auth.models import User

from tests.chargepoint_sim import sim_charger
from tests.conftest import ROOT
from tests.factories import make_charger, make_site
from tests.services import CHROMIUM, CHROMIUM_ARGS, require_chromium

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

ARTIFACTS = ROOT / "test-artifacts"
ADMIN_PASSWORD = "installer-commissioning-pw-1"
CHARGER_PASSWORD = "drive-secret-2"
WAIT_MS = 30_000


@pytest.fixture
def installation():
    require_chromium()
    site = make_site(name="Hill House", circuit_limit_a=32)
    make_charger(
        site=site, charge_point_id="hill-cp", name="Drive", phases=3, max_power_w=22000, password=CHARGER_PASSWORD
    )
    User.objects.create_superuser("installer", "installer@example.com", ADMIN_PASSWORD)
    ARTIFACTS.mkdir(exist_ok=True)
    return site.pk


async def installer_commissions_the_site(server, site_pk: int) -> dict:
    from playwright.async_api import async_playwright, expect

    seen: dict = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(WAIT_MS)
        await page.goto(f"{server.http_url}/admin/login/")
        await page.get_by_label("Username").fill("installer")
        await page.get_by_label("Password").fill(ADMIN_PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await page.wait_for_url(f"{server.http_url}/admin/")

        await page.goto(f"{server.http_url}/admin/energy/site/{site_pk}/change/")
        await page.get_by_role("link", name="Commissioning").click()
        connected = page.locator("#item-connected\\/hill-cp")
        seen["before"] = await connected.inner_text()
        seen["url_row"] = await page.locator("#item-central_system_url\\/hill-cp").inner_text()

        async with sim_charger(server, "hill-cp", password=CHARGER_PASSWORD, phases=3) as cp:
            await cp.plug_in()
            await cp.wait_for(lambda: cp.sent("GetConfiguration"), what="the compatibility probe")
            await page.get_by_role("link", name="Refresh").click()
            await expect(connected).to_have_attribute("data-status", "ok")
            seen["after"] = await connected.inner_text()

            await page.get_by_role("button", name="Test remote start/stop").click()
            seen["message"] = await page.locator("ul.messagelist").inner_text()
            row = page.locator("#item-remote_start_stop\\/hill-cp")
            # The page reloads itself while the test runs; no one presses Refresh.
            await expect(row).to_have_attribute("data-status", "ok")
            seen["button_enabled"] = await page.get_by_role("button", name="Test remote start/stop").is_enabled()
            seen["reloading"] = await page.locator('meta[http-equiv="refresh"]').count()
            await row.get_by_text("The charger's answers").click()
            seen["start_stop"] = await row.inner_text()
            seen["calls"] = [action for action, _ in cp.calls]
            await page.screenshot(path=str(ARTIFACTS / "commissioning-01-page.png"), full_page=True)

        await page.get_by_role("link", name="Printable report").click()
        seen["report_site"] = await page.locator("#report-site").inner_text()
        seen["report_chargers"] = await page.locator("#report-chargers").inner_text()
        seen["report_row"] = await page.locator("#report-remote_start_stop\\/hill-cp").inner_text()
        seen["report_date"] = await page.locator("#report-date").inner_text()
        await page.emulate_media(media="print")
        seen["print_button_shown"] = await page.get_by_role("button", name="Print").is_visible()
        await page.pdf(path=str(ARTIFACTS / "commissioning-02-report.pdf"))
        await browser.close()
    return seen


def test_the_installer_runs_the_start_stop_test_from_the_commissioning_page_and_prints_the_report(
    ocpp_server, installation
):
    seen = asyncio.run(installer_commissions_the_site(ocpp_server, installation))

    assert "not yet" in seen["before"] and "never connected" in seen["before"]
    assert "/ocpp/hill-cp" in seen["url_row"]
    assert "✓ ok" in seen["after"] and "SimVendor Sim 22, firmware 1.0" in seen["after"]

    assert "Remote start/stop works of hill-cp: running" in seen["message"]
    assert seen["button_enabled"] and seen["reloading"] == 0
    assert "RemoteStart answered Accepted" in seen["start_stop"]
    assert "'start': {'status': 'Accepted'}" in seen["start_stop"]
    assert "'stop': {'status': 'Accepted'}" in seen["start_stop"]
    assert seen["calls"].count("RemoteStartTransaction") == 1 and "RemoteStopTransaction" in seen["calls"]

    assert seen["report_site"] == "Hill House"
    assert "hill-cp" in seen["report_chargers"] and "SimVendor" in seen["report_chargers"]
    assert "Sim 22" in seen["report_chargers"] and "1.0" in seen["report_chargers"]
    assert "ok" in seen["report_row"] and "RemoteStop answered Accepted" in seen["report_row"]
    assert seen["report_date"]
    assert seen["print_button_shown"] is False
