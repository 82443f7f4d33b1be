"""Troubleshooting on the homeowner's Now page, in a real browser (Playwright driving Debian's
chromium) against the live server: a car plugged into the independent test charger
(tests/chargepoint_sim.py) presents a tag nobody added, and the card says so in plain words
instead of a status word. Screenshot: test-artifacts/now-diagnosis.png."""

import asyncio

import pytest

from tests.api.helpers import make_user
from tests.chargepoint_sim import sim_charger
from tests.conftest import ROOT
from tests.factories import make_charger, make_site
from tests.services import CHROMIUM, CHROMIUM_ARGS, require_chromium

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

SCREENSHOT = ROOT / "test-artifacts" / "now-diagnosis.png"
PASSWORD = "now-diagnosis-browser-pw-1"
CHARGER_PASSWORD = "now-diagnosis-charger-pw-1"
WAIT_MS = 30_000


async def owner_reads_why_it_does_not_charge(server, *, owner, charger) -> dict:
    from playwright.async_api import async_playwright, expect

    seen: dict = {}
    async with sim_charger(server, charger.charge_point_id, password=CHARGER_PASSWORD, phases=1) as cp:
        seen["answer"] = await cp.start(id_tag="STRANGER")
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await (await browser.new_context(viewport={"width": 1200, "height": 1000})).new_page()
            await page.goto(f"{server.http_url}/accounts/login/")
            await page.get_by_label("Username").fill(owner.username)
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Log in").click()
            await page.wait_for_url(f"{server.http_url}/")
            card = page.locator(f"section.card[data-charger='{charger.charge_point_id}']")
            await expect(card.locator(".reason")).to_contain_text("STRANGER", timeout=WAIT_MS)
            seen["reason"] = await card.locator(".reason").inner_text()
            seen["status"] = await card.locator(".status").inner_text()
            await page.screenshot(path=str(SCREENSHOT), full_page=True)
            await browser.close()
    return seen


def test_the_now_page_says_the_start_tag_was_refused_in_plain_words(ocpp_server):
    require_chromium()
    site = make_site(name="Home", circuit_limit_a=32)
    charger = make_charger(site=site, name="Garage", password=CHARGER_PASSWORD, max_power_w=7360, phases=1)
    owner = make_user(sites=(site,), password=PASSWORD)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)

    seen = asyncio.run(owner_reads_why_it_does_not_charge(ocpp_server, owner=owner, charger=charger))

    assert seen["answer"]["idTagInfo"]["status"] == "Invalid"
    assert seen["status"] == "Finishing"  # the status word the card showed before as the reason
    assert seen["reason"] == (
        "Not charging: Your car is plugged in but the start tag STRANGER was refused: it is not accepted here "
        "(ask your installer to add it)."
    )
