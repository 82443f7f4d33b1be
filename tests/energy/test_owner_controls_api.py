"""The owner's controls over the REST API: a charger's mode and target (with its plan), a site's
dynamic prices and solar forecast, documented in the schema. Bad input is a 400 with a sentence
and stores nothing; another owner sees none of it (test_owner_mode_live.py: a mode steers a
connected charger)."""

import datetime as dt
import json

import pytest
import yaml
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from chargers.models import Charger
from energy.models import ChargerControl, PriceSlot, SolarForecastSlot
from tests.api.helpers import make_user, token_client
from tests.factories import make_charger, make_site

OPERATIONS = {
    ("/api/v1/chargers/{charger_id}/target", "get"),
    ("/api/v1/chargers/{charger_id}/target", "put"),
    ("/api/v1/chargers/{charger_id}/target", "delete"),
    ("/api/v1/chargers/{charger_id}/mode", "get"),
    ("/api/v1/chargers/{charger_id}/mode", "put"),
    ("/api/v1/energy/prices", "get"),
    ("/api/v1/energy/prices", "post"),
    ("/api/v1/energy/solar-forecast", "get"),
    ("/api/v1/energy/solar-forecast", "post"),
}


def home(**charger_fields) -> tuple[Charger, APIClient]:
    site = make_site(name=f"home-{Charger.objects.count()}", circuit_limit_a=16)
    charger = make_charger(site=site, max_power_w=11000, phases=3, **charger_fields)
    return charger, token_client(make_user(sites=(site,)))


def target_path(charger: Charger) -> str:
    return f"/api/v1/chargers/{charger.charge_point_id}/target"


def mode_path(charger: Charger) -> str:
    return f"/api/v1/chargers/{charger.charge_point_id}/mode"


def control_of(charger: Charger) -> ChargerControl:
    return ChargerControl.objects.get(pk=charger.pk)


