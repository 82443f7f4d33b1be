"""The homeowner pages in a real browser (Playwright driving Debian's chromium) against the live
server, while a WebSocket charge point drives the charger: the Now page follows it without a
reload, the history filters, a session opens, the CSV downloads; a neighbour sees none of it.

Screenshots of every page go to test-artifacts/. Everything runs in one event loop (Playwright's
async API next to the charge point); the database is only touched before and after it."""

import asyncio
import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from ocpp.v16 import call

from energy.models import EnergyReading, LimitDecision
from sessions.models import ChargingSession
from tests.api.helpers import make_user
from tests.conftest import ROOT
from tests.factories import make_charger, make_session, make_site, make_tariff
from tests.ocpp_client import AnsweringCharger, library_charger
from tests.services import CHROMIUM, CHROMIUM_ARGS, require_chromium

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "homeowner-browser-pw-1"
CHARGER_PASSWORD = "garage-secret-1"
WAIT_MS = 20_000
# The charger's clock: a Tuesday afternoon in January (GMT, so UTC is the site's time).
T0 = dt.datetime(2026, 1, 13, 15, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


def iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@pytest.fixture
def household():
    require_chromium()
    site = make_site(name="Home", time_zone="Europe/London")
    make_tariff(site=site)
    for minute in range(0, 60, 5):  # exporting 2 kW while the car takes 2 kW, 15:00-16:00
        EnergyReading.objects.create(site=site, measured_at=T0 + dt.timedelta(minutes=minute), grid_w=-2000)
    EnergyReading.objects.create(site=site, measured_at=T0 + H, grid_w=2000)  # then cloud: importing it all
    garage = make_charger(site=site, charge_point_id="garage-cp", name="Garage", password=CHARGER_PASSWORD)
    decisions = [
        (T0 - H / 6, 7400, "charger", "at the charger's maximum of 32.2 A", "unchanged"),
        (
            T0 + 3 * H,
            3700,
            "grid",
            "the grid operator asks for at most 50 % of full power (level moderate)",
            "ChargePointMaxProfile Accepted",
        ),
    ]
    for decided_at, limit_w, source, reason, outcome in decisions:
        decision = LimitDecision.objects.create(
            charger=garage,
            limit_w=limit_w,
            current_a=limit_w / 230,
            phases=1,
            source=source,
            reason=reason,
            outcome=outcome,
        )
        LimitDecision.objects.filter(pk=decision.pk).update(decided_at=decided_at)  # set on creation otherwise
    drive = make_charger(site=site, charge_point_id="drive-cp", name="Drive")
    make_session(charger=garage, started_at=dt.datetime(2025, 12, 20, 18, tzinfo=dt.UTC), energy_wh=9000)
    make_session(charger=drive, started_at=T0 - 24 * H, energy_wh=4000)
    owner = make_user(sites=(site,), password=PASSWORD)
    neighbour_site = make_site(name="Next door")
    make_charger(site=neighbour_site, charge_point_id="their-cp", name="Their charger")
    neighbour = make_user(sites=(neighbour_site,), password=PASSWORD)
    ARTIFACTS.mkdir(exist_ok=True)
    return {"owner": owner, "neighbour": neighbour}


async def log_in(page, server, username: str) -> None:
    await page.goto(f"{server.http_url}/accounts/login/")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"{server.http_url}/")


async def shot(page, name: str) -> None:
    await page.screenshot(path=str(ARTIFACTS / f"pages-{name}.png"), full_page=True)


