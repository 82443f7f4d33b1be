"""Celery entry points of energy control; each calls one service."""

import logging
import time

from celery import shared_task
from django.utils import timezone

from energy.checklist import CommissioningTest
from energy.commissioning import TEST_TASK, run_test
from energy.diagnosis import chargers_limit_ignored_step
from energy.models import Site
from energy.rebalance import SITES_PER_RUN, rebalancer
from energy.rebalance.scaled import SITE_RUN_TASK
from energy.scheduling import site_run_due
from energy.services import site_control_run, sites_control_run
from graylogic.outages import DATABASE_ERRORS, database_outage, quiet_while_database_down

logger = logging.getLogger(__name__)

# Every site is re-decided at least this often: manual limits lapse, tariff periods change.
MAX_SITE_INTERVAL_S = 60


@shared_task(name=SITE_RUN_TASK)
@quiet_while_database_down
def rebalance_site(site_id: int, trigger: str = "event") -> None:
    """A site's event run, queued by the scaled runtime (energy/rebalance/scaled.py)."""
    runtime = rebalancer()
    runtime.run_starting(site_id)
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        return
    try:
        site_control_run(site=site, trigger=trigger)
    finally:
        runtime.run_finished(site_id, min_interval_s=site.min_interval_s)


@shared_task
@quiet_while_database_down
def control_tick() -> int | None:
    """Run every site that is due: solar sites every update_interval_s, others every minute,
    each at its own slot in that interval (energy/scheduling.py)."""
    now = timezone.now()
    due = []
    sites = Site.objects.values_list(
        "pk", "last_rebalanced_at", "solar_charging__enabled", "solar_charging__update_interval_s"
    ).order_by("pk")
    for pk, last_rebalanced_at, solar_enabled, solar_interval_s in sites:
        interval = solar_interval_s if solar_enabled else MAX_SITE_INTERVAL_S
        if site_run_due(site_pk=pk, interval_s=interval, last_run_at=last_rebalanced_at, now=now):
            due.append(pk)
    ran = 0
    for start in range(0, len(due), SITES_PER_RUN):
        started = time.monotonic()
        outcomes = sites_control_run(site_pks=due[start : start + SITES_PER_RUN], trigger="schedule")
        for pk, outcome in outcomes.items():
            if isinstance(outcome, DATABASE_ERRORS):
                database_outage.failed(outcome)
            elif isinstance(outcome, Exception):
                logger.error("control run of site %s failed", pk, exc_info=outcome)
            else:
                ran += 1
        if rebalancer().runs_in_server:
            # This thread shares the GIL with the server's event loop: a pause as long as the
            # batch leaves the loop at least half of it, so chargers' messages are not held up
            # behind a whole tick of control runs (bench/README.md, P2). A Celery worker has
            # no loop to share with, and a paused tick would only make the next ones queue.
            time.sleep(time.monotonic() - started)
    return ran


@shared_task
@quiet_while_database_down
def limits_ignored_check() -> int:
    """Chargers that accept a limit but let the car draw above it try their next profile
    fallback (energy/diagnosis.py)."""
    return len(chargers_limit_ignored_step())


@shared_task(name=TEST_TASK)
def commissioning_test(*, test: str, site_pk: int, charger_pk: int | None, requested_by: str) -> None:
    """A commissioning page's test button, run as a job (energy/jobs.py): a Celery worker's in
    the scaled deployment, the server's in the embedded one."""
    run_test(test=CommissioningTest(test), site_pk=site_pk, charger_pk=charger_pk, requested_by=requested_by)
