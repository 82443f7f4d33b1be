"""Event-driven rebalancing (spec: rebalance on_charger_change / on_power_change), never more
often than the site's min_interval_s. Embedded: an asyncio task per site in the server, whose
runs go in batches. Scaled: a Celery task, throttled through Redis."""

import asyncio
import contextlib
import contextvars
import functools
import logging
import threading
from collections import defaultdict

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from energy.models import Site

logger = logging.getLogger(__name__)

# The embedded server's loop, set when its jobs start (graylogic/embedded_jobs.py).
server_loop: asyncio.AbstractEventLoop | None = None
_pending: dict[int, asyncio.Task] = {}
# Sites asked for again while a run was already under way: run once more afterwards.
_dirty: set[int] = set()
# Sites whose interval has passed, in the order they became due: (trigger, its run's future).
_ready: dict[int, tuple[str, asyncio.Future]] = {}
_runners: set[asyncio.Task] = set()
# Event runs go in batches, like the scheduled ones: a site run alone costs 3.6 times what it
# costs in a batch of ten (bench/control_bench.py), and a thousand sites ask at once after a
# restart. Two runners, so that one charger slow to answer holds up only half of them; more
# would take the GIL from the server's loop (bench/README.md, P2).
EVENT_RUNNERS = 2
_local_locks: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)


@functools.cache
def _redis(url: str):
    """One client (and connection pool) per process: a batch of control runs takes a lock per site."""
    import redis

    return redis.Redis.from_url(url)


@contextlib.contextmanager
def site_lock(site_id: int, timeout_s: int = 60):
    """One control run per site at a time, across threads (embedded) or workers (Redis)."""
    if settings.REDIS_URL:
        lock = _redis(settings.REDIS_URL).lock(f"graylogic:control:{site_id}", timeout=timeout_s)
        with lock:
            yield
    else:
        with _local_locks[site_id]:
            yield


async def _seconds_to_wait(site_id: int) -> float:
    site = await Site.objects.filter(pk=site_id).only("min_interval_s", "last_rebalanced_at").afirst()
    if site is None or site.last_rebalanced_at is None:
        return 0.0
    return max(0.0, site.min_interval_s - (timezone.now() - site.last_rebalanced_at).total_seconds())


async def _rebalance_when_allowed(site_id: int, trigger: str) -> None:
    while True:
        try:
            await asyncio.sleep(await _seconds_to_wait(site_id))
            _dirty.discard(site_id)
            await _run_in_a_batch(site_id, trigger)
        except Exception:
            logger.exception("rebalance of site %s failed", site_id)
        if site_id not in _dirty:
            return


async def _run_in_a_batch(site_id: int, trigger: str) -> None:
    """Wait for the site's turn in a batch; raises what its run raised."""
    done = asyncio.get_running_loop().create_future()
    _ready[site_id] = (trigger, done)
    if len(_runners) < EVENT_RUNNERS:
        runner = asyncio.get_running_loop().create_task(_run_batches(), context=contextvars.Context())
        _runners.add(runner)
    await done


async def _run_batches() -> None:
    from energy.services import sites_control_run
    from energy.tasks import SITES_PER_RUN

    try:
        while _ready:
            batch = {pk: _ready.pop(pk) for pk in list(_ready)[:SITES_PER_RUN]}
            try:
                outcomes = await sync_to_async(sites_control_run, thread_sensitive=False)(
                    site_pks=list(batch), trigger="event", site_triggers={pk: t for pk, (t, _) in batch.items()}
                )
            except Exception as error:
                outcomes = dict.fromkeys(batch, error)
            for pk, (_, done) in batch.items():
                outcome = outcomes.get(pk)
                if done.done():  # its waiter was cancelled: the server is stopping
                    continue
                if isinstance(outcome, Exception):
                    done.set_exception(outcome)
                else:
                    done.set_result(outcome)
    finally:
        # Before the loop runs anything else: a site made ready now must find a free runner slot.
        _runners.discard(asyncio.current_task())


def _enqueue_celery(site_id: int, trigger: str) -> None:
    from energy.tasks import rebalance_site

    site = Site.objects.filter(pk=site_id).only("min_interval_s").first()
    if site is None:
        return
    client = _redis(settings.REDIS_URL)
    if client.set(f"graylogic:rebalance:{site_id}", 1, nx=True, ex=max(1, site.min_interval_s)):
        rebalance_site.delay(site_id, trigger)
    elif client.set(f"graylogic:rebalance-trailing:{site_id}", 1, nx=True, ex=max(1, site.min_interval_s)):
        # Changes inside the interval are not lost: one more run when it ends.
        rebalance_site.apply_async(args=[site_id, trigger], countdown=site.min_interval_s)


async def request_rebalance_async(site_id: int, trigger: str) -> None:
    if not settings.EMBEDDED_JOBS:
        await sync_to_async(_enqueue_celery)(site_id, trigger)
        return
    _schedule(site_id, trigger)


def _schedule(site_id: int, trigger: str) -> None:
    """In the server's loop. The run gets an empty context: a caller's context (a request's)
    holds asgiref's per-request executor, which is gone by the time the run starts."""
    pending = _pending.get(site_id)
    if pending is not None and not pending.done():
        _dirty.add(site_id)
        return
    _pending[site_id] = asyncio.get_running_loop().create_task(
        _rebalance_when_allowed(site_id, trigger), context=contextvars.Context()
    )


def request_rebalance(site_id: int, trigger: str) -> None:
    """From sync code (API views, the admin). Embedded, this needs the server's event loop;
    elsewhere (a shell, a test client) there is no server here and the next scheduled run
    picks the change up."""
    if not settings.EMBEDDED_JOBS:
        _enqueue_celery(site_id, trigger)
    elif server_loop is not None:
        server_loop.call_soon_threadsafe(_schedule, site_id, trigger, context=contextvars.Context())
    else:
        logger.debug("no server loop in this process; site %s waits for its scheduled run", site_id)