async def owner_and_charger(server, username: str) -> dict:
    from playwright.async_api import async_playwright, expect

    seen: dict = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1200, "height": 900})
        page = await context.new_page()
        await page.goto(f"{server.http_url}/")
        await page.wait_for_url("**/accounts/login/?next=/")
        await shot(page, "01-login")
        await log_in(page, server, username)

        card = page.locator("section.card[data-charger='garage-cp']")
        await expect(card.locator(".connection")).to_contain_text("Offline")
        await expect(page.locator("section.card[data-charger='drive-cp']")).to_be_visible()
        await expect(page.locator("section.card[data-charger='their-cp']")).to_have_count(0)
        await shot(page, "02-now-offline")
        # Marks this very document: a reload would lose it.
        await page.evaluate("window.notReloaded = true")

        async with library_charger(
            server, "garage-cp", password=CHARGER_PASSWORD, charge_point_class=AnsweringCharger
        ) as cp:
            await cp.call(call.BootNotification(charge_point_vendor="Wallbox", charge_point_model="Pulsar Plus"))
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
            await expect(card.locator(".connection")).to_contain_text("Online", timeout=WAIT_MS)
            await expect(card.locator(".status")).to_have_text("Available", timeout=WAIT_MS)
            await expect(card.locator(".reason")).to_contain_text("No car is plugged in.")

            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))
            start = await cp.call(
                call.StartTransaction(connector_id=1, id_tag="RFID123", meter_start=1000, timestamp=iso(T0))
            )
            seen["transaction_id"] = start.transaction_id
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
            for quarter in range(1, 5):  # 2 kW for an hour, sampled every 15 minutes
                await cp.call(
                    call.MeterValues(
                        connector_id=1,
                        transaction_id=start.transaction_id,
                        meter_value=[
                            {
                                "timestamp": iso(T0 + quarter * H / 4),
                                "sampledValue": [
                                    {
                                        "value": str(1.0 + 0.5 * quarter),
                                        "measurand": "Energy.Active.Import.Register",
                                        "unit": "kWh",
                                    },
                                    {"value": "2000", "measurand": "Power.Active.Import", "unit": "W"},
                                ],
                            }
                        ],
                    )
                )
            await expect(card.locator(".status")).to_have_text("Charging", timeout=WAIT_MS)
            await expect(card.locator(".power")).to_have_text("2.0 kW", timeout=WAIT_MS)
            await expect(card.locator(".energy")).to_have_text("2.00 kWh", timeout=WAIT_MS)
            await expect(card.locator(".reason")).to_have_count(0)
            seen["not_reloaded"] = await page.evaluate("window.notReloaded === true")
            await shot(page, "03-now-charging")

            await cp.call(
                call.StopTransaction(
                    meter_stop=13000,
                    timestamp=iso(T0 + 6 * H),
                    transaction_id=start.transaction_id,
                    reason="EVDisconnected",
                )
            )
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
            await expect(card.locator(".status")).to_have_text("Available", timeout=WAIT_MS)
            await expect(card.locator(".energy")).to_have_text("—")

        await page.get_by_role("link", name="History").first.click()
        await page.wait_for_url("**/sessions/")
        await expect(page.locator("table.sessions tbody tr")).to_have_count(3)
        await shot(page, "04-history")

        await page.get_by_label("Charger").select_option("garage-cp")
        await page.get_by_label("Month").fill("2026-01")
        await page.get_by_role("button", name="Show").click()
        await page.wait_for_url("**/sessions/?charger=garage-cp&month=2026-01")
        rows = page.locator("table.sessions tbody tr")
        await expect(rows).to_have_count(1)
        seen["history_row"] = await rows.first.inner_text()
        seen["totals_row"] = await page.locator("table.totals tbody tr").first.inner_text()
        await shot(page, "05-history-filtered")

        async with page.expect_download() as download_info:
            await page.get_by_role("link", name="Download CSV").click()
        download = await download_info.value
        seen["csv"] = Path(await download.path()).read_text()

        await page.set_viewport_size({"width": 390, "height": 844})  # a phone
        seen["phone_overflow"] = await page.evaluate(
            "document.documentElement.scrollWidth > document.documentElement.clientWidth"
        )
        await shot(page, "06-history-phone")
        await page.set_viewport_size({"width": 1200, "height": 900})

        await rows.first.get_by_role("link").click()
        await page.wait_for_url(f"**/sessions/{start.transaction_id}/")
        chart = page.get_by_role("img", name=f"Power during session {start.transaction_id}")
        await expect(chart).to_be_visible()
        seen["summary"] = await page.locator("dl.summary").inner_text()
        seen["decisions"] = await page.locator("table.decisions").inner_text()
        seen["chart_limit"] = await page.locator("svg.chart path.limit").count()
        await shot(page, "07-session")

        await page.get_by_role("button", name="Log out").click()
        await page.wait_for_url("**/accounts/login/")
        await context.close()
        await browser.close()
    return seen


