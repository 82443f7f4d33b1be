"""Cost and solar share from the database: live while charging, stored when the session stops."""

import datetime as dt
from decimal import Decimal

import pytest

from energy.models import EnergyReading, PriceSlot
from sessions import billing
from sessions.billing import session_account, session_figures_live
from sessions.models import ChargingSession
from sessions.services import MeterValuesReport, SampleData, meter_values_store_many, session_start, session_stop
from tests.factories import make_charger, make_session, make_site, make_tariff

pytestmark = pytest.mark.django_db

# 13 January 2026: London is on GMT, so UTC hours are the site's hours.
T0 = dt.datetime(2026, 1, 13, 15, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


def readings(site, start, end, **fields) -> None:
    at = start
    while at < end:
        EnergyReading.objects.create(site=site, measured_at=at, **fields)
        at += dt.timedelta(minutes=5)


@pytest.fixture
def charger():
    site = make_site(time_zone="Europe/London")
    make_tariff(site=site)
    # The car draws 2 kW. Exporting 2 kW more until 16:00 (all solar), then importing it all.
    readings(site, T0, T0 + H, grid_w=-2000)
    readings(site, T0 + H, T0 + 6 * H, grid_w=2000)
    return make_charger(site=site)


def start_and_sample(charger, hours: int) -> int:
    """A 2 kW session from 15:00 with an energy register sample every hour."""
    transaction_id, _ = session_start(
        charger_pk=charger.pk, connector_id=1, id_tag="RFID123", meter_start_wh=1000, started_at=T0
    )
    for hour in range(1, hours + 1):
        meter_values_store_many(
            [
                MeterValuesReport(
                    charger_pk=charger.pk,
                    connector_id=1,
                    transaction_id=transaction_id,
                    samples=[SampleData(timestamp=T0 + hour * H, value=(1000 + 2000 * hour) / 1000, unit="kWh")],
                )
            ]
        )
    return transaction_id


def test_a_running_session_has_its_cost_and_solar_share_so_far(charger):
    transaction_id = start_and_sample(charger, hours=2)  # 15:00-17:00: 2 kWh standard, 2 kWh peak

    figures = session_figures_live(session=ChargingSession.objects.get(pk=transaction_id))

    assert figures.energy_wh == 4000
    assert figures.cost == Decimal("1.10")  # 2 x 0.20 + 2 x 0.35
    assert figures.currency == "GBP"
    assert figures.solar_percent == 50.0


def test_stopping_a_session_stores_its_final_cost_and_solar_share(charger):
    transaction_id = start_and_sample(charger, hours=5)

    session_stop(charger_pk=charger.pk, transaction_id=transaction_id, meter_stop_wh=13000, stopped_at=T0 + 6 * H)

    session = ChargingSession.objects.get(pk=transaction_id)
    # 15-16 standard 2 kWh, 16-20 peak 8 kWh, 20-21 standard 2 kWh.
    assert (session.energy_wh, session.cost, session.cost_currency) == (12000, Decimal("3.60"), "GBP")
    assert session.solar_percent == 16.7  # 2 of 12 kWh
    assert session_figures_live(session=session).cost == Decimal("3.60")


def test_a_replayed_stop_changes_nothing(charger):
    transaction_id = start_and_sample(charger, hours=0)
    session_stop(charger_pk=charger.pk, transaction_id=transaction_id, meter_stop_wh=13000, stopped_at=T0 + 6 * H)
    ChargingSession.objects.filter(pk=transaction_id).update(cost=Decimal("9.99"))

    session_stop(charger_pk=charger.pk, transaction_id=transaction_id, meter_stop_wh=13000, stopped_at=T0 + 6 * H)

    assert ChargingSession.objects.get(pk=transaction_id).cost == Decimal("9.99")


def test_a_session_without_samples_spreads_its_energy_over_its_time(charger):
    transaction_id = start_and_sample(charger, hours=0)

    session_stop(charger_pk=charger.pk, transaction_id=transaction_id, meter_stop_wh=13000, stopped_at=T0 + 6 * H)

    assert ChargingSession.objects.get(pk=transaction_id).cost == Decimal("3.60")


def test_a_site_without_tariff_or_readings_gets_no_cost_and_no_solar_share():
    charger = make_charger(site=make_site())
    session = make_session(charger=charger, started_at=T0)

    figures = session_account(transaction_id=session.pk)

    session.refresh_from_db()
    assert (figures.cost, session.cost, session.cost_currency, session.solar_percent) == (None, None, "", None)


def test_a_failure_in_the_accounting_never_loses_the_stop(charger, monkeypatch, caplog):
    transaction_id = start_and_sample(charger, hours=1)

    def broken(**kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(billing, "session_figures_compute", broken)
    session_stop(charger_pk=charger.pk, transaction_id=transaction_id, meter_stop_wh=13000, stopped_at=T0 + 6 * H)

    session = ChargingSession.objects.get(pk=transaction_id)
    assert (session.stopped_at, session.energy_wh, session.cost) == (T0 + 6 * H, 12000, None)
    assert "could not compute the cost" in caplog.text


def test_the_tariff_in_the_sites_zone_prices_a_session_across_the_spring_dst_change():
    site = make_site(time_zone="Europe/London")
    make_tariff(site=site)
    charger = make_charger(site=site)
    # 23:00 GMT on 28 March to 09:00 BST on 29 March: 9 real hours, of which 6 are off-peak.
    session = make_session(
        charger=charger, started_at=dt.datetime(2026, 3, 28, 23, tzinfo=dt.UTC), hours=9, energy_wh=9000
    )

    session_account(transaction_id=session.pk)

    session.refresh_from_db()
    assert session.cost == Decimal("1.20")  # 3 kWh standard, 6 kWh off-peak


def test_a_cost_too_large_for_its_column_is_stored_as_unknown_on_every_database():
    """numeric(10,2): PostgreSQL refuses 1e11, SQLite would store it. Neither is asked to."""
    site = make_site(time_zone="Europe/London")
    make_tariff(site=site, periods=[("dear", None, None, "9999.9999", 2)])
    session = ChargingSession.objects.create(
        charger=make_charger(site=site),
        connector_id=1,
        started_at=T0,
        meter_start_wh=0,
        stopped_at=T0 + H,
        meter_stop_wh=10_000_000_000,  # 10 GWh at 9,999.9999 a kWh: about 1e11
        energy_wh=10_000_000_000,
    )

    figures = session_account(transaction_id=session.transaction_id)

    session.refresh_from_db()
    assert figures is not None and figures.cost is None
    assert (session.cost, session.cost_currency) == (None, "")
    assert session_figures_live(session=session).cost is None


def test_the_stored_cost_uses_the_sites_posted_prices_where_they_cover_the_session(charger, django_assert_num_queries):
    """15:00-21:00 under the tariff would be 3.60; 16:00-18:00 posted at 0.05 (this site only)."""
    for site, price in ((charger.site, "0.05"), (make_site(name="Elsewhere"), "9.00")):
        for hour in (16, 17):
            start = T0.replace(hour=hour)
            PriceSlot.objects.create(site=site, start=start, end=start + H, price_per_kwh=price)
    transaction_id = start_and_sample(charger, hours=5)

    with django_assert_num_queries(1):
        prices = billing.site_prices_between(site=charger.site, start=T0, end=T0 + 6 * H)
    session_stop(charger_pk=charger.pk, transaction_id=transaction_id, meter_stop_wh=13000, stopped_at=T0 + 6 * H)

    assert [(p.start.hour, p.price_per_kwh) for p in prices] == [(16, Decimal("0.05")), (17, Decimal("0.05"))]
    # 15-16 standard 2 kWh 0.40, 16-18 posted 4 kWh 0.20, 18-20 peak 4 kWh 1.40, 20-21 standard 2 kWh 0.40.
    assert ChargingSession.objects.get(pk=transaction_id).cost == Decimal("2.40")
