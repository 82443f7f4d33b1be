"""The one place the product's clock is moved for a simulated day. Services that take `now`
are given it; what reads `django.utils.timezone.now()` itself (records' timestamps, a profile's
startSchedule, a grid level's time) sees the simulated instant through this."""

import contextlib
import datetime as dt
from collections.abc import Iterator
from unittest import mock

from django.utils import timezone


class SimulatedClock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


@contextlib.contextmanager
def simulated_clock(start: dt.datetime) -> Iterator[SimulatedClock]:
    """timezone.now() answers the clock's time until the block ends; set `clock.now` to move it."""
    clock = SimulatedClock(start)
    with mock.patch.object(timezone, "now", clock):
        yield clock
