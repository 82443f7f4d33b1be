"""The scheduled control runs sites in batches that share their reads: each site must still be
decided from its own readings, draws and settings, exactly as a run of that site alone. Events
(a boot, a change in a car's draw) are batched too when many sites ask at once."""

import asyncio
import datetime as dt
import threading
import time
from types import SimpleNamespace

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from energy import services, tasks
from energy.models import EnergyReading, LimitDecision, Site
from energy.rebalance.choice import runtime_from_settings
from energy.rebalance.in_process import EVENT_RUNNERS
from energy.scheduling import site_run_due
from energy.services import site_control_run, sites_control_run
from energy.tasks import MAX_SITE_INTERVAL_S, control_tick
from sessions.models import MeterSample
from tests.factories import make_charger, make_session, make_site
from tests.ocpp_client import eventually

pytestmark = pytest.mark.django_db(transaction=True)


def _connected_charger(site: Site):
    # Reports no SmartCharging: the profiles are refused at once instead of waiting on a socket.
    return make_charger(site=site, is_connected=True, supported_feature_profiles="Core")


def _sites() -> list[Site]:
    """Three sites whose chargers get three different limits, for three different reasons."""
    now = timezone.now()
    loaded = make_site(circuit_limit_a=20)  # the house draws 12 A of its 20 A main fuse
    EnergyReading.objects.create(site=loaded, measured_at=now - dt.timedelta(seconds=5), grid_l1_a=12)
    EnergyReading.objects.create(site=loaded, measured_at=now - dt.timedelta(seconds=50), grid_l1_a=1)
    silent = make_site(circuit_limit_a=63, failsafe_current_a=10, meter_timeout_s=60)
    EnergyReading.objects.create(site=silent, measured_at=now - dt.timedelta(minutes=10), grid_l1_a=1)
    charging = make_site(circuit_limit_a=32)  # one car already draws 16 A, the other shares what is left
    for site in (loaded, silent, charging):
        _connected_charger(site)
    busy = _connected_charger(charging)
    session = make_session(charger=busy, started_at=now - dt.timedelta(minutes=30), hours=None)
    MeterSample.objects.create(
        charger=busy,
        connector_id=1,
        session=session,
        timestamp=now - dt.timedelta(seconds=10),
        measurand="Current.Import",
        value=16,
        unit="A",
    )
    return [loaded, silent, charging]


def _decided(run) -> dict[str, tuple[int, str]]:
    return {cid: (d.limit_w, d.reason) for cid, d in run.decisions.items()}


def test_a_batch_decides_each_site_as_a_run_of_it_alone():
    sites = _sites()
    together = sites_control_run(site_pks=[s.pk for s in sites], trigger="test")
    LimitDecision.objects.all().delete()
    alone = {site.pk: site_control_run(site=site, trigger="test") for site in sites}

    assert {pk: _decided(run) for pk, run in together.items()} == {pk: _decided(run) for pk, run in alone.items()}
    limits = [sorted(limit for limit, _ in _decided(alone[s.pk]).values()) for s in sites]
    assert len({tuple(limit) for limit in limits}) == 3, limits  # the sites really differ
    assert "main meter silent since" in next(iter(_decided(alone[sites[1].pk]).values()))[1]


def _control_reads(site_pks: list[int]) -> int:
    with CaptureQueriesContext(connection) as queries:
        sites_control_run(site_pks=site_pks, trigger="test")
    # Each refused profile still looks its charger up: that is the sending, not the reading.
    sending = '"chargers_charger"."supported_feature_profiles" FROM'
    return len([q for q in queries if q["sql"].startswith("SELECT") and sending not in q["sql"]])


def test_a_batch_reads_in_the_same_number_of_queries_for_any_number_of_sites():
    few = [s.pk for s in _sites()]
    many = few + [s.pk for s in _sites() + _sites() + _sites()]
    sites_control_run(site_pks=many, trigger="test")  # first use makes each site's settings blocks

    assert _control_reads(many) == _control_reads(few) <= 8


