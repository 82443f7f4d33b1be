"""Writes about charging sessions and meter samples. Replays from a charger that was offline
are normal: every function here is idempotent."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.constants import OnConflict
from django.db.models.functions import Greatest

from chargers.models import Charger, ChargerEvent, IdTag
from chargers.services import charger_event_record, id_tag_info
from sessions.accounting import ENERGY_REGISTER, EnergyReading, session_energy_wh
from sessions.billing import session_account
from sessions.models import ChargingSession, MeterSample, RejectedSample

# Set by us, not the charger, when a new session starts on a connector whose previous
# session never got a StopTransaction. A late real StopTransaction still overwrites it.
SUPERSEDED = "Superseded"


@dataclass(frozen=True)
class SampleData:
    """One sampled value, with the OCPP 1.6 defaults already filled in."""

    timestamp: dt.datetime
    value: float | None
    measurand: str = ENERGY_REGISTER
    phase: str = ""
    unit: str = ""
    context: str = "Sample.Periodic"
    location: str = "Outlet"
    signed_data: str = ""


@dataclass(frozen=True)
class RejectedSampleData:
    """A sampled value that cannot be used (sessions/measurands.py, sessions/charger_clock.py)."""

    sample: SampleData
    value_text: str
    reason: RejectedSample.Reason


@dataclass(frozen=True)
class ChargerRating:
    """What bounds a charger's messages: its rated power and its number of connectors."""

    max_power_w: int | None
    number_of_connectors: int | None


def charger_rating(*, charger_pk: int) -> ChargerRating:
    max_power_w, number_of_connectors = Charger.objects.values_list("max_power_w", "number_of_connectors").get(
        pk=charger_pk
    )
    return ChargerRating(max_power_w=max_power_w, number_of_connectors=number_of_connectors)


def session_start(
    *,
    charger_pk: int,
    connector_id: int,
    id_tag: str,
    meter_start_wh: int,
    started_at: dt.datetime,
    charger_started_at: dt.datetime | None = None,
    reservation_id: int | None = None,
) -> tuple[int, dict]:
    """Open a session and allocate its transaction id; a replayed start gets the same id.
    charger_started_at: the charger's timestamp when it was off the server's clock (started_at
    is then the server's receive time). A new session closes every session still open on its
    connector, whatever their timestamps: a charger has one transaction per connector."""
    info = id_tag_info(charger_pk=charger_pk, id_tag=id_tag)
    charger_time = charger_started_at or started_at
    with transaction.atomic():
        session = _session_started(charger_pk, connector_id, charger_time, meter_start_wh)
        if session is not None:
            return session.transaction_id, info
        try:
            with transaction.atomic():
                session = ChargingSession.objects.create(
                    charger_id=charger_pk,
                    connector_id=connector_id,
                    started_at=started_at,
                    charger_started_at=charger_started_at,
                    id_tag=id_tag,
                    id_tag_ref_id=_id_tag_pk(id_tag),
                    meter_start_wh=meter_start_wh,
                    reservation_id=reservation_id,
                )
        except IntegrityError:
            # The same start, replayed on another connection at the same moment.
            session = _session_started(charger_pk, connector_id, charger_time, meter_start_wh)
            if session is None:
                raise
            return session.transaction_id, info
        ChargingSession.objects.filter(
            charger_id=charger_pk, connector_id=connector_id, stopped_at__isnull=True
        ).exclude(pk=session.pk).update(
            stopped_at=Greatest(F("started_at"), Value(session.started_at, output_field=DateTimeField())),
            stop_reason=SUPERSEDED,
        )
    return session.transaction_id, info


def _session_started(
    charger_pk: int, connector_id: int, charger_time: dt.datetime, meter_start_wh: int
) -> ChargingSession | None:
    """The session a charger started at charger_time, believed or kept beside the server's."""
    return (
        ChargingSession.objects.filter(charger_id=charger_pk, connector_id=connector_id)
        .filter(Q(started_at=charger_time) | Q(charger_started_at=charger_time, meter_start_wh=meter_start_wh))
        .first()
    )


