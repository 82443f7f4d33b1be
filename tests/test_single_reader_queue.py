"""graylogic/single_reader_queue.py: the per-connection queue behind daphne's input and ocpp's responses."""

import asyncio
import sys

import pytest

from graylogic.single_reader_queue import SingleReaderQueue


def test_items_come_out_in_the_order_they_went_in():
    async def scenario():
        queue = SingleReaderQueue()
        for item in "abc":
            queue.put_nowait(item)
        return [await queue.get() for _ in range(3)]

    assert asyncio.run(scenario()) == ["a", "b", "c"]


def test_a_waiting_reader_wakes_on_the_next_put():
    async def scenario():
        queue = SingleReaderQueue()
        reader = asyncio.create_task(queue.get())
        await asyncio.sleep(0.01)
        assert not reader.done()
        queue.put_nowait("frame")
        return await asyncio.wait_for(reader, 1)

    assert asyncio.run(scenario()) == "frame"


def test_a_reader_cancelled_while_waiting_takes_nothing_and_the_next_one_gets_the_item():
    async def scenario():
        queue = SingleReaderQueue()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(queue.get(), 0.01)  # how ocpp waits for a charger's answer
        queue.put_nowait("late answer")
        return await asyncio.wait_for(queue.get(), 1)

    assert asyncio.run(scenario()) == "late answer"


def test_a_second_concurrent_reader_is_refused():
    async def scenario():
        queue = SingleReaderQueue()
        first = asyncio.create_task(queue.get())
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError):
            await queue.get()
        first.cancel()

    asyncio.run(scenario())


def test_it_is_far_smaller_than_an_asyncio_queue():
    def size_with_attributes(obj) -> int:
        names = getattr(obj, "__slots__", None) or vars(obj)
        return sys.getsizeof(obj) + sum(sys.getsizeof(getattr(obj, name)) for name in names)

    assert size_with_attributes(SingleReaderQueue()) * 10 < size_with_attributes(asyncio.Queue())
