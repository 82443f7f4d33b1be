"""Writes about charging sessions and meter samples. Replays from a charger that was offline
are normal: every function here is idempotent."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.constants import OnConflict
from django.db.models.functions import Greatest

from chargers.link import REMOTE_ID_TAG
from chargers.models import Charger, ChargerCommand, ChargerEvent, IdTag
from chargers.services import charger_event_record, id_tag_info
from energy.tou import CarNeed
from sessions import ledger
from sessions.accounting import ENERGY_REGISTER, EnergyReading, session_energy_wh
from sessions.billing import session_account
from sessions.measurands import in_base_unit
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


# --- OCPP 2.0.1: TransactionEvent (the rules are sessions/ledger.py's) -------------------------

# What a 2.0.1 idToken longer than an ID tag's column is answered: it cannot be registered.
TOKEN_TOO_LONG_STATUS = "Unknown"


@dataclass(frozen=True)
class TransactionEventData:
    """One OCPP 2.0.1 TransactionEvent, checked. timestamp is the time to use; charger_timestamp
    the station's own when it was off the server's clock (as session_start's)."""

    event_type: str
    charger_transaction_id: str
    seq_no: int
    timestamp: dt.datetime
    trigger_reason: str
    charger_timestamp: dt.datetime | None = None
    offline: bool = False
    evse_id: int | None = None
    id_token: str = ""
    charging_state: str = ""
    stopped_reason: str = ""
    number_of_phases_used: int | None = None
    remote_start_id: int | None = None
    reservation_id: int | None = None
    samples: list[SampleData] = field(default_factory=list)
    rejected: list[RejectedSampleData] = field(default_factory=list)


@dataclass(frozen=True)
class TransactionEventResult:
    session_pk: int
    connector_id: int
    created: bool
    closed: bool
    running: bool  # the session is open: energy control reads its samples
    charging_state_changed: bool
    id_token_info: dict | None


def id_tag_spelling(id_token: str, known: Iterable[str]) -> str:
    """The ID tag a 2.0.1 idToken names. OCPP 2.0.1 makes an idToken case-insensitive, whatever
    its type (IdTokenType): one reader sends a card's hex UID as "04A2B3C4", another as
    "04a2b3c4". The tag spelt exactly so wins, then the first spelt otherwise; a token matching
    none is new and keeps its spelling. 1.6's idTag stays an exact match (id_tag_info)."""
    known = list(known)
    if id_token in known:
        return id_token
    folded = id_token.casefold()
    return next((tag for tag in known if tag.casefold() == folded), id_token)


def id_token_info(*, charger_pk: int, id_token: str) -> dict | None:
    """A 2.0.1 idToken checked by the ID tag rules (id_tag_info), matched without regard to
    case (id_tag_spelling); None without a token."""
    if not id_token:
        return None
    if len(id_token) > IdTag._meta.get_field("id_tag").max_length:
        return {"status": TOKEN_TOO_LONG_STATUS}
    stored = IdTag.objects.filter(id_tag__iexact=id_token).order_by("pk").values_list("id_tag", flat=True)
    return id_tag_info(charger_pk=charger_pk, id_tag=id_tag_spelling(id_token, [REMOTE_ID_TAG, *stored]))


def transaction_events_store_many(events: list[tuple[int, TransactionEventData]]) -> list[TransactionEventResult]:
    """(charger pk, event) pairs of many stations in one transaction (the group commit of the hot
    path, as 1.6's MeterValues): each applied by transaction_event_store's rules, in order, their
    sessions read (and locked) in one query. One event failing fails the batch, which the group
    commit then writes event by event."""
    with transaction.atomic():
        known = _sessions_of_transactions({(charger_pk, event.charger_transaction_id) for charger_pk, event in events})
        return [
            transaction_event_store(charger_pk=charger_pk, event=event, known=known) for charger_pk, event in events
        ]


def transaction_event_store(
    *, charger_pk: int, event: TransactionEventData, known: dict[tuple[int, str], ChargingSession] | None = None
) -> TransactionEventResult:
    """Apply one TransactionEvent to its session: made, updated or closed by the ledger's rules,
    its samples stored once however often it is replayed. `known`: the sessions already read
    by (charger pk, transactionId), kept up to date as sessions are made."""
    info = id_token_info(charger_pk=charger_pk, id_token=event.id_token)
    key = (charger_pk, event.charger_transaction_id)
    # Inside a batch the batch's transaction is the event's: no savepoint per event.
    with transaction.atomic(savepoint=False):
        session = known.get(key) if known is not None else _session_of_transaction(*key)
        created = False
        if session is None:
            try:
                with transaction.atomic():
                    session = _transaction_session_create(charger_pk, event)
                created = True
            except IntegrityError:
                # The same event, replayed on another connection at the same moment.
                session = _session_of_transaction(*key)
                if session is None:
                    raise
            if known is not None:
                known[key] = session
        entry = (
            None
            if created
            else ledger.LedgerEntry(
                last_seq_no=session.last_seq_no or 0,
                ended_seq_no=session.ended_seq_no,
                start_unseen=session.start_unseen,
            )
        )
        outcome = ledger.event_outcome(entry, event_type=event.event_type, seq_no=event.seq_no)
        if outcome.store_samples:
            _samples_insert(
                _sample_rows(
                    charger_pk=charger_pk,
                    connector_id=session.connector_id,
                    session_pk=session.pk,
                    reported_transaction_id=None,
                    samples=event.samples,
                )
            )
            _rejected_insert(
                charger_pk=charger_pk,
                connector_id=session.connector_id,
                reported_transaction_id=None,
                rejected=event.rejected,
            )
        state_before = "" if created else session.charging_state
        if not created:
            _transaction_session_update(session, event, outcome)
        if outcome.close:
            _transaction_session_close(session, event)
        elif session.ended_seq_no is not None and outcome.store_samples and event.samples:
            _transaction_session_account(session)  # an event from before the Ended, delivered after it
    return TransactionEventResult(
        session_pk=session.pk,
        connector_id=session.connector_id,
        created=created,
        closed=outcome.close,
        running=session.stopped_at is None,
        charging_state_changed=session.charging_state != state_before,
        id_token_info=info,
    )


def _sessions_of_transactions(keys: set[tuple[int, str]]) -> dict[tuple[int, str], ChargingSession]:
    """The sessions of many (charger pk, transactionId) pairs, locked, in one query."""
    rows = ChargingSession.objects.select_for_update().filter(
        charger_id__in={charger_pk for charger_pk, _ in keys},
        charger_transaction_id__in={transaction_id for _, transaction_id in keys},
    )
    return {
        (s.charger_id, s.charger_transaction_id): s for s in rows if (s.charger_id, s.charger_transaction_id) in keys
    }


def _session_of_transaction(charger_pk: int, charger_transaction_id: str) -> ChargingSession | None:
    return (
        ChargingSession.objects.select_for_update()
        .filter(charger_id=charger_pk, charger_transaction_id=charger_transaction_id)
        .first()
    )


def _transaction_session_create(charger_pk: int, event: TransactionEventData) -> ChargingSession:
    """A transaction's first event seen makes its session (flagged unless it is the Started),
    and closes the sessions still open on its EVSE that started before it. Without an evse
    (never sent after the first event) the session is put on EVSE 1, as for 1.6's unknown stops."""
    session = ChargingSession.objects.create(
        charger_id=charger_pk,
        connector_id=event.evse_id or 1,
        charger_transaction_id=event.charger_transaction_id,
        started_at=event.timestamp,
        charger_started_at=event.charger_timestamp,
        start_unseen=event.event_type != ledger.STARTED,
        id_tag=event.id_token,
        id_tag_ref_id=_id_tag_pk(event.id_token) if event.id_token else None,
        # Only a Started's register is the start's; the register samples' span tells otherwise.
        meter_start_wh=_register_wh(event.samples, at_end=False) if event.event_type == ledger.STARTED else None,
        reservation_id=event.reservation_id,
        last_seq_no=event.seq_no,
        offline_events=event.offline,
        trigger_reason=event.trigger_reason,
        charging_state=event.charging_state,
        number_of_phases_used=event.number_of_phases_used,
        remote_start_id=event.remote_start_id,
    )
    ChargingSession.objects.filter(
        charger_id=charger_pk,
        connector_id=session.connector_id,
        stopped_at__isnull=True,
        started_at__lte=session.started_at,
    ).exclude(pk=session.pk).update(stopped_at=session.started_at, stop_reason=SUPERSEDED)
    return session


def _transaction_session_update(
    session: ChargingSession, event: TransactionEventData, outcome: ledger.EventOutcome
) -> None:
    changed = set()
    if outcome.store_samples and event.offline and not session.offline_events:
        session.offline_events = True
        changed.add("offline_events")
    if outcome.update_state:
        session.last_seq_no = event.seq_no
        session.trigger_reason = event.trigger_reason
        changed |= {"last_seq_no", "trigger_reason"}
        for name in ("charging_state", "number_of_phases_used", "remote_start_id"):
            if getattr(event, name) not in ("", None):
                setattr(session, name, getattr(event, name))
                changed.add(name)
    if outcome.start_seen:
        if event.timestamp <= session.started_at:
            session.started_at, session.charger_started_at = event.timestamp, event.charger_timestamp
        session.start_unseen = False
        session.meter_start_wh = _register_wh(event.samples, at_end=False)
        changed |= {"started_at", "charger_started_at", "start_unseen", "meter_start_wh"}
    if event.id_token and not session.id_tag and outcome.store_samples:
        session.id_tag, session.id_tag_ref_id = event.id_token, _id_tag_pk(event.id_token)
        changed |= {"id_tag", "id_tag_ref"}
    if changed:
        session.save(update_fields=sorted(changed))


def _transaction_session_close(session: ChargingSession, event: TransactionEventData) -> None:
    """The Ended: its time, its register, then the session's energy, cost and solar share."""
    session.stopped_at = max(event.timestamp, session.started_at)
    session.charger_stopped_at = event.charger_timestamp
    session.meter_stop_wh = _register_wh(event.samples, at_end=True)
    session.stop_reason = event.stopped_reason or "Local"
    session.stop_id_tag = event.id_token
    session.ended_seq_no = event.seq_no
    session.save(
        update_fields=[
            "stopped_at",
            "charger_stopped_at",
            "meter_stop_wh",
            "stop_reason",
            "stop_id_tag",
            "ended_seq_no",
        ]
    )
    _transaction_session_account(session)


def _transaction_session_account(session: ChargingSession) -> None:
    """An ended session's energy from start to stop register (or the register samples' span when
    either is unknown), cost and solar share; again when late samples arrive."""
    readings = [
        EnergyReading(value=v, unit=u, phase=p)
        for v, u, p in session.samples.filter(measurand=ENERGY_REGISTER, value__isnull=False).values_list(
            "value", "unit", "phase"
        )
    ]
    session.energy_wh = session_energy_wh(
        meter_start_wh=session.meter_start_wh, meter_stop_wh=session.meter_stop_wh, register_readings=readings
    )
    session.save(update_fields=["energy_wh"])
    session_account(transaction_id=session.pk)


def _register_wh(samples: Iterable[SampleData], *, at_end: bool) -> int | None:
    """The whole meter's energy register among an event's samples: its first reading for a
    start, its last for a stop; None when the event carries none."""
    readings = [
        (sample.timestamp, in_base_unit(sample.value, sample.unit))
        for sample in samples
        if sample.measurand == ENERGY_REGISTER and not sample.phase and sample.value is not None
    ]
    if not readings:
        return None
    return round((max if at_end else min)(readings)[1])


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


# --- OCPP 2.0.1: what the car asked for, who asked for the start ----------------------------------


def ev_needs_store(
    *, charger_pk: int, evse_id: int, departure_at: dt.datetime | None, energy_wh: int | None
) -> int | None:
    """The car's departure time and energy need (NotifyEVChargingNeeds) on the session running
    on its EVSE: energy control's target for that charger (energy.tou.charger_target). The car's
    latest notice is what it needs now, both values together. None when no session runs there."""
    session_pk = (
        ChargingSession.objects.filter(charger_id=charger_pk, connector_id=evse_id, stopped_at__isnull=True)
        .order_by("-started_at", "-transaction_id")
        .values_list("pk", flat=True)
        .first()
    )
    if session_pk is not None:
        ChargingSession.objects.filter(pk=session_pk).update(ev_departure_at=departure_at, ev_energy_wh=energy_wh)
    return session_pk


def running_car_needs(*, charger_pks: list[int]) -> dict[int, list[CarNeed]]:
    """Per charger, what the cars of its running sessions told they need, with the energy each
    session delivered so far; chargers whose cars told nothing are left out."""
    sessions = ChargingSession.objects.filter(charger_id__in=charger_pks, stopped_at__isnull=True).filter(
        Q(ev_departure_at__isnull=False) | Q(ev_energy_wh__isnull=False)
    )
    needs: dict[int, list[CarNeed]] = {}
    for session in sessions:
        needs.setdefault(session.charger_id, []).append(
            CarNeed(
                departure_at=session.ev_departure_at,
                energy_wh=session.ev_energy_wh,
                delivered_wh=session_energy_so_far_wh(session=session) or 0,
            )
        )
    return needs


def running_delivered_wh(*, charger_pks: list[int]) -> dict[int, float]:
    """Per charger, the energy its running sessions delivered so far: what an owner's target
    ("20 kWh by 07:00") still needs is the target less this."""
    delivered: dict[int, float] = {}
    for session in ChargingSession.objects.filter(charger_id__in=charger_pks, stopped_at__isnull=True):
        delivered[session.charger_id] = delivered.get(session.charger_id, 0.0) + (
            session_energy_so_far_wh(session=session) or 0
        )
    return delivered


def session_start_request(*, session: ChargingSession) -> ChargerCommand | None:
    """The RequestStartTransaction that started a 2.0.1 session: the one to its charger whose
    remoteStartId the station's TransactionEvent carried back (chargers.protocols.ocpp201.start)."""
    if session.remote_start_id is None:
        return None
    return (
        ChargerCommand.objects.filter(
            charger_id=session.charger_id,
            action="RequestStartTransaction",
            payload__remoteStartId=session.remote_start_id,
        )
        .order_by("-created_at", "-id")
        .first()
    )