def _id_tag_pk(id_tag: str) -> int | None:
    return IdTag.objects.filter(id_tag=id_tag).values_list("pk", flat=True).first()


def session_stop(
    *,
    charger_pk: int,
    transaction_id: int,
    meter_stop_wh: int,
    stopped_at: dt.datetime,
    charger_stopped_at: dt.datetime | None = None,
    reason: str = "",
    id_tag: str = "",
    transaction_data: Iterable[SampleData] = (),
    rejected_data: Iterable[RejectedSampleData] = (),
    connector_hint: int | None = None,
) -> dict | None:
    """Close a session. The first real stop wins; a replay changes nothing. A stop for a
    transaction we never saw is answered, and kept in the event log with all its data.
    charger_stopped_at: as session_start's charger_started_at."""
    info = id_tag_info(charger_pk=charger_pk, id_tag=id_tag) if id_tag else None
    transaction_data = list(transaction_data)
    with transaction.atomic():
        session = (
            ChargingSession.objects.select_for_update()
            .filter(charger_id=charger_pk, transaction_id=transaction_id)
            .first()
        )
        if session is None:
            _samples_insert(
                _sample_rows(
                    charger_pk=charger_pk,
                    connector_id=connector_hint or 1,
                    session_pk=None,
                    reported_transaction_id=transaction_id,
                    samples=transaction_data,
                )
            )
            _rejected_insert(
                charger_pk=charger_pk,
                connector_id=connector_hint or 1,
                reported_transaction_id=transaction_id,
                rejected=rejected_data,
            )
            charger_event_record(
                charge_point_id=_charge_point_id(charger_pk),
                charger_pk=charger_pk,
                kind=ChargerEvent.Kind.UNKNOWN_TRANSACTION,
                message=f"StopTransaction for unknown transaction {transaction_id}",
                payload={
                    "transaction_id": transaction_id,
                    "meter_stop_wh": meter_stop_wh,
                    "timestamp": (charger_stopped_at or stopped_at).isoformat(),
                    "reason": reason,
                    "id_tag": id_tag,
                },
            )
            return info

        _samples_insert(
            _sample_rows(
                charger_pk=charger_pk,
                connector_id=session.connector_id,
                session_pk=session.pk,
                reported_transaction_id=transaction_id,
                samples=transaction_data,
            )
        )
        _rejected_insert(
            charger_pk=charger_pk,
            connector_id=session.connector_id,
            reported_transaction_id=transaction_id,
            rejected=rejected_data,
        )
        if session.stopped_at is None or session.stop_reason == SUPERSEDED:
            session.stopped_at = max(stopped_at, session.started_at)
            session.charger_stopped_at = charger_stopped_at
            session.meter_stop_wh = meter_stop_wh
            session.stop_reason = reason or "Local"
            session.stop_id_tag = id_tag
            session.energy_wh = session_energy_wh(
                meter_start_wh=session.meter_start_wh,
                meter_stop_wh=meter_stop_wh,
                register_readings=[],
            )
            session.save(
                update_fields=[
                    "stopped_at",
                    "charger_stopped_at",
                    "meter_stop_wh",
                    "stop_reason",
                    "stop_id_tag",
                    "energy_wh",
                ]
            )
            session_account(transaction_id=session.transaction_id)
    return info


def _charge_point_id(charger_pk: int) -> str:
    return Charger.objects.values_list("charge_point_id", flat=True).get(pk=charger_pk)


@dataclass(frozen=True)
class MeterValuesReport:
    """One MeterValues message, as a charger sent it."""

    charger_pk: int
    connector_id: int
    transaction_id: int | None
    samples: list[SampleData]
    rejected: list[RejectedSampleData] = field(default_factory=list)


