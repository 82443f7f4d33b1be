"""A queue for one reader: each connection has several, and at 10,000 chargers their size counts.

asyncio.Queue holds four deques (items, getters, putters and its Event's waiters), about 2.5 KB
even when empty; this holds a list and at most one waiting reader, about 100 bytes. It offers
the two methods a connection's queues are used with: put_nowait() and get(). Its backlog is a
charger's frames in flight, so popping from the head of a list is cheap enough.
"""

import asyncio


class SingleReaderQueue:
    __slots__ = ("_items", "_waiter")

    def __init__(self):
        self._items: list = []
        self._waiter: asyncio.Future | None = None

    def put_nowait(self, item) -> None:
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self):
        """The oldest item, waiting for one if need be. Cancelled while waiting, it takes nothing."""
        if self._waiter is not None:
            raise RuntimeError("SingleReaderQueue.get() is already awaited by another reader")
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)
