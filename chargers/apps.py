from django.apps import AppConfig

from chargers import events


class ChargersConfig(AppConfig):
    name = "chargers"
    verbose_name = "Chargers"
    # Where this process's charger events go (chargers/events.py): chosen once from settings;
    # an MQTT bridge running in this process takes them while it runs (events.set_sink).
    event_sink: events.Sink | None

    def ready(self) -> None:
        self.event_sink = events.sink_from_settings()
