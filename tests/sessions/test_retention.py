"""The pruning job on a database holding a year of one charger's data: through the Celery task,
the embedded runtime's job runner, the homeowner pages and the admin."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, connection, connections, transaction
from django.test import Client

from chargers.models import ChargerCommand, ChargerEvent
from energy.models import EnergyReading, LimitDecision
from graylogic import embedded_jobs
from sessions.models import ChargingSession, MeterSample, MeterSampleAggregate, RejectedSample, Retention
from sessions.pruning import aggregates_between, retention_prune, samples_due
from sessions.retention import Batching, bucket_start
from sessions.tasks import prune_old_data
from tests.api.helpers import make_user
from tests.factories import make_charger, make_site, make_tariff

UTC = dt.UTC
# Mid-bucket, the clock held there: the cutoff is on a 15-minute boundary and must not move
# while a test runs.
NOW = bucket_start(dt.datetime.now(UTC)) - dt.timedelta(minutes=7, seconds=30)
DAY = dt.timedelta(days=1)
RAW_DAYS = 90  # the defaults
LOG_DAYS = 180
SAMPLE_EVERY = dt.timedelta(minutes=5)
SAMPLES_PER_SESSION = 24  # two hours
REGISTER, POWER, CURRENT = "Energy.Active.Import.Register", "Power.Active.Import", "Current.Import"


@pytest.fixture(autouse=True)
def _clock_at_now():
    with time_machine.travel(NOW, tick=True):
        yield


def session_samples(session: ChargingSession) -> list[MeterSample]:
    """A two-hour charge sampled every 5 minutes: energy register, power, current."""
    samples = []
    for k in range(SAMPLES_PER_SESSION):
        at = session.started_at + dt.timedelta(minutes=1) + k * SAMPLE_EVERY
        common = {"charger_id": session.charger_id, "connector_id": session.connector_id, "session": session}
        samples += [
            MeterSample(**common, timestamp=at, measurand=REGISTER, unit="Wh", location="Outlet", value=1000 + 300 * k),
            MeterSample(
                **common, timestamp=at, measurand=POWER, unit="W", location="Outlet", value=3500 + 100 * (k % 3)
            ),
            MeterSample(**common, timestamp=at, measurand=CURRENT, unit="A", phase="L1", location="Outlet", value=15.5),
        ]
    return samples


def backdate(model, field: str, rows, when: dt.datetime) -> None:
    """auto_now_add fields are set on creation: move them to the moment of the story."""
    model.objects.filter(pk__in=[r.pk for r in rows]).update(**{field: when})


def seed_year(*, days: int = 365):
    """One charger's year: a two-hour session a day, hourly site readings, decisions, logs; one
    session still open since long ago and a few samples no session claimed."""
    site = make_site(name="Home", time_zone="Europe/London")
    make_tariff(site=site)
    charger = make_charger(site=site, charge_point_id="garage", name="Garage")
    quiet = make_charger(site=site, charge_point_id="quiet", name="Quiet")  # its one decision is old
    sessions = ChargingSession.objects.bulk_create(
        ChargingSession(
            charger=charger,
            connector_id=1,
            started_at=bucket_start(NOW - d * DAY),
            stopped_at=bucket_start(NOW - d * DAY) + dt.timedelta(hours=2),
            meter_start_wh=1000,
            meter_stop_wh=1000 + 300 * SAMPLES_PER_SESSION,
            energy_wh=300 * SAMPLES_PER_SESSION,
            cost=Decimal("1.44"),
            cost_currency="GBP",
            solar_percent=25.0,
            id_tag="RFID123",
            stop_reason="EVDisconnected",
        )
        for d in range(1, days + 1)
    )
    running = ChargingSession.objects.create(
        charger=charger, connector_id=2, started_at=NOW - 120 * DAY, meter_start_wh=0, id_tag="RFID123"
    )
    samples = [s for session in sessions for s in session_samples(session)]
    samples += [
        MeterSample(
            charger=charger, connector_id=2, session=running, timestamp=when, measurand=POWER, unit="W", value=2000
        )
        for when in [NOW - 119 * DAY + k * SAMPLE_EVERY for k in range(10)]
        + [NOW - k * SAMPLE_EVERY for k in range(10)]
    ]
    orphans = [
        MeterSample(
            charger=charger,
            connector_id=1,
            reported_transaction_id=999,
            timestamp=bucket_start(NOW - 200 * DAY) + k * dt.timedelta(minutes=2),
            measurand="Voltage",
            unit="V",
            value=230 + k,
        )
        for k in range(5)
    ]
    MeterSample.objects.bulk_create(samples + orphans, batch_size=2000)
    EnergyReading.objects.bulk_create(
        (EnergyReading(site=site, measured_at=NOW - h * dt.timedelta(hours=1), grid_w=500) for h in range(days * 24)),
        batch_size=2000,
    )
    decisions = {}
    for name, who, age in [("300", charger, 300), ("250", charger, 250), ("200", charger, 200), ("10", charger, 10)]:
        decisions[name] = LimitDecision.objects.create(
            charger=who, limit_w=7400, current_a=32, phases=1, source="fuse", reason=f"{name} days ago"
        )
        backdate(LimitDecision, "decided_at", [decisions[name]], NOW - age * DAY)
    decisions["quiet"] = LimitDecision.objects.create(
        charger=quiet, limit_w=3600, current_a=16, phases=1, source="fuse", reason="never changed since"
    )
    backdate(LimitDecision, "decided_at", [decisions["quiet"]], NOW - 300 * DAY)
    for age in (200, 10):
        event = ChargerEvent.objects.create(charger=charger, charge_point_id="garage", kind="boot", message=f"{age}")
        backdate(ChargerEvent, "created_at", [event], NOW - age * DAY)
        command = ChargerCommand.objects.create(
            charger=charger, action="Reset", requested_by=f"{age}", outcome="answered"
        )
        backdate(ChargerCommand, "created_at", [command], NOW - age * DAY)
        rejected = RejectedSample.objects.create(
            charger=charger,
            connector_id=1,
            timestamp=NOW - age * DAY,
            measurand=POWER,
            value_text="1e15",
            reason=RejectedSample.Reason.OUT_OF_RANGE,
        )
        backdate(RejectedSample, "received_at", [rejected], NOW - age * DAY)
    owner = make_user(sites=(site,), password="a-long-homeowner-password")
    return {"site": site, "charger": charger, "sessions": sessions, "running": running, "owner": owner, **decisions}


def raw_cutoff() -> dt.datetime:
    return bucket_start(NOW - RAW_DAYS * DAY)


@pytest.mark.django_db
def test_a_year_of_samples_keeps_90_days_raw_and_15_minute_aggregates_for_the_rest():
    year = seed_year()
    cutoff = raw_cutoff()
    recent_before = MeterSample.objects.filter(timestamp__gte=cutoff).count()
    running_before = sorted(year["running"].samples.values_list("pk", "value"))
    old_session = year["sessions"][199]  # 200 days ago
    old_raw_power = list(old_session.samples.filter(measurand=POWER).values_list("value", flat=True))

    pruned = prune_old_data()

    old_raw = MeterSample.objects.filter(timestamp__lt=cutoff)
    assert not old_raw.exclude(session=year["running"]).exists()
    assert pruned["meter samples"] > 270 * 3 * SAMPLES_PER_SESSION
    assert MeterSample.objects.filter(timestamp__gte=cutoff).count() == recent_before
    # A running session loses nothing, however old its samples.
    assert sorted(year["running"].samples.values_list("pk", "value")) == running_before
    assert old_raw.filter(session=year["running"]).count() == 10
    # The old session: three measurands over the 15-minute buckets of its two hours.
    aggregates = MeterSampleAggregate.objects.filter(session=old_session)
    assert {a.measurand for a in aggregates} == {REGISTER, POWER, CURRENT}
    power = aggregates.filter(measurand=POWER).order_by("bucket_start")
    assert sum(a.sample_count for a in power) == len(old_raw_power) == SAMPLES_PER_SESSION
    assert sum(a.value_mean * a.sample_count for a in power) == pytest.approx(sum(old_raw_power))
    assert min(a.value_min for a in power) == 3500 and max(a.value_max for a in power) == 3700
    register = aggregates.filter(measurand=REGISTER).order_by("bucket_start")
    assert register.first().first_value == 1000 and register.last().last_value == 1000 + 300 * 23
    # Samples no session claimed are aggregated too.
    orphan = MeterSampleAggregate.objects.get(session=None, measurand="Voltage")
    assert (orphan.sample_count, orphan.value_min, orphan.value_max) == (5, 230, 234)
    # Site readings: 90 days, plus the newest older one (the meter-silent fail-safe reads it).
    # The running session keeps those from its start (less the 15 minutes its solar share reads).
    readings = EnergyReading.objects.filter(site=year["site"])
    kept_from = year["running"].started_at - dt.timedelta(minutes=15)
    assert readings.filter(measured_at__lt=kept_from).count() == 1
    assert readings.filter(measured_at__gte=kept_from).count() == 120 * 24 + 1  # hourly, both ends
    # Decisions: 180 days, plus each charger's one in force at the cutoff.
    assert set(LimitDecision.objects.values_list("reason", flat=True)) == {
        "200 days ago",
        "10 days ago",
        "never changed since",
    }
    for log in (
        ChargerEvent.objects.values_list("message", flat=True),
        ChargerCommand.objects.values_list("requested_by", flat=True),
    ):
        assert list(log) == ["10"]
    assert RejectedSample.objects.count() == 1
    retention = Retention.current()
    assert retention.last_run_at is not None and "meter samples" in retention.last_run_summary


@pytest.mark.django_db
def test_running_the_job_again_creates_no_duplicate_and_a_late_sample_merges_into_its_bucket():
    year = seed_year(days=120)
    prune_old_data()
    aggregates_before = MeterSampleAggregate.objects.count()

    again = prune_old_data()

    assert set(again.values()) == {0}
    assert MeterSampleAggregate.objects.count() == aggregates_before
    assert Retention.current().last_run_summary == "nothing due"
    # A charger back from months offline replays a sample into a bucket already aggregated.
    old_session = year["sessions"][109]
    bucket = MeterSampleAggregate.objects.filter(session=old_session, measurand=POWER).order_by("bucket_start").first()
    MeterSample.objects.create(
        charger=year["charger"],
        connector_id=1,
        session=old_session,
        timestamp=bucket.first_at - dt.timedelta(seconds=30),
        measurand=POWER,
        unit="W",
        location="Outlet",
        value=9000,
    )

    prune_old_data()

    merged = MeterSampleAggregate.objects.get(pk=bucket.pk)
    assert MeterSampleAggregate.objects.count() == aggregates_before
    assert merged.sample_count == bucket.sample_count + 1
    assert merged.value_max == 9000 and merged.first_value == 9000


@pytest.mark.django_db
def test_a_backlog_is_worked_off_in_bounded_batches_over_several_runs():
    year = seed_year(days=100)
    due = MeterSample.objects.filter(timestamp__lt=raw_cutoff()).exclude(session=year["running"])
    due_count = due.count()
    batching = Batching(size=100, batches=3)

    first = retention_prune(batching=batching)

    assert first["meter samples"] == 300
    runs = 1
    while retention_prune(batching=batching)["meter samples"]:
        runs += 1
        assert runs < 20
    assert runs == -(-due_count // 300)
    assert not due.exists()
    # Every pruned sample is counted once, whatever the batch it fell in.
    assert sum(MeterSampleAggregate.objects.values_list("sample_count", flat=True)) == due_count


@pytest.mark.django_db
def test_chargers_and_sites_with_nothing_due_use_none_of_a_runs_batches():
    """Many chargers with nothing old come first in the table: the one with a backlog after
    them is still pruned."""
    for _ in range(5):
        make_charger(site=make_site())
    year = seed_year(days=100)
    ChargingSession.objects.filter(pk=year["running"].pk).update(stopped_at=NOW)  # its readings are due too
    readings_due = EnergyReading.objects.filter(measured_at__lt=raw_cutoff()).count() - 1
    assert readings_due > 200

    pruned = retention_prune(batching=Batching(size=100, batches=3))

    assert pruned["meter samples"] == 300
    assert pruned["energy readings"] == min(300, readings_due)
    assert pruned["limit decisions"] == 2


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_count_every_sample_once():
    """Two runtimes (or a slow run and the next) pruning together: a batch the other run took
    first is rolled back, never aggregated twice."""
    year = seed_year(days=100)
    due = MeterSample.objects.filter(timestamp__lt=raw_cutoff()).exclude(session=year["running"])
    due_count = due.count()
    start_together = threading.Barrier(2)
    failures = []

    def run() -> None:
        try:
            start_together.wait(timeout=30)
            retention_prune(batching=Batching(size=50, batches=100))
        except Exception as error:
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    retention_prune()  # what a rolled-back batch left is due at the next run

    assert failures == []
    assert not due.exists()
    assert sum(MeterSampleAggregate.objects.values_list("sample_count", flat=True)) == due_count


@pytest.mark.django_db
def test_an_old_session_page_still_draws_its_power_from_the_aggregates():
    year = seed_year(days=120)
    old_session = year["sessions"][109]
    prune_old_data()
    assert not old_session.samples.exists()
    client = Client()
    client.force_login(year["owner"])

    response = client.get(f"/sessions/{old_session.pk}/")

    assert response.status_code == 200
    body = response.content.decode()
    assert '<polyline class="power"' in body
    detail = response.context["detail"]
    assert not detail.power_from_energy
    assert len(detail.power) == 8  # the 15-minute buckets of two hours
    assert all(3500 <= watts <= 3700 for _, watts in detail.power)
    assert all(old_session.started_at <= at <= old_session.stopped_at for at, _ in detail.power)
    assert "£1.44" in body and "25 %" in body  # the figures stored at stop
    for path in ("/sessions/", "/sessions.csv", f"/sessions/{year['running'].pk}/", "/"):
        assert client.get(path).status_code == 200, path


@pytest.mark.django_db(transaction=True)
def test_the_embedded_runtime_runs_the_job_from_its_schedule():
    seed_year(days=100)
    embedded_jobs.schedule_install()
    entries = {name: (task, seconds) for name, task, seconds in embedded_jobs.schedule_entries()}
    assert entries["prune-old-data"] == ("sessions.tasks.prune_old_data", 3600)

    embedded_jobs._run_task(entries["prune-old-data"][0])

    assert not MeterSample.objects.filter(timestamp__lt=raw_cutoff(), session__stopped_at__isnull=False).exists()
    assert MeterSampleAggregate.objects.exists()


@pytest.mark.django_db
def test_a_table_kept_for_ever_is_never_pruned():
    seed_year(days=200)
    Retention.objects.update_or_create(pk=1, defaults={"meter_samples_days": None, "charger_events_days": None})
    samples = MeterSample.objects.count()

    pruned = prune_old_data()

    assert pruned["meter samples"] == 0 and MeterSample.objects.count() == samples
    assert ChargerEvent.objects.count() == 2
    assert pruned["commands"] == 1


@pytest.mark.django_db
def test_the_admin_edits_the_retention_on_one_page(admin_client):
    response = admin_client.get("/admin/charging_sessions/retention/")
    assert response.status_code == 302
    page = response["Location"]
    assert page == "/admin/charging_sessions/retention/1/change/"
    assert "Raw meter samples (days)" in admin_client.get(page).content.decode()
    form = {
        "meter_samples_days": "30",
        "energy_readings_days": "90",
        "limit_decisions_days": "180",
        "charger_events_days": "",
        "charger_commands_days": "365",
        "rejected_samples_days": "180",
        "_save": "Save",
    }

    assert admin_client.post(page, form).status_code == 302

    retention = Retention.current()
    assert (retention.meter_samples_days, retention.charger_events_days, retention.charger_commands_days) == (
        30,
        None,
        365,
    )
    refused = admin_client.post(page, {**form, "meter_samples_days": "0"})
    assert refused.status_code == 200
    assert "greater than or equal to 1" in refused.content.decode()
    assert Retention.current().meter_samples_days == 30
    assert admin_client.get("/admin/charging_sessions/retention/add/").status_code == 403
    assert admin_client.post("/admin/charging_sessions/retention/1/delete/", {"post": "yes"}).status_code == 403


@pytest.mark.django_db
def test_the_database_refuses_a_retention_of_zero_days_and_a_second_row():
    Retention.current()
    with pytest.raises(IntegrityError), transaction.atomic():
        Retention.objects.filter(pk=1).update(meter_samples_days=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        Retention.objects.create(pk=2)


@pytest.mark.django_db
def query_plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # an empty table would be scanned
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return " ".join(str(row) for row in cursor.fetchall())


@pytest.mark.django_db
def test_the_job_reads_due_samples_on_the_samples_own_index_without_sorting():
    """No index was added to the samples for pruning (each costs every insert): the unique one serves it."""
    charger = make_charger()
    ChargingSession.objects.create(charger=charger, connector_id=1, started_at=NOW, meter_start_wh=0)

    plan = query_plan(samples_due(charger_id=charger.pk, connector_id=1, before=NOW).values_list("pk")[:5000])

    # SQLite names the unique constraint's index sqlite_autoindex_...: its search says which columns.
    assert "meter_sample_unique" in plan or "(charger_id=? AND connector_id=? AND timestamp<?)" in plan, plan
    assert "SCAN" not in plan and "TEMP B-TREE" not in plan and "Sort" not in plan, plan


@pytest.mark.django_db
def test_the_job_finds_the_buckets_it_merges_into_on_an_index():
    """The aggregates table only grows: a scan of it per batch would slow every run."""
    charger = make_charger()

    plan = query_plan(aggregates_between(charger_id=charger.pk, connector_id=1, first=NOW - DAY, last=NOW))

    assert "aggregate_by_connector_time" in plan, plan
    assert "SCAN" not in plan and "Seq Scan" not in plan, plan
