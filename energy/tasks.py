"""Celery entry points of energy control; each calls one service."""

import logging

from celery import shared_task
from django.utils import timezone

from energy.models import Site
from energy.services import site_control_run

logger = logging.getLogger(__name__)

# Every site is re-decided at least this often: manual limits lapse, tariff periods change.
MAX_SITE_INTERVAL_S = 60


@shared_task
def rebalance_site(site_id: int, trigger: str = "event") -> None:
    site = Site.objects.filter(pk=site_id).first()
    if site is not None:
        site_control_run(site=site, trigger=trigger)


@shared_task
def control_tick() -> int:
    """Run every site that is due: solar sites every update_interval_s, others every minute."""
    now = timezone.now()
    ran = 0
    for site in Site.objects.select_related("solar_charging"):
        solar = getattr(site, "solar_charging", None)
        interval = solar.update_interval_s if solar is not None and solar.enabled else MAX_SITE_INTERVAL_S
        if site.last_rebalanced_at is None or (now - site.last_rebalanced_at).total_seconds() >= interval:
            try:
                site_control_run(site=site, trigger="schedule")
                ran += 1
            except Exception:  # one broken site must not stop the others
                logger.exception("control run of site %s failed", site.pk)
    return ran