def quarter(hours_ahead: float) -> dt.datetime:
    """A quarter-hour boundary about `hours_ahead` from now, in UTC."""
    when = timezone.now() + dt.timedelta(hours=hours_ahead)
    return when.replace(minute=when.minute // 15 * 15, second=0, microsecond=0)


def iso(when: dt.datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def price_slots(first: dt.datetime, prices: list[float], minutes: int = 15) -> list[dict]:
    step = dt.timedelta(minutes=minutes)
    return [
        {"start": iso(first + i * step), "end": iso(first + (i + 1) * step), "price_per_kwh": price}
        for i, price in enumerate(prices)
    ]


# --- the schema --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_schema_documents_the_owner_controls_with_their_errors():
    schema = yaml.safe_load(Client().get("/api/v1/schema").content)

    documented = {(path, method) for path, methods in schema["paths"].items() for method in methods}
    assert documented >= OPERATIONS
    put = schema["paths"]["/api/v1/chargers/{charger_id}/target"]["put"]
    assert set(put["responses"]) == {"200", "400", "401", "403", "404"}
    components = schema["components"]["schemas"]
    assert set(components["ChargerTargetInputRequest"]["properties"]) == {
        "ready_by",
        "energy_wh",
        "soc_percent",
        "battery_capacity_wh",
    }
    mode = components["ChargerModeInputRequest"]["properties"]["mode"]
    assert mode["allOf"] == [{"$ref": "#/components/schemas/ModeEnum"}]
    assert components["ModeEnum"]["enum"] == ["off", "now", "solar", "smart"]
    answer = components["ChargerOwnerControls"]["properties"]
    assert {"mode", "target", "plan_summary", "plan", "plan_cost", "plan_made_at"} <= set(answer)
    assert set(components["PlanSlot"]["properties"]) == {"start", "end", "power_w"}
    prices = schema["paths"]["/api/v1/energy/prices"]
    assert [p["name"] for p in prices["get"]["parameters"]] == ["site"]
    assert set(components["PriceSlotInputRequest"]["properties"]) == {"start", "end", "price_per_kwh"}
    assert set(components["SolarForecastSlotInputRequest"]["properties"]) == {"start", "end", "solar_w"}


# --- target and mode ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_target_is_set_shown_with_the_plan_and_cleared():
    charger, client = home()
    assert client.get(target_path(charger)).json() == {
        "charger_id": charger.charge_point_id,
        "mode": "smart",
        "target": None,
        "plan_summary": "",
        "plan": [],
        "plan_cost": None,
        "plan_made_at": None,
    }

    set_answer = client.put(target_path(charger), {"ready_by": "07:00", "energy_wh": 20000}, format="json")

    assert set_answer.status_code == 200, set_answer.json()
    target = set_answer.json()["target"]
    assert (target["ready_by"], target["energy_wh"], target["soc_percent"]) == ("07:00", 20000, None)
    assert target["set_by"].startswith("api:user")
    control = control_of(charger)
    assert (control.target_ready_by, control.target_energy_wh, control.target_soc_percent) == (
        dt.time(7, 0),
        20000,
        None,
    )

    # What the planner writes (energy/planner.py's contract) reads as slots with their ends.
    midnight = dt.datetime(2026, 12, 7, 0, 0, tzinfo=dt.UTC)
    ChargerControl.objects.filter(pk=charger.pk).update(
        plan=[[midnight.timestamp(), 11000], [midnight.timestamp() + 900, 5500]],
        plan_summary="charging 00:00–00:30, ready by 07:00 at £1.80",
        plan_cost=1.8,
        plan_made_at=midnight - dt.timedelta(hours=2),
    )
    shown = client.get(target_path(charger)).json()
    assert shown["plan"] == [
        {"start": "2026-12-07T00:00:00Z", "end": "2026-12-07T00:15:00Z", "power_w": 11000},
        {"start": "2026-12-07T00:15:00Z", "end": "2026-12-07T00:30:00Z", "power_w": 5500},
    ]
    assert (shown["plan_summary"], shown["plan_cost"], shown["plan_made_at"]) == (
        "charging 00:00–00:30, ready by 07:00 at £1.80",
        1.8,
        "2026-12-06T22:00:00Z",
    )

    by_soc = client.put(
        target_path(charger), {"ready_by": "06:30", "soc_percent": 80, "battery_capacity_wh": 64000}, format="json"
    )
    assert by_soc.status_code == 200
    assert (by_soc.json()["target"]["soc_percent"], control_of(charger).target_energy_wh) == (80, None)

    cleared = client.delete(target_path(charger))

    assert cleared.status_code == 200
    assert cleared.json()["target"] is None
    control = control_of(charger)
    assert (control.target_ready_by, control.target_soc_percent, control.target_set_by) == (None, None, "")


@pytest.mark.django_db
def test_a_mode_is_set_and_read_back():
    charger, client = home()

    answer = client.put(mode_path(charger), {"mode": "solar"}, format="json")

    assert answer.status_code == 200, answer.json()
    assert answer.json()["mode"] == "solar"
    assert control_of(charger).mode == "solar"
    assert client.get(mode_path(charger)).json()["mode"] == "solar"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"energy_wh": 20000}, "ready_by: This field is required."),
        (
            {"ready_by": "7am", "energy_wh": 20000},
            "ready_by: Time has wrong format. Use one of these formats instead: hh:mm.",
        ),
        (
            {"ready_by": "25:00", "energy_wh": 20000},
            "ready_by: Time has wrong format. Use one of these formats instead: hh:mm.",
        ),
        ({"ready_by": "07:00", "energy_wh": "20000"}, "energy_wh: A valid integer is required."),
        ({"ready_by": "07:00", "energy_wh": 20.5}, "energy_wh: A valid integer is required."),
        ({"ready_by": "07:00", "energy_wh": True}, "energy_wh: A valid integer is required."),
        ({"ready_by": "07:00"}, "give either the energy to add (energy_wh) or the state of charge (soc_percent)"),
        ({"ready_by": "07:00", "energy_wh": 0}, "energy_wh must be between 1 and 500,000 Wh, not 0"),
        ({"ready_by": "07:00", "energy_wh": 10**12}, "energy_wh must be between 1 and 500,000 Wh, not 1000000000000"),
        ({"ready_by": "07:00", "soc_percent": 80}, "a state of charge needs the battery's size (battery_capacity_wh)"),
        (
            {"ready_by": "07:00", "soc_percent": 180, "battery_capacity_wh": 60000},
            "soc_percent must be between 1 and 100, not 180",
        ),
    ],
)
@pytest.mark.django_db
def test_a_bad_target_is_a_400_with_a_sentence_and_keeps_the_target_there_was(body, detail):
    charger, client = home()
    client.put(target_path(charger), {"ready_by": "06:00", "energy_wh": 9000}, format="json")

    answer = client.put(target_path(charger), body, format="json")

    assert answer.status_code == 400
    assert (answer.json()["error"], answer.json()["detail"]) == ("invalid", detail)
    control = control_of(charger)
    assert (control.target_ready_by, control.target_energy_wh, control.target_soc_percent) == (
        dt.time(6, 0),
        9000,
        None,
    )


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"mode": "turbo"}, "mode must be one of off, now, solar, smart, not 'turbo'"),
        ({"mode": "Solar"}, "mode must be one of off, now, solar, smart, not 'Solar'"),
        ({}, "mode: This field is required."),
        ({"mode": ["off"]}, "mode: Not a valid string."),
    ],
)
@pytest.mark.django_db
def test_an_unknown_mode_is_a_400_and_the_mode_stays(body, detail):
    charger, client = home()

    answer = client.put(mode_path(charger), body, format="json")

    assert answer.status_code == 400
    assert answer.json()["detail"] == detail
    assert control_of(charger).mode == "smart"


