"""The Now page's plan in a real browser (Playwright driving Debian's chromium) against the live
server: with prices posted (dear now, cheap in two hours) and a car charging on the independent
test charger (tests/chargepoint_sim.py), the homeowner sets a target in the page's form and
then reads the plan in words, sees it drawn in the chart of the next hours, and the charger
holds a profile that waits for the cheap hours. Screenshot: test-artifacts/now-plan.png."""

import asyncio
import datetime as dt
import re

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from energy.models import ChargerControl
from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim import sim_charger
from tests.conftest import ROOT
from tests.factories import make_charger, make_id_tag, make_site
from tests.ocpp_client import in_a_thread
from tests.services import CHROMIUM, CHROMIUM_ARGS, require_chromium

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

SCREENSHOT = ROOT / "test-artifacts" / "now-plan.png"
PASSWORD = "now-plan-browser-pw-1"
CHARGER_PASSWORD = "now-plan-charger-pw-1"
WAIT_MS = 30_000
Q = dt.timedelta(minutes=15)


def quarter(at: dt.datetime) -> dt.datetime:
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


def local_after(hh_mm: str, *, after: dt.datetime) -> dt.datetime:
    """The first local HH:MM at or after `after` less an hour (a plan's times are all ahead)."""
    at = dt.datetime.combine(after.date(), dt.time.fromisoformat(hh_mm), after.tzinfo)
    return at + dt.timedelta(days=1) if at < after - dt.timedelta(hours=1) else at


@pytest.fixture
def household():
    require_chromium()
    site = make_site(name="Home", time_zone="Europe/London", circuit_limit_a=32)
    garage = make_charger(
        site=site, charge_point_id="garage-cp", name="Garage", password=CHARGER_PASSWORD, max_power_w=7360, phases=1
    )
    make_id_tag(id_tag="RFID1")
    owner = make_user(sites=(site,), password=PASSWORD)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    return {"site": site, "owner": owner, "garage": garage, "token": Token.objects.create(user=owner).key}


async def owner_sets_a_target_and_reads_the_plan(server, household, *, slots, ready_by: str) -> dict:
    from playwright.async_api import async_playwright, expect

    garage = household["garage"]
    seen: dict = {}
    async with sim_charger(server, garage.charge_point_id, password=CHARGER_PASSWORD, phases=1) as cp:
        await cp.start()
        seen["prices"] = await in_a_thread(
            http_json, server, "POST", "/api/v1/energy/prices", token=household["token"], body={"slots": slots}
        )
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await (await browser.new_context(viewport={"width": 1200, "height": 1000})).new_page()
            await page.goto(f"{server.http_url}/accounts/login/")
            await page.get_by_label("Username").fill(household["owner"].username)
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Log in").click()
            await page.wait_for_url(f"{server.http_url}/")

            card = page.locator(f"section.card[data-charger='{garage.charge_point_id}']")
            controls = page.locator(f"#controls-{garage.pk}")
            await expect(card.locator(".connection")).to_contain_text("Online", timeout=WAIT_MS)
            await expect(card.locator(".plan")).to_have_text("no plan yet")

            await controls.get_by_label("Mode", exact=True).select_option("smart")
            await controls.get_by_label("Ready by", exact=True).fill(ready_by)
            await controls.get_by_label("Energy to add (kWh)", exact=True).fill("7")
            await controls.get_by_role("button", name="Save").click()
            await page.wait_for_url(f"**/#controls-{garage.pk}")
            await expect(controls.locator(".note.success")).to_have_text(
                f"Saved: Smart (solar, cheapest hours, ready by the target); ready by {ready_by} with 7 kWh."
            )
            # The plan arrives with the page's own refresh of the charger cards.
            await expect(card.locator(".plan")).to_contain_text("charging ", timeout=WAIT_MS)
            seen["plan_sentence"] = await card.locator(".plan").inner_text()

            # The chart is drawn with the page: a reload shows the plan in it.
            await page.reload()
            chart = page.get_by_role("img", name="The next hours at Home")
            await expect(chart).to_be_visible()
            plan_line = chart.locator("path.plan")
            seen["plan_lines"] = await plan_line.count()
            seen["plan_line_d"] = await plan_line.first.get_attribute("d") if seen["plan_lines"] else ""
            seen["plan_line_title"] = (
                await plan_line.first.locator("title").text_content() if seen["plan_lines"] else ""
            )
            seen["chart_desc"] = await chart.locator("desc").text_content()
            seen["legend"] = await chart.locator("text.legend").all_text_contents()
            await page.screenshot(path=str(SCREENSHOT), full_page=True)
            await browser.close()

        await cp.wait_for(
            lambda: (cp.profile_of("TxDefaultProfile") or {}).get("chargingSchedule") is not None,
            timeout=30,
            what="the plan's TxDefaultProfile",
        )
        await cp.wait_for(lambda: cp.effective_limit_a() == 0, timeout=30, what="waiting for the cheap hour")
        seen["profile"] = cp.profile_of("TxDefaultProfile")
    return seen


def test_a_target_set_on_the_now_page_becomes_a_plan_in_words_in_the_chart_and_on_the_charger(ocpp_server, household):
    site = household["site"]
    start = quarter(timezone.now())
    # Dear for the next two hours, then cheap enough for the whole target.
    slots = [
        {
            "start": (start + i * Q).isoformat(),
            "end": (start + (i + 1) * Q).isoformat(),
            "price_per_kwh": 0.40 if i < 8 else 0.05,
        }
        for i in range(20)
    ]
    cheap_from = start + dt.timedelta(hours=2)
    ready_by = f"{(timezone.now() + dt.timedelta(hours=4)).astimezone(site.zone):%H:%M}"
    began = timezone.now()

    seen = asyncio.run(owner_sets_a_target_and_reads_the_plan(ocpp_server, household, slots=slots, ready_by=ready_by))

    assert seen["prices"][0] == 200, seen["prices"]
    # In words, on the page: when it charges, by when the car is ready.
    sentence = seen["plan_sentence"]
    assert sentence.startswith("charging "), sentence
    assert f"ready by {ready_by}" in sentence, sentence
    first_from = re.match(r"charging (\d\d:\d\d)–", sentence)
    assert first_from, sentence
    assert local_after(first_from.group(1), after=began.astimezone(site.zone)) >= cheap_from, sentence
    # In the chart: the charger's plan is a line of its own, named and described.
    assert seen["plan_lines"] == 1, seen["chart_desc"]
    assert seen["plan_line_d"].startswith("M") and "H" in seen["plan_line_d"]
    assert seen["plan_line_title"] == "Garage"
    assert "Plan: Garage" in seen["legend"]
    described = re.search(r"Garage plans to charge from (\d\d:\d\d) to (\d\d:\d\d)\.", seen["chart_desc"])
    assert described, seen["chart_desc"]
    assert described.group(1) == first_from.group(1), (seen["chart_desc"], sentence)
    # On the charger: nothing now, power from the cheap hours.
    periods = seen["profile"]["chargingSchedule"]["chargingSchedulePeriod"]
    assert periods[0]["limit"] == 0, periods
    assert any(p["limit"] > 0 for p in periods), periods
    control = ChargerControl.objects.get(pk=household["garage"].pk)
    assert control.target_set_by == f"Now page ({household['owner'].username})"
    assert control.plan_summary == sentence
    assert SCREENSHOT.exists()