async def neighbour_sees_nothing(server, username: str, transaction_id: int) -> dict:
    from playwright.async_api import async_playwright, expect

    seen: dict = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1200, "height": 900})
        page = await context.new_page()
        await log_in(page, server, username)
        await expect(page.locator("section.card[data-charger='their-cp']")).to_be_visible()
        seen["now"] = await page.locator("main").inner_text()
        await shot(page, "08-neighbour-now")
        await page.goto(f"{server.http_url}/sessions/")
        seen["history"] = await page.locator("table.sessions").inner_text()
        await shot(page, "09-neighbour-history")
        response = await page.goto(f"{server.http_url}/sessions/{transaction_id}/")
        seen["detail_status"] = response.status
        await shot(page, "10-neighbour-session-404")
        csv_response = await context.request.get(f"{server.http_url}/sessions.csv")
        seen["csv"] = await csv_response.text()
        await browser.close()
    return seen


def test_a_homeowner_follows_their_charger_and_history_in_a_browser_and_a_neighbour_sees_none(ocpp_server, household):
    for old in ARTIFACTS.glob("pages-*.png"):
        old.unlink()

    seen = asyncio.run(owner_and_charger(ocpp_server, household["owner"].username))

    transaction_id = seen["transaction_id"]
    assert seen["not_reloaded"], "the Now page reloaded instead of refreshing itself"
    assert "Tue 13 Jan 2026 15:00" in seen["history_row"] and "RFID123" in seen["history_row"]
    assert "12.00" in seen["history_row"] and "£3.60" in seen["history_row"] and "17 %" in seen["history_row"]
    assert seen["totals_row"].split("\t") == ["January 2026", "1", "12.00", "£3.60", "17 %"]
    assert [dict(r) for r in csv.DictReader(io.StringIO(seen["csv"]))] == [
        {
            "session": str(transaction_id),
            "charger": "Garage",
            "started": "2026-01-13T15:00:00+00:00",
            "ended": "2026-01-13T21:00:00+00:00",
            "duration_min": "360",
            "energy_kwh": "12.000",
            "cost": "3.60",  # 2 kWh standard, 8 kWh peak, 2 kWh standard
            "currency": "GBP",
            "solar_percent": "16.7",  # the first 2 kWh, from the export before 16:00
            "id_tag": "RFID123",
            "stop_reason": "EVDisconnected",
        }
    ]
    assert not seen["phone_overflow"], "the history page is wider than a phone"
    assert "£3.60" in seen["summary"] and "12.00 kWh" in seen["summary"]
    assert "At the charger's maximum of 32.2 A" in seen["decisions"] and "(in force at the start)" in seen["decisions"]
    assert "grid operator\tThe grid operator asks for at most 50 % of full power" in seen["decisions"]
    assert seen["chart_limit"] == 1

    session = ChargingSession.objects.get(pk=transaction_id)
    assert (session.cost, session.solar_percent) == (Decimal("3.60"), 16.7)

    other = asyncio.run(neighbour_sees_nothing(ocpp_server, household["neighbour"].username, transaction_id))

    assert "Their charger" in other["now"] and "Garage" not in other["now"] and "Drive" not in other["now"]
    assert "No sessions match." in other["history"]
    assert other["detail_status"] == 404
    assert other["csv"].strip().splitlines() == [
        "session,charger,started,ended,duration_min,energy_kwh,cost,currency,solar_percent,id_tag,stop_reason"
    ]
    assert len(list(ARTIFACTS.glob("pages-*.png"))) == 10
