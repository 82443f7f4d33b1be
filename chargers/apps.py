from django.apps import AppConfig
from django.utils.module_loading import import_string

from chargers import events

# Django imports this module before any model, and the door and the hot path's writes reach
# models: so they are named by their path, as energy/apps.py names its runtime.
DOOR = "chargers.door.Door"
HOT_PATH_WRITES = "chargers.ocpp.writes.HotPathWrites"


class ChargersConfig(AppConfig):
    name = "chargers"
    verbose_name = "Chargers"
    # Where this process's charger events go (chargers/events.py): chosen once from settings;
    # an MQTT bridge running in this process takes them while it runs (events.set_sink).
    event_sink: events.Sink | None

    def ready(self) -> None:
        self.event_sink = events.sink_from_settings()
        # Every handshake's door (chargers/door.py): failures throttled, refusals counted.
        self.door = import_string(DOOR)()
        # The process's batched writes of meter values, last-seen and heartbeat times
        # (chargers/ocpp/writes.py::HotPathWrites), drained by `serve` at shutdown.
        self.hot_path_writes = import_string(HOT_PATH_WRITES)()