@pytest.mark.django_db
def test_another_owners_charger_is_a_404_and_stays_as_it_was():
    charger, _ = home()
    _, stranger = home()

    for method, path, body in [
        ("get", target_path(charger), None),
        ("put", target_path(charger), {"ready_by": "07:00", "energy_wh": 20000}),
        ("delete", target_path(charger), None),
        ("get", mode_path(charger), None),
        ("put", mode_path(charger), {"mode": "off"}),
    ]:
        answer = getattr(stranger, method)(path, body, format="json")
        assert (method, path, answer.status_code) == (method, path, 404)
        assert answer.json()["error"] == "not_found"
    assert APIClient().put(mode_path(charger), {"mode": "off"}, format="json").status_code == 401
    control = control_of(charger)
    assert (control.mode, control.target_ready_by) == ("smart", None)


@pytest.mark.django_db
def test_staff_may_set_any_chargers_mode():
    charger, _ = home()
    staff = token_client(make_user(is_staff=True))

    assert staff.put(mode_path(charger), {"mode": "now"}, format="json").status_code == 200
    assert control_of(charger).mode == "now"


# --- prices and the solar forecast ---------------------------------------------------------------


@pytest.mark.django_db
def test_prices_posted_for_the_site_are_stored_and_the_upcoming_ones_read_back():
    charger, client = home()
    first = quarter(1)

    answer = client.post("/api/v1/energy/prices", {"slots": price_slots(first, [0.30, -0.02, 0.1234])}, format="json")

    assert answer.status_code == 200, answer.json()
    assert answer.json() == {"site": charger.site.name, "slots": price_slots(first, [0.30, -0.02, 0.1234])}
    stored = PriceSlot.objects.filter(site=charger.site).order_by("start")
    assert [(s.start, str(s.price_per_kwh)) for s in stored] == [
        (first, "0.3000"),
        (first + dt.timedelta(minutes=15), "-0.0200"),
        (first + dt.timedelta(minutes=30), "0.1234"),
    ]
    assert {s.source for s in stored} == {f"api:{answer.wsgi_request.user.username}"}

    # Hourly slots over the same span replace the quarter-hours; an hour already over is not shown.
    hourly = price_slots(first, [0.25, 0.20], minutes=60)
    client.post("/api/v1/energy/prices", {"site": charger.site.name, "slots": hourly}, format="json")
    PriceSlot.objects.create(
        site=charger.site, start=first - dt.timedelta(hours=3), end=first - dt.timedelta(hours=2), price_per_kwh=1
    )
    assert client.get("/api/v1/energy/prices").json()["slots"] == hourly
    assert PriceSlot.objects.filter(site=charger.site).count() == 3


@pytest.mark.django_db
def test_a_solar_forecast_is_stored_and_read_back_by_site_name():
    charger, client = home()
    first = quarter(2)
    slots = [
        {"start": iso(first), "end": iso(first + dt.timedelta(minutes=15)), "solar_w": 2500.5},
        # Any offset is fine: the same instants.
        {
            "start": (first + dt.timedelta(minutes=15)).astimezone(dt.timezone(dt.timedelta(hours=1))).isoformat(),
            "end": (first + dt.timedelta(minutes=30)).astimezone(dt.timezone(dt.timedelta(hours=1))).isoformat(),
            "solar_w": 0,
        },
    ]

    answer = client.post("/api/v1/energy/solar-forecast", {"slots": slots}, format="json")

    assert answer.status_code == 200, answer.json()
    assert [s["solar_w"] for s in answer.json()["slots"]] == [2500.5, 0]
    assert answer.json()["slots"][1]["start"] == iso(first + dt.timedelta(minutes=15))
    read = client.get(f"/api/v1/energy/solar-forecast?site={charger.site.name}").json()
    assert read == answer.json()
    assert SolarForecastSlot.objects.filter(site=charger.site).count() == 2


