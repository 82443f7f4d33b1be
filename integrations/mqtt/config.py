"""The bridge's settings, checked once at start so a typo fails loudly, not silently."""

import os
import socket
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from energy.apis import READING_FIELDS
from integrations.mqtt.topics import TopicPattern

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
# A site's dynamic prices and solar forecast (JSON as the REST API's POST bodies).
PRICES_TOPIC = "{prefix}/site/{site}/prices"
SOLAR_FORECAST_TOPIC = "{prefix}/site/{site}/solar_forecast"
# A charger's owner controls, as Home Assistant names command topics.
MODE_SET, TARGET_SET = ("mode", "set"), ("target", "set")


@dataclass(frozen=True)
class MqttConfig:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None = field(repr=False)
    client_id: str
    prefix: str
    keepalive_s: int
    tls_ca_file: str
    readings: TopicPattern
    grid_level: TopicPattern
    prices: TopicPattern
    solar_forecast: TopicPattern
    # Plain-number topics of existing meters: topic -> reading field.
    reading_topics: dict[str, str] = field(default_factory=dict)
    site: str = ""
    ha_discovery: bool = True
    ha_discovery_prefix: str = "homeassistant"
    refresh_interval_s: int = 60

    @property
    def status_topic(self) -> str:
        return f"{self.prefix}/bridge/status"

    @property
    def errors_topic(self) -> str:
        return f"{self.prefix}/bridge/errors"

    def charger_topic(self, charge_point_id: str, *rest: str) -> str:
        return "/".join((self.prefix, "charger", charge_point_id, *rest))

    @property
    def command_filter(self) -> str:
        return f"{self.prefix}/charger/+/command"

    def subscriptions(self) -> list[str]:
        readings = self.readings.subscription
        return [
            self.command_filter,
            self.charger_topic("+", *MODE_SET),
            self.charger_topic("+", *TARGET_SET),
            self.prices.subscription,
            self.solar_forecast.subscription,
            readings,
            f"{readings}/+",  # one value per topic: .../readings/grid_w
            self.grid_level.subscription,
            *self.reading_topics,
        ]


def mqtt_config() -> MqttConfig:
    """MqttConfig from the settings; ImproperlyConfigured says what is wrong."""
    url = urlsplit(settings.MQTT_URL)
    if url.scheme not in DEFAULT_PORTS:
        raise ImproperlyConfigured(f"MQTT_URL must start with mqtt:// or mqtts://, got {url.scheme or 'nothing'}://")
    try:
        port = url.port or DEFAULT_PORTS[url.scheme]
    except ValueError as error:
        raise ImproperlyConfigured(f"MQTT_URL: {error}") from error
    if not url.hostname:
        raise ImproperlyConfigured("MQTT_URL names no host")
    prefix = settings.MQTT_PREFIX
    if not prefix or any(c in prefix for c in "+#\0"):
        raise ImproperlyConfigured("MQTT_PREFIX must be a topic without wildcards")
    unknown = set(settings.MQTT_READING_TOPICS) - set(READING_FIELDS)
    if unknown:
        raise ImproperlyConfigured(
            f"MQTT_READING_TOPICS: unknown field(s) {', '.join(sorted(unknown))}; use {', '.join(READING_FIELDS)}"
        )
    reading_topics = {topic: name for name, topic in settings.MQTT_READING_TOPICS.items()}
    if any("+" in topic or "#" in topic for topic in reading_topics):
        raise ImproperlyConfigured("MQTT_READING_TOPICS: name exact topics, without wildcards")
    client_id = settings.MQTT_CLIENT_ID or f"{prefix.replace('/', '-')}-bridge-{socket.gethostname()}-{os.getpid()}"
    return MqttConfig(
        host=url.hostname,
        port=port,
        tls=url.scheme == "mqtts",
        username=unquote(url.username) if url.username else None,
        password=unquote(url.password) if url.password else None,
        client_id=client_id,
        prefix=prefix,
        keepalive_s=settings.MQTT_KEEPALIVE_S,
        tls_ca_file=settings.MQTT_TLS_CA_FILE,
        readings=TopicPattern.parse(settings.MQTT_READINGS_TOPIC, prefix=prefix, setting="MQTT_READINGS_TOPIC"),
        grid_level=TopicPattern.parse(settings.MQTT_GRID_LEVEL_TOPIC, prefix=prefix, setting="MQTT_GRID_LEVEL_TOPIC"),
        prices=TopicPattern.parse(PRICES_TOPIC, prefix=prefix, setting="MQTT_PREFIX"),
        solar_forecast=TopicPattern.parse(SOLAR_FORECAST_TOPIC, prefix=prefix, setting="MQTT_PREFIX"),
        reading_topics=reading_topics,
        site=settings.MQTT_SITE,
        ha_discovery=settings.MQTT_HA_DISCOVERY,
        ha_discovery_prefix=settings.MQTT_HA_DISCOVERY_PREFIX,
        refresh_interval_s=max(5, settings.MQTT_REFRESH_INTERVAL_S),
    )
