"""What both runtimes do with a site's control run: how long it must still wait, and a run
of its own, now."""

import logging
from collections.abc import Awaitable

from asgiref.sync import sync_to_async
from django.utils import timezone

from energy import services
from energy.models import Site
from energy.scheduling import seconds_until_run_allowed
from graylogic.outages import DATABASE_ERRORS, database_outage

logger = logging.getLogger(__name__)


def seconds_to_wait(site_pk: int) -> float | None:
    """Until the site's min_interval_s has passed since its last run; None for a site that no
    longer exists."""
    site = Site.objects.filter(pk=site_pk).only("min_interval_s", "last_rebalanced_at").first()
    if site is None:
        return None
    return seconds_until_run_allowed(
        min_interval_s=site.min_interval_s, last_run_at=site.last_rebalanced_at, now=timezone.now()
    )


async def run_alone_async(site_pk: int, trigger: str, *, protection_only: bool) -> None:
    """Raises what the site's run raised."""
    outcomes = await sync_to_async(services.sites_control_run, thread_sensitive=False)(
        site_pks=[site_pk], trigger=trigger, protection_only=protection_only
    )
    if isinstance(outcome := outcomes.get(site_pk), Exception):
        raise outcome


async def run_now_reporting_failures(site_pk: int, run: Awaitable[None]) -> None:
    """A run the caller waits for (a boot, a car starting): its failure is logged, not raised
    into the charger's handler."""
    try:
        await run
    except DATABASE_ERRORS as error:
        database_outage.failed(error)
    except Exception:
        logger.exception("immediate rebalance of site %s failed", site_pk)
