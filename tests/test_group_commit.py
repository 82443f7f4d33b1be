"""Group commit (graylogic/group_commit.py): batching, error isolation, cancelled writers, drain."""

import asyncio
import logging
import threading
import time

import pytest
from django.db import OperationalError

from graylogic import group_commit
from graylogic.group_commit import GroupCommit, drain_all
from graylogic.outages import OutageLog

# The writes run through database_sync_to_async, which tidies the thread's database connection.
pytestmark = pytest.mark.django_db


class RecordingWriter:
    """A write_many that records its batches; the first call blocks until released, so the
    writes made meanwhile pile up into the next batch."""

    def __init__(self, bad_items=()):
        self.batches: list[list] = []
        self.bad_items = set(bad_items)
        self.release = threading.Event()

    def __call__(self, items: list) -> None:
        if not self.batches:
            self.release.wait(5)
        self.batches.append(list(items))
        if self.bad_items & set(items):
            raise ValueError(f"cannot write {sorted(self.bad_items & set(items))}")


@pytest.fixture
def writer():
    created = RecordingWriter()
    yield created
    created.release.set()


def test_writes_made_during_a_commit_share_the_next_one(writer):
    async def scenario():
        group = GroupCommit("test", writer)
        first = asyncio.create_task(group.write(0))
        await asyncio.sleep(0.05)  # batch [0] is being written
        rest = [asyncio.create_task(group.write(n)) for n in range(1, 101)]
        await asyncio.sleep(0.05)
        assert not any(task.done() for task in [first, *rest])  # nobody is answered before the commit
        writer.release.set()
        await asyncio.gather(first, *rest)

    asyncio.run(scenario())

    assert writer.batches == [[0], list(range(1, 101))]


def test_one_bad_item_fails_only_its_own_writer(writer):
    writer.bad_items = {7}
    writer.release.set()

    async def scenario():
        group = GroupCommit("test", writer)
        return await asyncio.gather(*(group.write(n) for n in range(10)), return_exceptions=True)

    results = asyncio.run(scenario())

    assert [type(r).__name__ for r in results] == ["NoneType"] * 7 + ["ValueError"] + ["NoneType"] * 2
    written = [b for b in writer.batches if 7 not in b]
    assert sorted(item for batch in written for item in batch) == [0, 1, 2, 3, 4, 5, 6, 8, 9]


def test_each_writer_gets_its_own_items_result_also_when_a_bad_item_splits_the_batch():
    """write_many may answer one result per item (OCPP 2.0.1 TransactionEvents: the session's
    outcome); a batch split by a bad item still answers each writer its own."""

    def squares(items: list) -> list:
        if 3 in items:
            raise ValueError("cannot write 3")
        return [item * item for item in items]

    async def scenario():
        group = GroupCommit("test", squares)
        return await asyncio.gather(*(group.write(n) for n in range(6)), return_exceptions=True)

    results = asyncio.run(scenario())

    assert results[:3] + results[4:] == [0, 1, 4, 16, 25]
    assert isinstance(results[3], ValueError)


def test_an_item_is_written_even_when_its_writer_is_cancelled(writer):
    async def scenario():
        group = GroupCommit("test", writer)
        first = asyncio.create_task(group.write("first"))
        await asyncio.sleep(0.05)
        gone = asyncio.create_task(group.write("charger hung up"))
        await asyncio.sleep(0.01)
        gone.cancel()
        writer.release.set()
        await first
        await group.drain()

    asyncio.run(scenario())

    assert writer.batches == [["first"], ["charger hung up"]]


def test_drain_all_writes_what_nobody_waits_for(writer):
    writer.release.set()

    async def scenario():
        group = GroupCommit("test", writer)
        for n in range(5):
            group.write_later(n)
        await drain_all([group])

    asyncio.run(scenario())

    assert [item for batch in writer.batches for item in batch] == [0, 1, 2, 3, 4]


def test_lingering_writes_share_one_batch_and_drain_cuts_the_linger_short(writer):
    writer.release.set()

    async def scenario() -> float:
        group = GroupCommit("test", writer, linger_s=0.3)
        for n in range(3):
            group.write_later(n)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.4)  # the linger is over: the three went together
        group.write_later(3)
        group.write_later(4)
        started = time.monotonic()
        await drain_all([group])
        return time.monotonic() - started

    drain_s = asyncio.run(scenario())

    assert writer.batches == [[0, 1, 2], [3, 4]]
    assert drain_s < 0.2


class DatabaseDownWriter(RecordingWriter):
    """Fails every batch the way a database that went away does."""

    def __call__(self, items: list) -> None:
        self.batches.append(list(items))
        raise OperationalError("connection refused")


def test_with_the_database_down_a_batch_fails_at_once_with_one_log_line(monkeypatch, caplog):
    """Split item by item, a batch of a thousand logged a thousand tracebacks, every time."""
    monkeypatch.setattr(group_commit, "database_answers", lambda: False)
    monkeypatch.setattr(group_commit, "database_outage", OutageLog(logging.getLogger("test.db"), "database"))
    writer = DatabaseDownWriter()

    async def scenario():
        group = GroupCommit("test", writer)
        waited = [asyncio.create_task(group.write(n)) for n in range(50)]
        for n in range(50):
            group.write_later(f"seen {n}")
        return await asyncio.gather(*waited, return_exceptions=True)

    with caplog.at_level(logging.INFO):
        results = asyncio.run(scenario())

    assert all(isinstance(result, OperationalError) for result in results)
    assert len(writer.batches) == 1  # not retried one by one
    assert [r.getMessage() for r in caplog.records] == ["database unavailable: connection refused"]


def test_an_operational_error_of_one_item_while_the_database_answers_still_isolates_it(monkeypatch):
    """A deadlock or lock timeout is one statement's error, not an outage."""
    monkeypatch.setattr(group_commit, "database_answers", lambda: True)

    def write_many(items: list) -> None:
        if 3 in items:
            raise OperationalError("deadlock detected")

    async def scenario():
        group = GroupCommit("test", write_many)
        return await asyncio.gather(*(group.write(n) for n in range(5)), return_exceptions=True)

    results = asyncio.run(scenario())

    assert [type(r).__name__ for r in results] == ["NoneType"] * 3 + ["OperationalError", "NoneType"]