def _slot_within(site_pk: int, *, seconds: float) -> bool:
    now = timezone.now()
    later = now + dt.timedelta(seconds=seconds)
    return site_run_due(site_pk=site_pk, interval_s=MAX_SITE_INTERVAL_S, last_run_at=now, now=later)


def test_the_tick_runs_every_due_site_and_marks_it_rebalanced():
    sites = _sites()
    # Site 0 runs now; its next slot (energy/scheduling.py) must not fall before the tick.
    assert eventually(lambda: not _slot_within(sites[0].pk, seconds=2))
    Site.objects.filter(pk=sites[0].pk).update(last_rebalanced_at=timezone.now())  # not due yet

    assert control_tick() == 2
    rebalanced = dict(Site.objects.values_list("pk", "last_rebalanced_at"))
    assert all(rebalanced[s.pk] is not None for s in sites)
    assert not LimitDecision.objects.filter(charger__site=sites[0]).exists()
    assert LimitDecision.objects.filter(charger__site=sites[2]).count() == 2


def test_events_from_many_sites_at_once_run_in_few_batches_and_none_is_lost(settings, monkeypatch, use_rebalancer):
    settings.EMBEDDED_JOBS = True
    runtime = use_rebalancer(runtime_from_settings().rebalancer)
    sites = [make_site() for _ in range(25)]
    chargers = [_connected_charger(site) for site in sites]
    batches: list[dict[int, str]] = []
    in_flight, most_in_flight, counting = 0, 0, threading.Lock()
    real_run = services.sites_control_run

    def counted_run(**kwargs):
        nonlocal in_flight, most_in_flight
        with counting:
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
            batches.append(kwargs["site_triggers"])
        try:
            return real_run(**kwargs)
        finally:
            with counting:
                in_flight -= 1
            connections.close_all()  # the runner's thread ends with the test, its connection would not

    monkeypatch.setattr(services, "sites_control_run", counted_run)

    async def scenario():
        for site in sites:
            await runtime.request_async(site.pk, f"site {site.pk}: booted")
        await asyncio.gather(*(asyncio.all_tasks() - {asyncio.current_task()}))  # the sites' runs

    asyncio.run(scenario())
    asked = {pk: trigger for batch in batches for pk, trigger in batch.items()}
    assert asked == {site.pk: f"site {site.pk}: booted" for site in sites}
    assert sum(len(batch) for batch in batches) == len(sites)  # each site once
    assert len(batches) < len(sites) / 2
    assert most_in_flight <= EVENT_RUNNERS
    assert not Site.objects.filter(pk__in=[s.pk for s in sites], last_rebalanced_at=None).exists()
    assert set(LimitDecision.objects.values_list("charger_id", flat=True)) == {c.pk for c in chargers}


@pytest.mark.parametrize("embedded", [True, False], ids=["in the server", "in a Celery worker"])
def test_the_tick_pauses_after_each_batch_only_in_the_server(settings, monkeypatch, use_rebalancer, embedded):
    """In the server the tick's thread shares the GIL with the loop that answers chargers: after
    each batch it waits as long as the batch took (bench/README.md, P2)."""
    settings.EMBEDDED_JOBS = embedded
    use_rebalancer(runtime_from_settings().rebalancer)
    for _ in range(2 * tasks.SITES_PER_RUN + 5):
        make_site()
    batch_s, pauses_s = [], []

    def timed_run(**kwargs):
        started = time.monotonic()
        outcomes = sites_control_run(**kwargs)
        batch_s.append(time.monotonic() - started)
        return outcomes

    monkeypatch.setattr(tasks, "sites_control_run", timed_run)
    # Only the tick's own clock: patching time.sleep itself would also catch other threads' sleeps.
    monkeypatch.setattr(tasks, "time", SimpleNamespace(monotonic=time.monotonic, sleep=pauses_s.append))

    assert control_tick() == 2 * tasks.SITES_PER_RUN + 5
    assert len(batch_s) == 3
    if embedded:
        assert len(pauses_s) == 3
        assert all(pause >= batch for pause, batch in zip(pauses_s, batch_s, strict=True))
    else:
        assert pauses_s == []
