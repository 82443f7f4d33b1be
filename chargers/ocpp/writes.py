"""The hot path's writes, batched across all chargers of this process (graylogic/group_commit.py).
The process's are made once at start-up and held by ChargersConfig (chargers/apps.py)."""

from django.apps import apps

from chargers.services import chargers_heartbeat, chargers_touch
from graylogic.group_commit import GroupCommit, drain_all
from sessions.services import meter_values_store_many, transaction_events_store_many


class HotPathWrites:
    def __init__(self) -> None:
        self.meter_values = GroupCommit("meter values", meter_values_store_many)
        # OCPP 2.0.1 TransactionEvents: each answered with its session's outcome.
        self.transaction_events = GroupCommit("transaction events", transaction_events_store_many)
        # Each charger touches at most every TOUCH_EVERY_S (chargers/ocpp/base.py); gathering
        # them for a few seconds makes one UPDATE of hundreds out of hundreds of single ones.
        self.last_seen = GroupCommit("last seen", chargers_touch, linger_s=5)
        # A Heartbeat is answered at once; its time is kept within a second, for many chargers at once.
        self.heartbeats = GroupCommit("heartbeats", chargers_heartbeat, linger_s=1)

    async def drain(self) -> None:
        """At shutdown, before the event loop stops: everything still waiting is written."""
        await drain_all([self.meter_values, self.transaction_events, self.last_seen, self.heartbeats])


def hot_path_writes() -> HotPathWrites:
    """The process's, made at start-up (ChargersConfig.ready())."""
    return apps.get_app_config("chargers").hot_path_writes
