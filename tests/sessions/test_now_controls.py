"""The Now page's mode and target form and its chart of the next hours, through Django's test
client: a post stores both or neither, the page says what happened beside the charger's form,
a neighbour cannot touch the charger, and the forecast, plan and live flow are drawn."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from energy.models import ChargerControl, EnergyReading
from energy.owner_controls import SeriesSlot, site_prices_store, site_solar_forecast_store
from tests.api.helpers import make_user
from tests.factories import make_charger, make_site

pytestmark = pytest.mark.django_db

Q = dt.timedelta(minutes=15)


@pytest.fixture
def home():
    site = make_site(name="Home", time_zone="Europe/London")
    garage = make_charger(site=site, charge_point_id="garage", name="Garage")
    owner = make_user(sites=(site,))
    neighbour_site = make_site(name="Next door")
    make_charger(site=neighbour_site, charge_point_id="theirs", name="Their charger")
    neighbour = make_user(sites=(neighbour_site,))
    return {"site": site, "garage": garage, "owner": owner, "neighbour": neighbour}


def logged_in(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


def control(charger) -> ChargerControl:
    return ChargerControl.objects.get(pk=charger.pk)


def post(client: Client, charger, **fields):
    data = {"mode": "smart", "ready_by": "", "energy_kwh": "", "soc_percent": "", "battery_kwh": "", "action": "save"}
    data.update(fields)
    return client.post(f"/chargers/{charger.pk}/controls", data, follow=True)


def controls_section(html: str, charger) -> str:
    match = re.search(rf'<section class="controls" id="controls-{charger.pk}".*?</section>', html, re.S)
    assert match, "no controls for the charger"
    return match[0]


def test_the_page_shows_each_charger_s_form_with_what_is_set_and_no_plan_yet(home):
    c = control(home["garage"])
    c.mode, c.target_ready_by, c.target_energy_wh = "solar", dt.time(7, 0), 20000
    c.save()

    html = logged_in(home["owner"]).get("/").content.decode()

    form = controls_section(html, home["garage"])
    assert '<option value="solar" selected>Solar (surplus only)</option>' in form
    assert 'value="07:00"' in form and 'value="20"' in form
    assert "csrfmiddlewaretoken" in form
    assert '<dd class="plan">no plan yet</dd>' in html
    assert '<dd class="target">ready by 07:00 with 20 kWh</dd>' in html
    assert "Their charger" not in html


def test_mode_and_target_are_stored_and_the_page_confirms_beside_the_form(home):
    response = post(logged_in(home["owner"]), home["garage"], mode="now", ready_by="06:30", energy_kwh="12.5")

    assert response.redirect_chain == [(f"/#controls-{home['garage'].pk}", 302)]
    c = control(home["garage"])
    assert (c.mode, c.target_ready_by, c.target_energy_wh, c.target_soc_percent) == ("now", dt.time(6, 30), 12500, None)
    assert c.target_set_by.startswith("Now page (")
    form = controls_section(response.content.decode(), home["garage"])
    assert "Saved: Now (as fast as the fuses allow); ready by 06:30 with 12.5 kWh." in form
    # Shown once: a reload does not say it again.
    assert "Saved:" not in logged_in(home["owner"]).get("/").content.decode()


def test_a_state_of_charge_target_takes_the_battery_size(home):
    post(logged_in(home["owner"]), home["garage"], ready_by="07:00", soc_percent="80", battery_kwh="64")

    c = control(home["garage"])
    assert (c.target_soc_percent, c.battery_capacity_wh, c.target_energy_wh) == (80, 64000, None)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"ready_by": "07:00", "energy_kwh": "0"}, "energy_wh must be between 1 and 500,000 Wh, not 0"),
        ({"energy_kwh": "20"}, "say by when the car must be ready"),
        ({"ready_by": "07:00"}, "give either the energy to add (energy_wh) or the state of charge"),
        ({"ready_by": "07:00", "soc_percent": "80"}, "a state of charge needs the battery's size"),
        ({"ready_by": "07:00", "energy_kwh": "600"}, "energy_wh must be between 1 and 500,000 Wh, not 600000"),
        (
            {"ready_by": "07:00", "energy_kwh": "1e12"},
            "Energy to add (kWh): Ensure that there are no more than 9 digits",
        ),
        ({"ready_by": "25:00", "energy_kwh": "20"}, "Ready by: Enter a valid time."),
        ({"ready_by": "07:00", "energy_kwh": "NaN"}, "Energy to add (kWh): Enter a number."),
        ({"mode": "turbo", "ready_by": "07:00", "energy_kwh": "20"}, "Mode: Select a valid choice."),
    ],
)
def test_a_bad_target_says_why_beside_the_form_and_stores_neither_mode_nor_target(home, fields, error):
    c = control(home["garage"])
    c.mode, c.target_ready_by, c.target_energy_wh = "solar", dt.time(7, 0), 20000
    c.save()

    response = post(logged_in(home["owner"]), home["garage"], **{"mode": "now", **fields})

    assert response.status_code == 200
    form = controls_section(response.content.decode(), home["garage"])
    assert 'class="note error" role="alert">Nothing saved' in form
    assert error.replace("'", "&#x27;") in form
    c = control(home["garage"])
    assert (c.mode, c.target_ready_by, c.target_energy_wh) == ("solar", dt.time(7, 0), 20000)


def test_clear_target_removes_the_target_and_keeps_the_mode_given(home):
    client = logged_in(home["owner"])
    post(client, home["garage"], mode="smart", ready_by="07:00", energy_kwh="20")

    response = post(client, home["garage"], mode="smart", ready_by="07:00", energy_kwh="20", action="clear")

    c = control(home["garage"])
    assert (c.mode, c.target_ready_by, c.target_energy_wh, c.target_set_at) == ("smart", None, None, None)
    assert "Saved: Smart (solar, cheapest hours, ready by the target); no target." in response.content.decode()


def test_a_neighbour_and_a_stranger_cannot_set_the_charger(home):
    before = control(home["garage"]).mode

    neighbour = post(logged_in(home["neighbour"]), home["garage"], mode="off")
    stranger = Client().post(f"/chargers/{home['garage'].pk}/controls", {"mode": "off"})

    assert neighbour.status_code == 404
    assert stranger.status_code == 302 and "/accounts/login/" in stranger["Location"]
    assert control(home["garage"]).mode == before


def test_the_form_needs_the_page_s_csrf_token_and_a_post(home):
    client = logged_in(home["owner"], enforce_csrf_checks=True)

    assert client.post(f"/chargers/{home['garage'].pk}/controls", {"mode": "off"}).status_code == 403
    assert client.get(f"/chargers/{home['garage'].pk}/controls").status_code == 405
    assert control(home["garage"]).mode == "smart"


def test_staff_may_set_any_charger(home):
    staff = make_user(is_staff=True)
    post(logged_in(staff), home["garage"], mode="off")
    assert control(home["garage"]).mode == "off"


def test_the_chart_draws_a_posted_forecast_and_prices_and_the_live_refresh_shows_the_plan(home):
    site, garage = home["site"], home["garage"]
    now = timezone.now()
    start = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    site_solar_forecast_store(
        site=site, slots=[SeriesSlot(start + i * Q, start + (i + 1) * Q, 1000.0 * i) for i in range(8)], source="test"
    )
    site_prices_store(site=site, slots=[SeriesSlot(start, start + 4 * Q, 0.25)], source="test")
    # What the planner stores (the lead's energy/planner.py writes these fields).
    ChargerControl.objects.filter(pk=garage.pk).update(
        plan=[[int((start + i * Q).timestamp()), 7400] for i in range(4)],
        plan_summary="charging 00:00–01:00, ready by 07:00 at £1.80",
    )
    EnergyReading.objects.create(site=site, measured_at=now, solar_w=3000, house_w=800, grid_w=-2200)

    client = logged_in(home["owner"])
    html = client.get("/").content.decode()
    live = client.get("/chargers/live").content.decode()

    chart = re.search(rf'<svg id="plan-chart-{site.pk}".*?</svg>', html, re.S)[0]
    assert chart.count('<path class="solar-forecast"') == 1
    assert chart.count("Z") == 7  # one rectangle per slot with sun (the first is 0 W)
    assert '<path class="plan plan-0"' in chart and "<title>Garage</title>" in chart
    assert '<path class="price"' in chart
    assert "Solar forecast peaking at 7.0 kW" in chart and "Garage plans to charge from" in chart
    assert '<dd class="flow-solar">3.0 kW</dd>' in html
    assert '<dd class="flow-grid">2.2 kW export</dd>' in html
    assert '<dd class="flow-house">0.8 kW</dd>' in html
    assert '<dd class="plan">charging 00:00–01:00, ready by 07:00 at £1.80</dd>' in live
    assert "<form" not in live  # the refreshed part holds no form a poll could wipe


def test_a_corrupt_plan_or_reading_draws_nothing_outside_physics(home):
    site, garage = home["site"], home["garage"]
    ChargerControl.objects.filter(pk=garage.pk).update(plan=[["soon", 7400], [1e300, -5], "x"])
    EnergyReading.objects.create(site=site, measured_at=timezone.now(), solar_w=float("nan"), grid_w=1e15)

    html = logged_in(home["owner"]).get("/").content.decode()

    chart = re.search(rf'<svg id="plan-chart-{site.pk}".*?</svg>', html, re.S)[0]
    assert "No forecast, plan or prices for the next hours yet" in chart
    assert '<dd class="flow-solar">—</dd>' in html and '<dd class="flow-grid">—</dd>' in html
    assert "nan" not in chart.lower() and "inf" not in chart.lower()
