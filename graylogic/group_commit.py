"""Group commit: writes from every connection on this process reach the database together, one
transaction per batch, so a thousand chargers cost one commit instead of a thousand.

A batch is whatever arrived while the previous one was being written: an idle server writes at
once, a busy one writes bigger batches. Whoever awaits `write()` is answered only after its
batch committed, so nothing acknowledged to a charger can be lost by a crash; and an item
whose writer went away (the charger disconnected) is still written. Writes nobody waits on may
linger a while to share a bigger batch. `drain_all()` runs at shutdown, before the event loop
stops, and cuts any lingering short."""

import asyncio
import contextlib
import logging
from collections.abc import Callable

from channels.db import database_sync_to_async

from graylogic.outages import DATABASE_ERRORS, database_answers, database_outage

logger = logging.getLogger(__name__)

# At most this many items per transaction; a bigger backlog is written in several.
MAX_BATCH = 1000


class GroupCommit:
    """`write_many(items)` writes a batch in one transaction; it may return one result per item,
    which `write()` returns to that item's writer."""

    def __init__(self, name: str, write_many: Callable[[list], list | None], *, linger_s: float = 0.0):
        self.name = name
        self._write_many = write_many
        self.linger_s = linger_s
        self._pending: list[tuple[object, asyncio.Future | None]] = []
        self._flusher: asyncio.Task | None = None
        self._lingering: asyncio.Future | None = None
        self._draining = False

    async def write(self, item):
        """Return once `item` is committed, with its result; raise what writing it raised."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._start_flusher()
        return await future

    def write_later(self, item) -> None:
        """For writes nobody waits on (a charger's last-seen time): they ride with the next batch,
        which first lingers for linger_s."""
        self._pending.append((item, None))
        self._start_flusher()

    @property
    def busy(self) -> bool:
        return self._flusher is not None and not self._flusher.done()

    async def drain(self) -> None:
        self._draining = True
        try:
            while self.busy:
                if self._lingering is not None and not self._lingering.done():
                    self._lingering.set_result(None)
                await asyncio.shield(self._flusher)
        finally:
            self._draining = False

    def _start_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        if self.linger_s and not self._draining:
            self._lingering = asyncio.get_running_loop().create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lingering, self.linger_s)
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            await self._write(batch)

    async def _write(self, batch: list[tuple[object, asyncio.Future | None]]) -> None:
        try:
            results = await database_sync_to_async(self._write_many)([item for item, _ in batch])
        except DATABASE_ERRORS as error:
            if not await database_sync_to_async(database_answers)():
                # The database is down: every item would fail the same way, each with a
                # traceback (300 a second). Fail the whole batch at once; writers retry.
                self._fail_in_outage(batch, error)
                return
            await self._write_isolating(batch, error)
            return
        except Exception as error:
            await self._write_isolating(batch, error)
            return
        database_outage.recovered()
        for index, (_, future) in enumerate(batch):
            # A cancelled future: its writer went away, but its item is written all the same.
            if future is not None and not future.done():
                future.set_result(None if results is None else results[index])

    async def _write_isolating(self, batch: list[tuple[object, asyncio.Future | None]], error: Exception) -> None:
        if len(batch) > 1:
            # One bad item must not fail the others: write them one by one.
            for entry in batch:
                await self._write([entry])
            return
        item, future = batch[0]
        if future is None:
            logger.error("%s: could not write %r", self.name, item, exc_info=error)
        elif not future.done():
            future.set_exception(error)

    def _fail_in_outage(self, batch: list[tuple[object, asyncio.Future | None]], error: Exception) -> None:
        """Writers get the database's error; writes nobody waits on (last-seen times) are dropped
        and counted in the outage log."""
        for _, future in batch:
            database_outage.failed(error)
            if future is not None and not future.done():
                future.set_exception(error)


async def drain_all(group_commits: list[GroupCommit]) -> None:
    """Write everything still waiting, including what arrives while draining."""
    while any(instance.busy for instance in group_commits):
        for instance in group_commits:
            await instance.drain()
