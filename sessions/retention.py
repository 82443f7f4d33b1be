"""Retention rules, plain data in and out: which rows are due for pruning, and the 15-minute
aggregates that stand in for raw meter samples once those are pruned (sessions/pruning.py reads
and writes the database around them).

Aggregates merge: a bucket split over two batches, or a replayed sample arriving after its
bucket was aggregated, adds to the aggregate already stored instead of making a second one."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import NamedTuple

from sessions.measurands import sample_rejection

BUCKET = dt.timedelta(minutes=15)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def bucket_start(at: dt.datetime) -> dt.datetime:
    """The start of the 15-minute bucket (UTC) that holds `at`."""
    return at - (at - _EPOCH) % BUCKET


def cutoff(*, now: dt.datetime, days: int | None) -> dt.datetime | None:
    """Rows dated before this are due; None when the table is kept for ever. On a bucket
    boundary, so that a pruned bucket is always a whole one."""
    if days is None:
        return None
    return bucket_start(now - dt.timedelta(days=days))


def reading_cutoff(
    *, due_before: dt.datetime | None, open_session_starts: Iterable[dt.datetime], hold: dt.timedelta
) -> dt.datetime | None:
    """A site's readings are due before `due_before`, but a running session keeps those from
    its start (less the hold before it, as the solar share reads them) for its live figures."""
    if due_before is None:
        return None
    return min([due_before, *(start - hold for start in open_session_starts)])


class AggregateKey(NamedTuple):
    """What one aggregate row stands for; unique in the table."""

    charger_id: int
    connector_id: int
    session_id: int | None
    bucket_start: dt.datetime
    measurand: str
    phase: str
    unit: str
    location: str


class Sample(NamedTuple):
    """A raw meter sample as the pruning job reads it."""

    charger_id: int
    connector_id: int
    session_id: int | None
    timestamp: dt.datetime
    measurand: str
    phase: str
    unit: str
    location: str
    value: float | None

    @property
    def key(self) -> AggregateKey:
        return AggregateKey(
            self.charger_id,
            self.connector_id,
            self.session_id,
            bucket_start(self.timestamp),
            self.measurand,
            self.phase,
            self.unit,
            self.location,
        )


@dataclass(frozen=True)
class Aggregate:
    """Samples of one key in one bucket: count, mean, min, max, and the first and last value
    (an energy register's first and last give the energy of the bucket)."""

    sample_count: int
    value_mean: float
    value_min: float
    value_max: float
    first_at: dt.datetime
    first_value: float
    last_at: dt.datetime
    last_value: float

    @classmethod
    def of(cls, at: dt.datetime, value: float) -> "Aggregate":
        return cls(1, value, value, value, at, value, at, value)

    def merge(self, other: "Aggregate") -> "Aggregate":
        count = self.sample_count + other.sample_count
        mean = (self.value_mean * self.sample_count + other.value_mean * other.sample_count) / count
        first = self if (self.first_at, self.first_value) <= (other.first_at, other.first_value) else other
        last = self if (self.last_at, self.last_value) >= (other.last_at, other.last_value) else other
        return replace(
            self,
            sample_count=count,
            # Float rounding must not put the mean outside [min, max].
            value_mean=min(max(mean, min(self.value_min, other.value_min)), max(self.value_max, other.value_max)),
            value_min=min(self.value_min, other.value_min),
            value_max=max(self.value_max, other.value_max),
            first_at=first.first_at,
            first_value=first.first_value,
            last_at=last.last_at,
            last_value=last.last_value,
        )


def aggregate_samples(samples: Iterable[Sample]) -> dict[AggregateKey, Aggregate]:
    """One aggregate per key and bucket. Samples without a usable value (signed data only, or a
    broken meter's 1e15 W stored before values were bounded) are pruned with the rest but
    aggregate nothing."""
    aggregates: dict[AggregateKey, Aggregate] = {}
    for sample in samples:
        if sample.value is None or sample_rejection(measurand=sample.measurand, unit=sample.unit, value=sample.value):
            continue
        one = Aggregate.of(sample.timestamp, sample.value)
        key = sample.key
        aggregates[key] = aggregates[key].merge(one) if key in aggregates else one
    return aggregates


def merge_into(
    stored: dict[AggregateKey, Aggregate], new: dict[AggregateKey, Aggregate]
) -> tuple[dict[AggregateKey, Aggregate], dict[AggregateKey, Aggregate]]:
    """(to create, to update): new aggregates with no stored row, and stored rows merged with
    the new samples of their key."""
    to_create = {key: aggregate for key, aggregate in new.items() if key not in stored}
    to_update = {key: stored[key].merge(aggregate) for key, aggregate in new.items() if key in stored}
    return to_create, to_update


@dataclass(frozen=True)
class Batching:
    """How the job deletes: `size` rows per statement, each in its own short transaction, and
    at most `batches` statements per table and run, so that no lock is held for long and a
    run always ends; a backlog (the first run on a year of data) is worked off over runs."""

    size: int = 5000
    batches: int = 40
