"""The pruning job's reads and writes: each growing table loses its rows older than the
retention's days (sessions.models.Retention), in batches of primary keys, each batch in its own
short transaction, a bounded number per table and run (sessions/retention.py has the rules).

What is never pruned: the samples of a running session; each site's newest reading at the
cutoff and every reading a running session needs; each charger's limit decision in force at
the cutoff (control compares against the latest, the fail-safe needs the site's last reading);
the 15-minute sample aggregates."""

import datetime as dt
import logging
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from chargers.models import Charger, ChargerCommand, ChargerEvent
from energy.models import EnergyReading, LimitDecision, Site
from sessions.accounting import READING_HOLD
from sessions.models import ChargingSession, MeterSample, MeterSampleAggregate, RejectedSample, Retention
from sessions.retention import (
    Aggregate,
    AggregateKey,
    Batching,
    Sample,
    aggregate_samples,
    cutoff,
    merge_into,
    reading_cutoff,
)

logger = logging.getLogger(__name__)

AGGREGATE_FIELDS = [
    "sample_count",
    "value_mean",
    "value_min",
    "value_max",
    "first_at",
    "first_value",
    "last_at",
    "last_value",
]


class _Budget:
    """The batches one table may still run this time."""

    def __init__(self, batching: Batching) -> None:
        self.batching = batching
        self.done = 0
        self.rows = 0

    def run(self, batch: Callable[[], int]) -> bool:
        """Run batches until one comes back short (nothing more is due) or the budget is spent;
        False when the budget ran out first. A batch that found nothing costs no budget: every
        charger and site is looked at, however many have nothing due."""
        while self.done < self.batching.batches:
            deleted = batch()
            if deleted:
                self.done += 1
                self.rows += deleted
            if deleted < self.batching.size:
                return True
        return False


def _delete(model: type[Model], ids: list[int]) -> int:
    return model.objects.filter(pk__in=ids).delete()[0] if ids else 0


# --- meter samples ------------------------------------------------------------------------------


def _connector_ids(charger_id: int) -> list[int]:
    """The connectors a charger has samples of, one index lookup each (no scan of its rows)."""
    found: list[int] = []
    while True:
        after = found[-1] if found else -1
        following = (
            MeterSample.objects.filter(charger_id=charger_id, connector_id__gt=after)
            .order_by("connector_id")
            .values_list("connector_id", flat=True)
            .first()
        )
        if following is None:
            return found
        found.append(following)


def aggregates_between(
    *, charger_id: int, connector_id: int, first: dt.datetime, last: dt.datetime
) -> QuerySet[MeterSampleAggregate]:
    """A connector's stored aggregates of the buckets from `first` to `last` (index
    aggregate_by_connector_time)."""
    return MeterSampleAggregate.objects.filter(
        charger_id=charger_id, connector_id=connector_id, bucket_start__gte=first, bucket_start__lte=last
    )


def _aggregates_store(*, charger_id: int, connector_id: int, new: dict[AggregateKey, Aggregate]) -> None:
    if not new:
        return
    buckets = [key.bucket_start for key in new]
    rows = aggregates_between(charger_id=charger_id, connector_id=connector_id, first=min(buckets), last=max(buckets))
    stored = {}
    for row in rows:
        key = AggregateKey(
            row.charger_id,
            row.connector_id,
            row.session_id,
            row.bucket_start,
            row.measurand,
            row.phase,
            row.unit,
            row.location,
        )
        stored[key] = (row, Aggregate(**{field: getattr(row, field) for field in AGGREGATE_FIELDS}))
    to_create, to_update = merge_into({key: aggregate for key, (_, aggregate) in stored.items()}, new)
    MeterSampleAggregate.objects.bulk_create(
        MeterSampleAggregate(**key._asdict(), **vars(aggregate)) for key, aggregate in to_create.items()
    )
    updated = []
    for key, aggregate in to_update.items():
        row = stored[key][0]
        for field in AGGREGATE_FIELDS:
            setattr(row, field, getattr(aggregate, field))
        updated.append(row)
    MeterSampleAggregate.objects.bulk_update(updated, AGGREGATE_FIELDS)


class _TakenElsewhere(Exception):
    """Another run pruned some of these rows first: this batch is rolled back."""


def samples_due(*, charger_id: int, connector_id: int, before: dt.datetime) -> QuerySet[MeterSample]:
    """A connector's samples older than `before`, oldest first, on the samples' unique index
    (charger, connector, timestamp...); those of the charger's running sessions are not due."""
    running = list(
        ChargingSession.objects.filter(charger_id=charger_id, stopped_at__isnull=True).values_list("pk", flat=True)
    )
    return (
        MeterSample.objects.filter(charger_id=charger_id, connector_id=connector_id, timestamp__lt=before)
        .exclude(session_id__in=running)
        .order_by("timestamp")
    )


def _samples_batch(*, charger_id: int, connector_id: int, before: dt.datetime, batch_size: int) -> int:
    """Aggregate and delete one batch of a connector's due samples; the rows deleted."""
    due = samples_due(charger_id=charger_id, connector_id=connector_id, before=before)
    rows = list(
        due.values_list("pk", "session_id", "timestamp", "measurand", "phase", "unit", "location", "value")[:batch_size]
    )
    if not rows:
        return 0
    samples = [
        Sample(charger_id, connector_id, session_id, at, measurand, phase, unit, location, value)
        for _, session_id, at, measurand, phase, unit, location, value in rows
    ]
    with transaction.atomic():
        # Deleted first: the rows are then locked, and a concurrent run that took some of them
        # finds fewer and rolls back rather than counting them twice.
        if _delete(MeterSample, [pk for pk, *_ in rows]) != len(rows):
            raise _TakenElsewhere
        _aggregates_store(charger_id=charger_id, connector_id=connector_id, new=aggregate_samples(samples))
    return len(rows)


