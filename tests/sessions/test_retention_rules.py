"""Retention rules: what is due, and the 15-minute aggregation. Tables of cases, no database."""

import datetime as dt

import pytest

from sessions.retention import (
    Aggregate,
    AggregateKey,
    Sample,
    aggregate_samples,
    bucket_start,
    cutoff,
    merge_into,
    reading_cutoff,
)

UTC = dt.UTC


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "bucket"),
    [
        (at(1, 10, 0), at(1, 10, 0)),
        (at(1, 10, 14, 59), at(1, 10, 0)),
        (at(1, 10, 15), at(1, 10, 15)),
        (at(1, 23, 59, 59), at(1, 23, 45)),
        (dt.datetime(1969, 12, 31, 23, 50, tzinfo=UTC), dt.datetime(1969, 12, 31, 23, 45, tzinfo=UTC)),
        # Another zone is the same instant: buckets are in UTC.
        (dt.datetime(2026, 3, 1, 11, 20, tzinfo=dt.timezone(dt.timedelta(hours=1))), at(1, 10, 15)),
    ],
)
def test_a_sample_falls_in_the_quarter_hour_that_holds_it(moment, bucket):
    assert bucket_start(moment) == bucket


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (None, None),  # kept for ever
        (90, at(1, 10, 0) - dt.timedelta(days=90)),
        # On a bucket boundary, so a bucket is pruned whole: 10:07 less a day is 10:00 the day before.
        (1, dt.datetime(2026, 3, 1, 10, 0, tzinfo=UTC) - dt.timedelta(days=1)),
    ],
)
def test_rows_are_due_before_a_cutoff_on_a_bucket_boundary(days, expected):
    assert cutoff(now=at(1, 10, 7), days=days) == expected


HOLD = dt.timedelta(minutes=15)


@pytest.mark.parametrize(
    ("due_before", "open_starts", "expected"),
    [
        (None, [at(1, 9)], None),
        (at(1, 10), [], at(1, 10)),
        (at(1, 10), [at(2, 9)], at(1, 10)),  # started after the cutoff: nothing more kept
        (at(1, 10), [at(1, 9), at(1, 8)], at(1, 7, 45)),  # the oldest running one, less the hold
    ],
)
def test_a_running_session_keeps_the_readings_from_its_start(due_before, open_starts, expected):
    assert reading_cutoff(due_before=due_before, open_session_starts=open_starts, hold=HOLD) == expected


def sample(when: dt.datetime, value: float | None, **fields) -> Sample:
    base = {
        "charger_id": 1,
        "connector_id": 1,
        "session_id": 7,
        "measurand": "Power.Active.Import",
        "phase": "",
        "unit": "W",
        "location": "Outlet",
    }
    base.update(fields)
    return Sample(
        base["charger_id"],
        base["connector_id"],
        base["session_id"],
        when,
        base["measurand"],
        base["phase"],
        base["unit"],
        base["location"],
        value,
    )


def key(bucket: dt.datetime, **fields) -> AggregateKey:
    return sample(bucket, 0, **fields).key


def test_samples_of_one_bucket_give_count_mean_min_max_first_and_last():
    samples = [sample(at(1, 10, 1), 3000), sample(at(1, 10, 11), 7000), sample(at(1, 10, 6), 5000)]

    assert aggregate_samples(samples) == {
        key(at(1, 10)): Aggregate(3, 5000, 3000, 7000, at(1, 10, 1), 3000, at(1, 10, 11), 7000)
    }


@pytest.mark.parametrize(
    ("other", "why"),
    [
        ({"phase": "L1"}, "phase"),
        ({"unit": "kW"}, "unit"),
        ({"location": "Inlet"}, "location"),
        ({"session_id": None}, "no session"),
        ({"session_id": 8}, "another session"),
        ({"connector_id": 2}, "connector"),
        ({"measurand": "Current.Import"}, "measurand"),
    ],
)
def test_samples_that_differ_in_what_they_measure_are_never_merged(other, why):
    aggregates = aggregate_samples([sample(at(1, 10, 1), 3000), sample(at(1, 10, 2), 4000, **other)])

    assert len(aggregates) == 2, why


def test_each_quarter_hour_is_its_own_aggregate():
    aggregates = aggregate_samples([sample(at(1, 10, 14), 1), sample(at(1, 10, 15), 2), sample(at(1, 10, 44), 3)])

    assert sorted(k.bucket_start for k in aggregates) == [at(1, 10, 0), at(1, 10, 15), at(1, 10, 30)]


def test_samples_without_a_usable_value_aggregate_nothing():
    samples = [
        sample(at(1, 10, 1), None),
        sample(at(1, 10, 2), float("inf")),
        sample(at(1, 10, 3), float("nan")),
        sample(at(1, 10, 4), 1e15),  # stored before values were bounded: a broken meter
        sample(at(1, 10, 5), 5e6, unit="kW"),
        sample(at(1, 10, 6), -40, measurand="Current.Import", unit="A"),
    ]

    assert aggregate_samples(samples) == {}


def test_a_usable_value_beside_broken_ones_is_aggregated_alone():
    samples = [sample(at(1, 10, 1), 1e15), sample(at(1, 10, 2), 7.2, unit="kW"), sample(at(1, 10, 3), 9e9, unit="kW")]

    assert aggregate_samples(samples) == {key(at(1, 10), unit="kW"): Aggregate.of(at(1, 10, 2), 7.2)}


def test_a_bucket_split_over_two_batches_merges_into_the_stored_aggregate():
    """A batch ends mid-bucket, or a replayed sample arrives after its bucket was aggregated."""
    all_at_once = aggregate_samples(
        [sample(at(1, 10, 1), 10), sample(at(1, 10, 5), 40), sample(at(1, 10, 9), 20), sample(at(1, 10, 12), 30)]
    )
    stored = aggregate_samples([sample(at(1, 10, 1), 10), sample(at(1, 10, 9), 20)])
    later = aggregate_samples([sample(at(1, 10, 5), 40), sample(at(1, 10, 12), 30), sample(at(1, 10, 20), 99)])

    to_create, to_update = merge_into(stored, later)

    assert to_update == all_at_once
    assert to_create == {key(at(1, 10, 15)): Aggregate.of(at(1, 10, 20), 99)}


def test_a_merged_mean_stays_between_min_and_max_whatever_the_rounding():
    merged = Aggregate(3, 0.1, 0.1, 0.1, at(1, 10), 0.1, at(1, 10), 0.1).merge(
        Aggregate(7, 0.1, 0.1, 0.1, at(1, 10, 1), 0.1, at(1, 10, 1), 0.1)
    )

    assert merged.value_min <= merged.value_mean <= merged.value_max
    assert merged.sample_count == 10
