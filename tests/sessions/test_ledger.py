"""The rules by which OCPP 2.0.1 TransactionEvents make, update and close a session
(sessions/ledger.py), without a database."""

import pytest

from sessions.ledger import ENDED, NOTHING, STARTED, UPDATED, EventOutcome, LedgerEntry, event_outcome


def entry(last_seq_no: int, *, ended_seq_no: int | None = None, start_unseen: bool = False) -> LedgerEntry:
    return LedgerEntry(last_seq_no=last_seq_no, ended_seq_no=ended_seq_no, start_unseen=start_unseen)


NEW = EventOutcome(create=True, store_samples=True, update_state=True)
NEWER = EventOutcome(store_samples=True, update_state=True)
OLDER = EventOutcome(store_samples=True)


@pytest.mark.parametrize(
    ("session", "event_type", "seq_no", "outcome"),
    [
        # The first event of a transaction makes its session, whatever it is.
        (None, STARTED, 0, NEW),
        (None, UPDATED, 7, NEW),  # an Updated for a transaction never seen: made, flagged by the caller
        (None, ENDED, 9, EventOutcome(create=True, store_samples=True, update_state=True, close=True)),
        # Newer events update the state; their samples are stored.
        (entry(0), UPDATED, 1, NEWER),
        (entry(3), UPDATED, 10, NEWER),  # a gap (events lost) changes nothing to the rule
        (entry(1), ENDED, 2, EventOutcome(store_samples=True, update_state=True, close=True)),
        # A duplicate or a late event: its samples (stored once by their key), not its state.
        (entry(2), UPDATED, 2, OLDER),
        (entry(5), UPDATED, 3, OLDER),
        (entry(5), STARTED, 0, OLDER),
        # An Ended arriving before a late Updated still closes the session.
        (entry(5), ENDED, 4, EventOutcome(store_samples=True, close=True)),
        # Ended is final: nothing after it, nor a second Ended, changes anything.
        (entry(2, ended_seq_no=2), UPDATED, 3, NOTHING),
        (entry(2, ended_seq_no=2), ENDED, 2, NOTHING),
        (entry(2, ended_seq_no=2), ENDED, 5, NOTHING),
        (entry(2, ended_seq_no=2), STARTED, 2, NOTHING),
        # ...but an event numbered before the Ended, delivered late, keeps its samples.
        (entry(3, ended_seq_no=3), UPDATED, 1, OLDER),
        # A Started arriving after the session was made without it corrects the start.
        (entry(4, start_unseen=True), STARTED, 0, EventOutcome(store_samples=True, start_seen=True)),
        (entry(4, start_unseen=False), STARTED, 0, OLDER),
    ],
)
def test_an_events_outcome_follows_the_ledger_rules(session, event_type, seq_no, outcome):
    assert event_outcome(session, event_type=event_type, seq_no=seq_no) == outcome
