"""Event-driven rebalancing (spec: rebalance on_charger_change / on_power_change), never more
often than the site's min_interval_s. Embedded: an asyncio task per site in the server, whose
runs go in batches. Scaled: a Celery task per site, queued once at a time through Redis."""

import asyncio
import contextlib
import contextvars
import functools
import logging
import math
import threading
from collections import defaultdict

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from energy.models import Site
from energy.scheduling import seconds_until_run_allowed
from graylogic.outages import DATABASE_ERRORS, database_outage

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


def _seconds_to_wait(site_id: int) -> float | None:
    """None for a site that no longer exists."""
    site = Site.objects.filter(pk=site_id).only("min_interval_s", "last_rebalanced_at").first()
    if site is None:
        return None
    return seconds_until_run_allowed(
        min_interval_s=site.min_interval_s, last_run_at=site.last_rebalanced_at, now=timezone.now()
    )


async def _rebalance_when_allowed(site_id: int, trigger: str) -> None:
    while True:
        try:
            # database_sync_to_async: a connection an outage broke is replaced, not reused.
            wait_s = await database_sync_to_async(_seconds_to_wait)(site_id)
            if wait_s is None:
                return
            await asyncio.sleep(wait_s)
            _dirty.discard(site_id)
            await _run_in_a_batch(site_id, trigger)
        except DATABASE_ERRORS as error:
            # No retry here: the scheduled runs pick the site up once the database is back.
            database_outage.failed(error)
            return
        except Exception:
            logger.exception("rebalance of site %s failed", site_id)
        if site_id not in _dirty:
            return


async def _run_in_a_batch(site_id: int, trigger: str) -> None:
    """Wait for the site's turn in a batch (joining its run if it is already queued); raises what
    its run raised."""
    if site_id in _ready:
        done = _ready[site_id][1]
    else:
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


# Scaled, as embedded: at most one run per site queued or running, and a request during it
# makes one more run afterwards (not lost, and not a second run inside min_interval_s). Redis
# holds both marks; the scripts make "queue or mark dirty" and "rerun or clear" atomic.
_QUEUE_OR_MARK_DIRTY = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
return 0
"""
_RERUN_OR_CLEAR = """
local trigger = redis.call('GET', KEYS[2])
if trigger then redis.call('DEL', KEYS[2]) redis.call('EXPIRE', KEYS[1], ARGV[1]) return trigger end
redis.call('DEL', KEYS[1])
return false
"""
# The marks outlive a run's wait by this much: if its task is lost (a worker killed before it
# finished), they lapse and the site's next request queues a new run.
MARK_SPARE_S = 60


def _marks(site_id: int) -> list[str]:
    return [f"graylogic:rebalance-queued:{site_id}", f"graylogic:rebalance-dirty:{site_id}"]


def _queue_celery_run(site_id: int, trigger: str, wait_s: float) -> None:
    from energy.tasks import rebalance_site

    rebalance_site.apply_async(args=[site_id, trigger], countdown=wait_s)


def _enqueue_celery(site_id: int, trigger: str) -> None:
    wait_s = _seconds_to_wait(site_id)
    if wait_s is None:
        return
    queue_or_mark_dirty = _redis(settings.REDIS_URL).register_script(_QUEUE_OR_MARK_DIRTY)
    if queue_or_mark_dirty(keys=_marks(site_id), args=[trigger, math.ceil(wait_s) + MARK_SPARE_S]):
        _queue_celery_run(site_id, trigger, wait_s)


def rebalance_starting(site_id: int) -> None:
    """A queued run, before it reads anything: requests until now are covered by it."""
    if settings.REDIS_URL:
        _redis(settings.REDIS_URL).delete(_marks(site_id)[1])


def rebalance_finished(site_id: int, min_interval_s: int) -> None:
    """A queued run, done: one more run if the site was asked for meanwhile, after its interval."""
    if not settings.REDIS_URL:
        return
    rerun_or_clear = _redis(settings.REDIS_URL).register_script(_RERUN_OR_CLEAR)
    trigger = rerun_or_clear(keys=_marks(site_id), args=[min_interval_s + MARK_SPARE_S])
    if trigger is not None and (wait_s := _seconds_to_wait(site_id)) is not None:
        _queue_celery_run(site_id, trigger.decode(), wait_s)


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


async def rebalance_now_async(site_id: int, trigger: str, *, protection_only: bool = False) -> None:
    """Decide the site now, not after min_interval_s, and return once its profiles are answered:
    a charger that booted or a car that is starting must not draw before its share is sent.
    `protection_only`: just the fuse limits, in a run of its own (a car waits on it)."""
    from energy.services import sites_control_run

    try:
        if settings.EMBEDDED_JOBS and not protection_only:
            await _run_in_a_batch(site_id, trigger)
            return
        outcomes = await sync_to_async(sites_control_run, thread_sensitive=False)(
            site_pks=[site_id], trigger=trigger, protection_only=protection_only
        )
        if isinstance(outcome := outcomes.get(site_id), Exception):
            raise outcome
    except DATABASE_ERRORS as error:
        database_outage.failed(error)
    except Exception:
        logger.exception("immediate rebalance of site %s failed", site_id)


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