def meter_values_store_many(reports: list[MeterValuesReport]) -> None:
    """Keep every sample of many messages in one transaction (the group commit of the hot
    path), each linked to its session when the charger's transaction is known; rejected ones
    apart."""
    transaction_ids = {r.transaction_id for r in reports if r.transaction_id is not None}
    session_chargers = dict(
        ChargingSession.objects.filter(transaction_id__in=transaction_ids).values_list("transaction_id", "charger_id")
        if transaction_ids
        else ()
    )
    _samples_insert(
        [
            row
            for r in reports
            for row in _sample_rows(
                charger_pk=r.charger_pk,
                connector_id=r.connector_id,
                session_pk=r.transaction_id if session_chargers.get(r.transaction_id) == r.charger_pk else None,
                reported_transaction_id=r.transaction_id,
                samples=r.samples,
            )
        ]
    )
    for r in reports:
        _rejected_insert(
            charger_pk=r.charger_pk,
            connector_id=r.connector_id,
            reported_transaction_id=r.transaction_id,
            rejected=r.rejected,
        )


def _rejected_insert(
    *, charger_pk: int, connector_id: int, reported_transaction_id: int | None, rejected: Iterable[RejectedSampleData]
) -> None:
    """Rare (a broken meter, a wrong clock): a plain bulk insert; a replay adds nothing."""
    rows = [
        RejectedSample(
            charger_id=charger_pk,
            connector_id=connector_id,
            reported_transaction_id=reported_transaction_id,
            timestamp=r.sample.timestamp,
            measurand=r.sample.measurand,
            phase=r.sample.phase,
            unit=r.sample.unit,
            context=r.sample.context,
            location=r.sample.location,
            value_text=r.value_text[:100],
            reason=r.reason,
        )
        for r in rejected
    ]
    if rows:
        RejectedSample.objects.bulk_create(rows, ignore_conflicts=True)


_SAMPLE_COLUMNS = (
    "charger_id",
    "connector_id",
    "session_id",
    "reported_transaction_id",
    "timestamp",
    "measurand",
    "phase",
    "unit",
    "context",
    "location",
    "value",
    "signed_data",
)


def _sample_rows(
    *,
    charger_pk: int,
    connector_id: int,
    session_pk: int | None,
    reported_transaction_id: int | None,
    samples: Iterable[SampleData],
) -> list[tuple]:
    """One message's samples as rows in _SAMPLE_COLUMNS' order. The samples of one meterValue
    share their timestamp, which is adapted for the database once."""
    adapt = connection.ops.adapt_datetimefield_value
    rows = []
    timestamp = adapted = None
    for sample in samples:
        if sample.timestamp is not timestamp:
            timestamp, adapted = sample.timestamp, adapt(sample.timestamp)
        rows.append(
            (
                charger_pk,
                connector_id,
                session_pk,
                reported_transaction_id,
                adapted,
                sample.measurand,
                sample.phase,
                sample.unit,
                sample.context,
                sample.location,
                sample.value,
                sample.signed_data,
            )
        )
    return rows


def _samples_insert(rows: list[tuple]) -> None:
    """What bulk_create(ignore_conflicts=True) does, minus a model instance and a compiled
    statement per row: the hot path's one statement, executed for every row of a batch.
    Replayed samples hit the unique constraint and are skipped."""
    if not rows:
        return
    ops = connection.ops
    ignore = OnConflict.IGNORE
    by_column = {field.column: field for field in MeterSample._meta.concrete_fields}
    fields = [by_column[column] for column in _SAMPLE_COLUMNS]
    sql = (
        f"{ops.insert_statement(on_conflict=ignore)} {ops.quote_name(MeterSample._meta.db_table)} "
        f"({', '.join(ops.quote_name(c) for c in _SAMPLE_COLUMNS)}) "
        f"VALUES ({', '.join(['%s'] * len(_SAMPLE_COLUMNS))}) "
        f"{ops.on_conflict_suffix_sql(fields, ignore, None, None)}"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def session_energy_so_far_wh(*, session: ChargingSession) -> int | None:
    """Final energy for a stopped session; the latest register reading for a running one."""
    if session.energy_wh is not None:
        return session.energy_wh
    readings = [
        EnergyReading(value=v, unit=u, phase=p)
        for v, u, p in session.samples.filter(measurand=ENERGY_REGISTER, value__isnull=False).values_list(
            "value", "unit", "phase"
        )
    ]
    return session_energy_wh(
        meter_start_wh=session.meter_start_wh, meter_stop_wh=session.meter_stop_wh, register_readings=readings
    )
