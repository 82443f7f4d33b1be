"""The hot path's writes, batched across all chargers of this process (graylogic/group_commit.py)."""

from chargers.services import chargers_heartbeat, chargers_touch
from graylogic.group_commit import GroupCommit
from sessions.services import meter_values_store_many

meter_values = GroupCommit("meter values", meter_values_store_many)
# Each charger touches at most every TOUCH_EVERY_S (chargers/ocpp/base.py); gathering them
# for a few seconds makes one UPDATE of hundreds out of hundreds of single ones.
last_seen = GroupCommit("last seen", chargers_touch, linger_s=5)
# A Heartbeat is answered at once; its time is kept within a second, for many chargers at once.
heartbeats = GroupCommit("heartbeats", chargers_heartbeat, linger_s=1)