def samples_prune(*, before: dt.datetime | None, batching: Batching) -> int:
    """Raw samples older than `before` become 15-minute aggregates; the rows deleted."""
    if before is None:
        return 0
    budget = _Budget(batching)
    for charger_id in Charger.objects.order_by("pk").values_list("pk", flat=True):
        for connector_id in _connector_ids(charger_id):
            finished = budget.run(
                lambda c=charger_id, k=connector_id: _samples_batch(
                    charger_id=c, connector_id=k, before=before, batch_size=batching.size
                )
            )
            if not finished:
                return budget.rows
    return budget.rows


# --- site readings and limit decisions: all but the one in force at the cutoff ------------------


def _all_but_newest(queryset: QuerySet, *, newest_first: tuple[str, ...], batch_size: int) -> Callable[[], int]:
    def batch() -> int:
        ids = list(queryset.order_by(*newest_first).values_list("pk", flat=True)[1 : 1 + batch_size])
        with transaction.atomic():
            return _delete(queryset.model, ids)

    return batch


def readings_prune(*, before: dt.datetime | None, batching: Batching) -> int:
    """Site readings older than `before`, but each site's newest of them (the meter-silent
    fail-safe needs the last reading, however old) and those a running session still needs."""
    if before is None:
        return 0
    budget = _Budget(batching)
    for site_id in Site.objects.order_by("pk").values_list("pk", flat=True):
        starts = ChargingSession.objects.filter(charger__site_id=site_id, stopped_at__isnull=True).values_list(
            "started_at", flat=True
        )
        site_before = reading_cutoff(due_before=before, open_session_starts=starts, hold=READING_HOLD)
        due = EnergyReading.objects.filter(site_id=site_id, measured_at__lt=site_before)
        if not budget.run(_all_but_newest(due, newest_first=("-measured_at", "-id"), batch_size=batching.size)):
            break
    return budget.rows


def decisions_prune(*, before: dt.datetime | None, batching: Batching) -> int:
    """Limit decisions older than `before`, but each charger's newest of them: control writes a
    decision only when it changes, so that one may still be in force."""
    if before is None:
        return 0
    budget = _Budget(batching)
    for charger_id in Charger.objects.order_by("pk").values_list("pk", flat=True):
        due = LimitDecision.objects.filter(charger_id=charger_id, decided_at__lt=before)
        if not budget.run(_all_but_newest(due, newest_first=("-decided_at", "-id"), batch_size=batching.size)):
            break
    return budget.rows


# --- logs: by age alone -------------------------------------------------------------------------


def log_prune(*, model: type[Model], dated_by: str, before: dt.datetime | None, batching: Batching) -> int:
    """Rows of a log table (on an index of `dated_by`) older than `before`."""
    if before is None:
        return 0

    def batch() -> int:
        due = model.objects.filter(**{f"{dated_by}__lt": before}).order_by(dated_by)
        ids = list(due.values_list("pk", flat=True)[: batching.size])
        with transaction.atomic():
            return _delete(model, ids)

    budget = _Budget(batching)
    budget.run(batch)
    return budget.rows


# --- the job ------------------------------------------------------------------------------------


def retention_prune(*, now: dt.datetime | None = None, batching: Batching | None = None) -> dict[str, int]:
    """Prune every table by the retention settings; rows deleted per table. A table with more
    due than one run's budget goes on at the next run."""
    now = now or timezone.now()
    batching = batching or Batching()
    retention = Retention.current()
    jobs: dict[str, Callable[[], int]] = {
        "meter samples": lambda: samples_prune(
            before=cutoff(now=now, days=retention.meter_samples_days), batching=batching
        ),
        "energy readings": lambda: readings_prune(
            before=cutoff(now=now, days=retention.energy_readings_days), batching=batching
        ),
        "limit decisions": lambda: decisions_prune(
            before=cutoff(now=now, days=retention.limit_decisions_days), batching=batching
        ),
        "charger events": lambda: log_prune(
            model=ChargerEvent,
            dated_by="created_at",
            before=cutoff(now=now, days=retention.charger_events_days),
            batching=batching,
        ),
        "commands": lambda: log_prune(
            model=ChargerCommand,
            dated_by="created_at",
            before=cutoff(now=now, days=retention.charger_commands_days),
            batching=batching,
        ),
        "rejected samples": lambda: log_prune(
            model=RejectedSample,
            dated_by="received_at",
            before=cutoff(now=now, days=retention.rejected_samples_days),
            batching=batching,
        ),
    }
    pruned = {}
    for table, job in jobs.items():
        try:
            pruned[table] = job()
        except (_TakenElsewhere, IntegrityError):
            # Another run is pruning the same rows right now; what is left is due next time.
            logger.info("pruning %s: another run got there first, left for the next run", table)
            pruned[table] = 0
    summary = ", ".join(f"{rows:,} {table}" for table, rows in pruned.items() if rows) or "nothing due"
    Retention.objects.filter(pk=retention.pk).update(last_run_at=now, last_run_summary=summary[:300])
    if any(pruned.values()):
        logger.info("pruned %s", summary)
    return pruned
