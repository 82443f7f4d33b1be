"""When a charger's timestamp is believed (pure: data in, data out).

A charger whose clock reset reports 1970 or its firmware's build date; one whose clock ran
ahead reports the future. Believing them broke pages (year 1), stalled accounting (a 1970
start) and hid the open session (a start ahead). A timestamp off the server's clock is kept
beside the server's receive time, which is used instead (docs/charger-data.md)."""

import datetime as dt

# A charger's clock may run this far ahead of ours before it is called wrong.
MAX_AHEAD = dt.timedelta(minutes=5)
# An offline charger replays what it queued, with its true timestamps: a year covers any
# queue a charger holds, and bounds what a session's span can cost to account.
MAX_BEHIND = dt.timedelta(days=366)


def charger_time_believable(timestamp: dt.datetime, *, received_at: dt.datetime) -> bool:
    return received_at - MAX_BEHIND <= timestamp <= received_at + MAX_AHEAD


def server_time_if_off(timestamp: dt.datetime, *, received_at: dt.datetime) -> tuple[dt.datetime, dt.datetime | None]:
    """(the time to use, the charger's time to keep beside it, if it was not believable)."""
    if charger_time_believable(timestamp, received_at=received_at):
        return timestamp, None
    return received_at, timestamp
