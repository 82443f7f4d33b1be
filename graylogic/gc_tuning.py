"""Garbage collection for one process holding thousands of charger connections.

CPython's full collection walks every object the collector tracks, and each connection keeps
about 150 of them (protocol, consumer, charge point, queues, tasks). At 10,000 chargers that is
1.5 million objects and a stop of the event loop for about a second, and under load the default
policy ran one every few seconds (bench/README.md). Worse, much of what a connection allocates
per message (the task waiting for its next frame, the selector's key) lives until its next
message, seconds later: old enough to reach the old generations, which then take hundreds of
milliseconds to walk. So every second everything is moved out of the collector's sight
(`gc.freeze`, which costs nothing): routine collections walk only the last second's objects.
Frozen objects are still freed when nothing refers to them; only those in reference cycles (a
closed connection's, say) wait until the process has grown by half since the last full
collection, when everything is unfrozen and collected: one planned pause instead of a pause
every few seconds.
"""

import asyncio
import gc
import logging
import os
import time

logger = logging.getLogger(__name__)

FREEZE_EVERY_S = 1.0
# A full collection once the process is this many times its size after the last one.
FULL_COLLECTION_GROWTH = 1.5


def full_collection_due(*, size: int, size_after_last_full: int) -> bool:
    return size > FULL_COLLECTION_GROWTH * size_after_last_full


def process_size() -> int:
    """Resident memory in bytes (cheap on Linux); elsewhere the number of frozen objects, which
    takes a walk over all of them."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return gc.get_freeze_count()


def collect_all_and_freeze() -> int:
    """Everything back in sight, collected, frozen again; returns the process size after it."""
    started = time.perf_counter()
    gc.unfreeze()
    unreachable = gc.collect()
    gc.freeze()
    size = process_size()
    logger.info(
        "full garbage collection: %d unreachable objects, %d MB after, %.0f ms",
        unreachable,
        size // 1_000_000,
        1000 * (time.perf_counter() - started),
    )
    return size


async def keep_long_lived_objects_frozen(freeze_every_s: float = FREEZE_EVERY_S) -> None:
    """Runs for the server's lifetime, in its event loop."""
    size_after_last_full = collect_all_and_freeze()
    while True:
        await asyncio.sleep(freeze_every_s)
        gc.freeze()
        if full_collection_due(size=process_size(), size_after_last_full=size_after_last_full):
            size_after_last_full = collect_all_and_freeze()


_task: asyncio.Task | None = None


def start_with_reactor() -> None:
    """Call before the reactor runs (`manage.py serve`)."""
    from twisted.internet import reactor

    def start() -> None:
        global _task
        _task = asyncio.ensure_future(keep_long_lived_objects_frozen())

    reactor.callWhenRunning(start)
