"""The admin charger page in a real browser (Playwright driving Debian's chromium) against the
live server, while an independent simulated charge point is connected: the page leads with the
live state, then the commands, then the settings form; labels are words with units; times show
seconds; the metering the server changed at boot is said; a charger open to anyone is flagged.

Screenshots go to test-artifacts/. Everything runs in one event loop (Playwright's async API
next to the charge point); the database is only touched before it."""

import asyncio
import re

import pytest
from django.contrib.auth.models import User

from tests.chargepoint_sim import sim_charger
from tests.conftest import ROOT
from tests.factories import make_charger, make_site
from tests.services import CHROMIUM, CHROMIUM_ARGS, require_chromium

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

ARTIFACTS = ROOT / "test-artifacts"
ADMIN_PASSWORD = "installer-browser-pw-1"
CHARGER_PASSWORD = "drive-secret-1"
WAIT_MS = 20_000
TO_THE_SECOND = re.compile(r"\d{1,2} \w{3} \d{4}, \d{2}:\d{2}:\d{2} UTC")


@pytest.fixture
def installation():
    require_chromium()
    site = make_site(name="Home", circuit_limit_a=32)
    drive = make_charger(
        site=site, charge_point_id="drive-cp", name="Drive", phases=3, max_power_w=22000, password=CHARGER_PASSWORD
    )
    open_charger = make_charger(site=site, charge_point_id="shed-cp", name="Shed")
    User.objects.create_superuser("installer", "installer@example.com", ADMIN_PASSWORD)
    ARTIFACTS.mkdir(exist_ok=True)
    return {"drive": drive.pk, "open": open_charger.pk}


async def installer_reads_the_charger_page(server, installation: dict) -> dict:
    from playwright.async_api import async_playwright, expect

    seen: dict = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.goto(f"{server.http_url}/admin/login/")
        await page.get_by_label("Username").fill("installer")
        await page.get_by_label("Password").fill(ADMIN_PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await page.wait_for_url(f"{server.http_url}/admin/")

        async with sim_charger(server, "drive-cp", password=CHARGER_PASSWORD, phases=3, max_current_a=32) as cp:
            await cp.plug_in()
            await cp.wait_for(lambda: len(cp.sent("ChangeConfiguration")) == 2, what="the metering changes at boot")
            change_url = f"{server.http_url}/admin/chargers/charger/{installation['drive']}/change/"
            live = page.locator("#charger-live-state")
            metering = page.locator("ul.metering")
            # The page is a snapshot: reload until the charger's plug-in and answers are stored.
            for _ in range(WAIT_MS // 250):
                await page.goto(change_url)
                text = await live.inner_text() + await metering.inner_text()
                if "Preparing" in text and "The charger answered Accepted" in text:
                    break
                await asyncio.sleep(0.25)
            await expect(live).to_contain_text("Online since")
            await page.screenshot(path=str(ARTIFACTS / "admin-01-charger-page.png"), full_page=True)

            boxes = {}
            for name, locator in {
                "live": live,
                "commands": page.locator("#charger-commands"),
                "settings": page.locator("#charger-settings"),
                "max_power": page.get_by_label("Max power (W)"),
            }.items():
                boxes[name] = (await locator.bounding_box())["y"]
            seen["boxes"] = boxes
            seen["headings"] = await page.locator("#charger_form h2").all_inner_texts()
            seen["live"] = await live.inner_text()
            seen["metering"] = await metering.inner_text()
            seen["labels"] = await page.locator("#charger-settings label").all_inner_texts()
            seen["max_power_w"] = await page.get_by_label("Max power (W)").input_value()
            seen["open_warning"] = await page.locator("#charger-open-warning").count()

        await page.goto(f"{server.http_url}/admin/chargers/charger/?credentials=none")
        seen["open_list"] = await page.locator("#result_list").inner_text()
        await page.screenshot(path=str(ARTIFACTS / "admin-02-open-chargers.png"), full_page=True)
        await page.goto(f"{server.http_url}/admin/chargers/charger/{installation['open']}/change/")
        seen["open_page_warning"] = await page.locator("#charger-open-warning").inner_text()
        await browser.close()
    return seen


def test_the_admin_charger_page_leads_with_live_state_and_diagnosis_then_commands_then_settings_in_words_with_units(
    ocpp_server, installation
):
    seen = asyncio.run(installer_reads_the_charger_page(ocpp_server, installation))

    boxes = seen["boxes"]
    assert boxes["live"] < boxes["commands"] < boxes["settings"] <= boxes["max_power"], boxes
    assert seen["headings"][:4] == ["Live state", "Diagnosis", "Commands", "Identity and site"]

    live = seen["live"]
    assert re.search(r"Online since .* over OCPP 1\.6-J", live), live
    assert re.search(r"Connector 1:\s+Preparing since", live), live
    assert TO_THE_SECOND.search(live), live
    assert re.search(r"Limit in force:\s+\d+ W \(\d+\.\d A on 3 phases\)", live), live
    assert "Set by:" in live

    assert "Max power (W):" in seen["labels"] and "Heartbeat interval (s):" in seen["labels"]
    assert "Minimum current (A):" in seen["labels"]
    assert not [label for label in seen["labels"] if re.search(r" (w|s|a):$", label)], seen["labels"]
    assert seen["max_power_w"] == "22000"

    metering = seen["metering"]
    assert "MeterValueSampleInterval 0 s (no periodic samples)" in metering
    assert "MeterValueSampleInterval: 0 s → 60 s. The charger answered Accepted." in metering
    assert "MeterValuesSampledData: added Power.Active.Import, Current.Import" in metering
    assert "removed" not in metering

    assert seen["open_warning"] == 0
    assert "shed-cp" in seen["open_list"] and "drive-cp" not in seen["open_list"]
    assert "anything presenting its id may connect" in seen["open_page_warning"]
