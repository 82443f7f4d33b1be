"""Where a process's charger events go is chosen once at start-up, from settings, and held by
ChargersConfig (chargers/apps.py): nowhere with MQTT off or the bridge in this process (until
it runs and takes them), over the channel layer when the bridge is a process of its own."""

import asyncio

import pytest
from channels.layers import get_channel_layer
from django.apps import apps

from chargers import events


@pytest.fixture
def started_sink():
    """The sink the test process started with, put back afterwards."""
    config = apps.get_app_config("chargers")
    sink = config.event_sink
    yield sink
    config.event_sink = sink


def test_the_test_process_starts_with_nobody_listening(started_sink):
    assert started_sink is None  # MQTT_URL is unset


def test_a_bridge_in_this_process_takes_the_events_while_it_runs(started_sink):
    received = []
    events.set_sink(received.append)  # what the bridge does when it runs
    events.charger_changed(charger_pk=7)
    events.set_sink(None)  # ... and when it stops
    events.charger_changed(charger_pk=8)
    assert received == [{"type": events.EVENT_TYPE, "kind": "charger", "charger_pk": 7}]


@pytest.mark.parametrize(
    ("mqtt_url", "embedded", "over_the_channel_layer"),
    [("", True, False), ("", False, False), ("mqtt://broker:1883", True, False), ("mqtt://broker:1883", False, True)],
)
def test_the_sink_chosen_from_settings(settings, mqtt_url, embedded, over_the_channel_layer):
    settings.MQTT_URL, settings.MQTT_EMBEDDED = mqtt_url, embedded
    assert (events.sink_from_settings() is not None) == over_the_channel_layer


async def test_scaled_out_an_event_reaches_the_bridge_process_group(settings, started_sink):
    settings.MQTT_URL, settings.MQTT_EMBEDDED = "mqtt://broker:1883", False
    layer = get_channel_layer()
    bridge_channel = await layer.new_channel("mqtt-bridge.")
    await layer.group_add(events.GROUP, bridge_channel)
    events.set_sink(events.sink_from_settings())
    events.charger_changed(charger_pk=7)  # from the server's loop: queued, then forwarded
    message = await asyncio.wait_for(layer.receive(bridge_channel), 5)
    assert message == {"type": events.EVENT_TYPE, "kind": "charger", "charger_pk": 7}
