"""The Now page's mode and target form and its chart of the next hours in a real browser
(Playwright driving Debian's chromium) against the live server: a homeowner sets a mode and a
target, sees the confirmation and the values after a reload, a bad target is refused with its
reason and changes nothing, the live refresh never wipes what they are typing, and a posted
solar forecast is drawn. Screenshots go to test-artifacts/now-controls-*.png."""

import asyncio
import datetime as dt

import pytest
from django.utils import timezone

from energy.models import ChargerControl, EnergyReading
from energy.owner_controls import SeriesSlot, site_solar_forecast_store
from tests.api.helpers import make_user
from tests.conftest import ROOT
from tests.factories import make_charger, make_site
from tests.services import CHROMIUM, CHROMIUM_ARGS, require_chromium

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "now-controls-browser-pw-1"
WAIT_MS = 20_000
Q = dt.timedelta(minutes=15)


@pytest.fixture
def household():
    require_chromium()
    site = make_site(name="Home", time_zone="Europe/London")
    garage = make_charger(site=site, charge_point_id="garage-cp", name="Garage")
    owner = make_user(sites=(site,), password=PASSWORD)
    # A forecast as a forecast service posts it: from the next quarter-hour, 4 hours of sun.
    now = timezone.now()
    first = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=15 - now.minute % 15)
    shape = [0, 500, 1500, 3000, 4500, 5500, 6000, 5500, 4500, 3000, 1500, 500, 0, 0, 0, 0]
    site_solar_forecast_store(
        site=site,
        slots=[SeriesSlot(first + i * Q, first + (i + 1) * Q, float(w)) for i, w in enumerate(shape)],
        source="forecast.example",
    )
    EnergyReading.objects.create(site=site, measured_at=now, solar_w=2500, house_w=900, grid_w=-1600)
    ARTIFACTS.mkdir(exist_ok=True)
    return {"owner": owner, "garage": garage}


async def shot(page, name: str) -> None:
    await page.screenshot(path=str(ARTIFACTS / f"now-controls-{name}.png"), full_page=True)


async def owner_sets_mode_and_target(server, username: str, pk: int) -> dict:
    from playwright.async_api import async_playwright, expect

    seen: dict = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await (await browser.new_context(viewport={"width": 1200, "height": 1000})).new_page()
        await page.goto(f"{server.http_url}/accounts/login/")
        await page.get_by_label("Username").fill(username)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await page.wait_for_url(f"{server.http_url}/")

        card = page.locator("section.card[data-charger='garage-cp']")
        controls = page.locator(f"#controls-{pk}")
        await expect(card.locator(".plan")).to_have_text("no plan yet")
        await expect(card.locator(".target")).to_have_text("none")
        await expect(controls.get_by_label("Mode", exact=True)).to_have_value("smart")

        chart = page.get_by_role("img", name="The next hours at Home")
        await expect(chart).to_be_visible()
        seen["solar_paths"] = await chart.locator("path.solar-forecast").count()
        seen["solar_d"] = await chart.locator("path.solar-forecast").get_attribute("d")
        seen["chart_desc"] = await chart.locator("desc").text_content()
        seen["flow"] = await page.locator(".flow dl").inner_text()
        await shot(page, "01-now")

        # What is being typed survives the page's own refresh of the charger cards.
        await controls.get_by_label("Energy to add (kWh)", exact=True).fill("33")
        await page.wait_for_function(
            "document.getElementById('chargers').hasAttribute('data-updated')", timeout=WAIT_MS
        )
        seen["typed_after_poll"] = await controls.get_by_label("Energy to add (kWh)", exact=True).input_value()

        await controls.get_by_label("Mode", exact=True).select_option("now")
        await controls.get_by_label("Ready by", exact=True).fill("06:30")
        await controls.get_by_label("Energy to add (kWh)", exact=True).fill("12.5")
        await controls.get_by_role("button", name="Save").click()
        await page.wait_for_url(f"**/#controls-{pk}")
        await expect(controls.locator(".note.success")).to_have_text(
            "Saved: Now (as fast as the fuses allow); ready by 06:30 with 12.5 kWh."
        )
        await expect(card.locator(".mode")).to_have_text("Now (as fast as the fuses allow)")
        await expect(card.locator(".target")).to_have_text("ready by 06:30 with 12.5 kWh")
        await shot(page, "02-saved")

        await page.reload()
        await expect(controls.locator(".note")).to_have_count(0)
        seen["after_reload"] = [
            await controls.get_by_label("Mode", exact=True).input_value(),
            await controls.get_by_label("Ready by", exact=True).input_value(),
            await controls.get_by_label("Energy to add (kWh)", exact=True).input_value(),
        ]

        # 0 kWh: refused with the reason beside the form; the form shows what is still stored.
        await controls.get_by_label("Mode", exact=True).select_option("off")
        await controls.get_by_label("Energy to add (kWh)", exact=True).fill("0")
        await controls.get_by_role("button", name="Save").click()
        await page.wait_for_url(f"**/#controls-{pk}")
        error = controls.locator(".note.error")
        await expect(error).to_contain_text("Nothing saved: energy_wh must be between 1 and 500,000 Wh, not 0.")
        seen["after_zero"] = [
            await controls.get_by_label("Mode", exact=True).input_value(),
            await controls.get_by_label("Energy to add (kWh)", exact=True).input_value(),
        ]
        await shot(page, "03-refused-zero")

        # No time: refused too.
        await controls.get_by_label("Ready by", exact=True).fill("")
        await controls.get_by_label("Energy to add (kWh)", exact=True).fill("20")
        await controls.get_by_role("button", name="Save").click()
        await page.wait_for_url(f"**/#controls-{pk}")
        await expect(error).to_contain_text("Nothing saved: say by when the car must be ready")
        await expect(card.locator(".target")).to_have_text("ready by 06:30 with 12.5 kWh")
        await shot(page, "04-refused-no-time")

        await page.set_viewport_size({"width": 390, "height": 844})  # a phone
        seen["phone_overflow"] = await page.evaluate(
            "document.documentElement.scrollWidth > document.documentElement.clientWidth"
        )
        await shot(page, "05-phone")
        await browser.close()
    return seen


def test_a_homeowner_sets_mode_and_target_on_the_now_page_and_sees_the_forecast(ocpp_server, household):
    for old in ARTIFACTS.glob("now-controls-*.png"):
        old.unlink()
    garage = household["garage"]

    seen = asyncio.run(owner_sets_mode_and_target(ocpp_server, household["owner"].username, garage.pk))

    assert seen["solar_paths"] == 1
    assert seen["solar_d"].count("Z") == 11  # one rectangle per slot with sun
    assert seen["chart_desc"].startswith("Solar forecast peaking at 6.0 kW at ")
    assert seen["flow"].split("\n") == ["Solar", "2.5 kW", "House", "0.9 kW", "Grid", "1.6 kW export", "Cars", "—"]
    assert seen["typed_after_poll"] == "33", "the live refresh wiped what was being typed"
    assert seen["after_reload"] == ["now", "06:30", "12.5"]
    assert seen["after_zero"] == ["now", "12.5"]
    assert not seen["phone_overflow"], "the Now page is wider than a phone"
    control = ChargerControl.objects.get(pk=garage.pk)
    assert (control.mode, control.target_ready_by, control.target_energy_wh) == ("now", dt.time(6, 30), 12500)
    assert control.target_set_by == f"Now page ({household['owner'].username})"
    assert len(list(ARTIFACTS.glob("now-controls-*.png"))) == 5
