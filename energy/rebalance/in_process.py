"""The embedded runtime: a site's event runs wait in the server's event loop, then go in
batches with other sites' (docs/architecture.md, point 6)."""

import asyncio
import contextvars
import logging

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async

from energy import services
from energy.rebalance import SITES_PER_RUN
from energy.rebalance.marks import LocalMarks
from energy.rebalance.runs import run_alone_async, run_now_reporting_failures, seconds_to_wait
from graylogic.outages import DATABASE_ERRORS, database_outage

logger = logging.getLogger(__name__)

# Event runs go in batches, like the scheduled ones: a site run alone costs 3.6 times what it
# costs in a batch of ten (bench/control_bench.py), and a thousand sites ask at once after a
# restart. Two runners, so that one charger slow to answer holds up only half of them; more
# would take the GIL from the server's loop (bench/README.md, P2).
EVENT_RUNNERS = 2


class InProcessRebalancer:
    runs_in_server = True

    def __init__(self) -> None:
        self._marks = LocalMarks()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Each site's waiting run, held so that it is not garbage-collected; gone once done.
        self._waiting: set[asyncio.Task] = set()
        # Sites whose interval has passed, in the order they became due: (trigger, its run's future).
        self._ready: dict[int, tuple[str, asyncio.Future]] = {}
        self._runners: set[asyncio.Task] = set()

    def serve_from(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def request(self, site_pk: int, trigger: str) -> None:
        """Needs the server's event loop; elsewhere (a shell, a test client) there is no server
        here and the next scheduled run picks the change up."""
        if self._loop is None:
            logger.debug("no server loop in this process; site %s waits for its scheduled run", site_pk)
            return
        self._loop.call_soon_threadsafe(self._schedule, site_pk, trigger, context=contextvars.Context())

    async def request_async(self, site_pk: int, trigger: str) -> None:
        self._schedule(site_pk, trigger)

    async def now_async(self, site_pk: int, trigger: str, *, protection_only: bool = False) -> None:
        if protection_only:
            # A run of its own: the car waits on just the fuse limits.
            await run_now_reporting_failures(site_pk, run_alone_async(site_pk, trigger, protection_only=True))
        else:
            await run_now_reporting_failures(site_pk, self._run_in_a_batch(site_pk, trigger))

    def run_starting(self, site_pk: int) -> None:
        """Nothing: this runtime's runs are its own, never queued Celery tasks."""

    def run_finished(self, site_pk: int, *, min_interval_s: int) -> None:
        """Nothing: this runtime's runs are its own, never queued Celery tasks."""

    def _schedule(self, site_pk: int, trigger: str) -> None:
        """In the server's loop. The run gets an empty context: a caller's context (a request's)
        holds asgiref's per-request executor, which is gone by the time the run starts."""
        run = self._marks.request(site_pk, trigger, hold_s=0)
        if run is None:
            return
        waiting = asyncio.get_running_loop().create_task(
            self._run_when_allowed(site_pk, run), context=contextvars.Context()
        )
        self._waiting.add(waiting)
        waiting.add_done_callback(self._waiting.discard)

    async def _run_when_allowed(self, site_pk: int, trigger: str | None) -> None:
        try:
            while trigger is not None:
                try:
                    # database_sync_to_async: a connection an outage broke is replaced, not reused.
                    wait_s = await database_sync_to_async(seconds_to_wait)(site_pk)
                    if wait_s is None:
                        return
                    await asyncio.sleep(wait_s)
                    self._marks.starting(site_pk)
                    await self._run_in_a_batch(site_pk, trigger)
                except DATABASE_ERRORS as error:
                    # No retry here: the scheduled runs pick the site up once the database is back.
                    database_outage.failed(error)
                    return
                except Exception:
                    logger.exception("rebalance of site %s failed", site_pk)
                trigger = self._marks.finished(site_pk, hold_s=0)
        finally:
            if trigger is not None:  # left before its run (site gone, database down, server stopping)
                self._marks.forget(site_pk)

    async def _run_in_a_batch(self, site_pk: int, trigger: str) -> None:
        """Wait for the site's turn in a batch (joining its run if it is already queued); raises
        what its run raised."""
        if site_pk in self._ready:
            done = self._ready[site_pk][1]
        else:
            done = asyncio.get_running_loop().create_future()
            self._ready[site_pk] = (trigger, done)
        if len(self._runners) < EVENT_RUNNERS:
            runner = asyncio.get_running_loop().create_task(self._run_batches(), context=contextvars.Context())
            self._runners.add(runner)
        await done

    async def _run_batches(self) -> None:
        try:
            while self._ready:
                batch = {pk: self._ready.pop(pk) for pk in list(self._ready)[:SITES_PER_RUN]}
                try:
                    outcomes = await sync_to_async(services.sites_control_run, thread_sensitive=False)(
                        site_pks=list(batch),
                        trigger="event",
                        site_triggers={pk: trigger for pk, (trigger, _) in batch.items()},
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
            self._runners.discard(asyncio.current_task())
