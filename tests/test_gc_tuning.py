"""The server keeps long-lived objects out of the collector's routine walks and still frees
reference cycles among them once the frozen set has grown by half."""

import asyncio
import gc

import pytest

from graylogic import gc_tuning


@pytest.fixture(autouse=True)
def unfrozen():
    yield
    gc.unfreeze()


@pytest.mark.parametrize(
    ("size", "after_last_full", "due"),
    [
        (100_000, 100_000, False),
        (150_000, 100_000, False),
        (150_001, 100_000, True),
        (90_000, 100_000, False),  # connections closed and were freed by reference counting
    ],
)
def test_full_collection_is_due_after_half_again(size, after_last_full, due):
    assert gc_tuning.full_collection_due(size=size, size_after_last_full=after_last_full) is due


class Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the collector frees it


def test_frozen_cycles_are_freed_once_the_frozen_set_grew_by_half(monkeypatch):
    # Counted in objects here: the test process's resident memory moves for other reasons too.
    monkeypatch.setattr(gc_tuning, "process_size", gc.get_freeze_count)

    async def scenario():
        task = asyncio.create_task(gc_tuning.keep_long_lived_objects_frozen(freeze_every_s=0.05))
        await asyncio.sleep(0.01)
        baseline = gc.get_freeze_count()

        closed = [Node() for _ in range(int(0.4 * baseline))]
        await asyncio.sleep(0.1)
        with_closed = gc.get_freeze_count()  # frozen while alive
        del closed  # now garbage, but frozen: nobody frees it yet
        await asyncio.sleep(0.1)
        after_closing = gc.get_freeze_count()

        opened = [Node() for _ in range(int(0.2 * baseline))]  # past half again: a full collection
        await asyncio.sleep(0.1)
        task.cancel()
        return baseline, with_closed, after_closing, gc.get_freeze_count(), len(opened)

    baseline, with_closed, after_closing, at_end, opened = asyncio.run(scenario())

    assert with_closed > 1.35 * baseline
    assert after_closing > 1.35 * baseline
    assert at_end < baseline + opened + 0.05 * baseline


def test_process_size_is_the_resident_memory():
    assert 10_000_000 < gc_tuning.process_size() < 10_000_000_000