def _bad_price_bodies() -> list[tuple[str, object, str]]:
    first = quarter(1)
    good = price_slots(first, [0.3])[0]
    naive = {**good, "start": good["start"].rstrip("Z"), "end": good["end"].rstrip("Z")}
    return [
        ("price as a string", {"slots": [{**good, "price_per_kwh": "0.30"}]}, "slots: 0: price_per_kwh: "),
        ("price as true", {"slots": [{**good, "price_per_kwh": True}]}, "slots: 0: price_per_kwh: "),
        ("no price", {"slots": [{"start": good["start"], "end": good["end"]}]}, "slots: 0: price_per_kwh: "),
        ("not a time", {"slots": [{**good, "start": "tomorrow"}]}, "slots: 0: start: Datetime has wrong format"),
        ("slots not a list", {"slots": "0.30"}, "slots"),
        ("no slots", {"slots": []}, "give at least one price_per_kwh slot"),
        ("no zone", {"slots": [naive]}, "give times with their zone (ISO 8601 with an offset)"),
        ("over 100", {"slots": price_slots(first, [0.3, 250])}, "price_per_kwh must be between -100 and 100"),
        ("20 minutes", {"slots": price_slots(first, [0.3], minutes=20)}, "a slot is 15 minutes or an hour long"),
        (
            "overlapping",
            {"slots": price_slots(first, [0.3]) + price_slots(first + dt.timedelta(minutes=5), [0.4])},
            "overlaps the one before it",
        ),
        ("8 days ahead", {"slots": price_slots(quarter(24 * 8), [0.3])}, "is more than 7 days ahead"),
        ("another's site", {"site": "someone-else", "slots": [good]}, "no site 'someone-else'"),
    ]


@pytest.mark.parametrize(("case", "body", "said"), _bad_price_bodies(), ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.django_db
def test_a_bad_price_series_is_refused_whole_and_stores_nothing(case, body, said):
    _charger, client = home()
    make_site(name="someone-else")

    answer = client.post("/api/v1/energy/prices", body, format="json")

    assert answer.status_code == (404 if case == "another's site" else 400), answer.json()
    assert said in json.dumps(answer.json()), answer.json()
    assert not PriceSlot.objects.exists()


@pytest.mark.django_db
def test_nan_or_a_negative_forecast_is_refused_and_stores_nothing():
    _charger, client = home()
    first = quarter(1)
    good = {"start": iso(first), "end": iso(first + dt.timedelta(minutes=15)), "solar_w": 100}
    nan_body = json.dumps({"slots": [good]}).replace("100", "NaN")

    nan = client.post("/api/v1/energy/solar-forecast", nan_body, content_type="application/json")
    negative = client.post("/api/v1/energy/solar-forecast", {"slots": [{**good, "solar_w": -5}]}, format="json")

    assert nan.status_code == 400 and nan.json()["error"] == "parse_error"
    assert negative.status_code == 400
    assert negative.json()["detail"].endswith("solar_w must be between 0 and 1e+06")
    assert not SolarForecastSlot.objects.exists()


@pytest.mark.django_db
def test_another_owners_site_is_a_404_for_its_series():
    charger, _ = home()
    _, stranger = home()
    first = quarter(1)
    PriceSlot.objects.create(site=charger.site, start=first, end=first + dt.timedelta(minutes=15), price_per_kwh="0.3")

    read = stranger.get(f"/api/v1/energy/prices?site={charger.site.name}")
    posted = stranger.post(
        "/api/v1/energy/solar-forecast",
        {
            "site": charger.site.name,
            "slots": [{"start": iso(first), "end": iso(first + dt.timedelta(minutes=15)), "solar_w": 1}],
        },
        format="json",
    )

    assert (read.status_code, posted.status_code) == (404, 404)
    assert not SolarForecastSlot.objects.exists()
