"""What an OCPP 2.0.1 TransactionEvent does to its session (pure: data in, data out).

A station allocates its own transactionId and numbers every event of a transaction (seqNo
from 0). Offline, it queues events and replays them later with their true timestamps, possibly
twice and out of order. The rules:

- one session per (charger, transactionId): the first event seen creates it;
- an Updated or Ended for a transaction never seen is answered and recorded: it creates the
  session as started at its own time, flagged (start_unseen), until a late Started corrects it;
- an event's seqNo at or below the newest applied one changes no state (a duplicate or a late
  one), but its meter values are stored: samples are de-duplicated by their own key;
- Ended is final: an event numbered after the Ended changes nothing, samples included, and a
  second Ended is a duplicate;
- the EVSE, sent only in a transaction's first event, is kept on the session (its connector).
"""

from dataclasses import dataclass

STARTED, UPDATED, ENDED = "Started", "Updated", "Ended"


@dataclass(frozen=True)
class LedgerEntry:
    """What the ledger needs of a stored session."""

    last_seq_no: int
    ended_seq_no: int | None
    start_unseen: bool


@dataclass(frozen=True)
class EventOutcome:
    create: bool = False  # no session yet: make one
    store_samples: bool = False
    update_state: bool = False  # chargingState, triggerReason, phases, seqNo: the newest event's
    close: bool = False
    start_seen: bool = False  # a Started after the session was made without one: it corrects the start


NOTHING = EventOutcome()


def event_outcome(entry: LedgerEntry | None, *, event_type: str, seq_no: int) -> EventOutcome:
    """What one event does, given its session (None when the transaction is new)."""
    if entry is None:
        return EventOutcome(create=True, store_samples=True, update_state=True, close=event_type == ENDED)
    if entry.ended_seq_no is not None and (seq_no >= entry.ended_seq_no or event_type == ENDED):
        return NOTHING
    newer = seq_no > entry.last_seq_no
    return EventOutcome(
        store_samples=True,
        update_state=newer,
        close=event_type == ENDED,
        start_seen=event_type == STARTED and entry.start_unseen,
    )
