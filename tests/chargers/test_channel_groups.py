"""Commands find a charger through its channel-layer group, whose membership expires
(group_expiry, a day by default): a charger connected for longer must still be reachable."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from chargers.commands import charger_group
from chargers.routing import websocket_urlpatterns
from graylogic.runtime.channel_layers import EmbeddedChannelLayer
from tests.factories import make_charger

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def short_group_expiry(settings):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "graylogic.runtime.channel_layers.EmbeddedChannelLayer", "CONFIG": {"group_expiry": 2}}
    }


async def test_a_charger_connected_longer_than_the_group_expiry_still_gets_messages(short_group_expiry):
    charger = await database_sync_to_async(make_charger)()
    communicator = WebsocketCommunicator(
        URLRouter(websocket_urlpatterns), f"/ocpp/{charger.charge_point_id}", subprotocols=["ocpp1.6"]
    )
    connected, _ = await communicator.connect()
    assert connected
    for n in range(8):  # 4 s of heartbeats: twice the group expiry
        await communicator.send_to(text_data=json.dumps([2, f"hb{n}", "Heartbeat", {}]))
        assert json.loads(await communicator.receive_from(5))[:2] == [3, f"hb{n}"]
        await asyncio.sleep(0.5)

    # What a newer connection of the same charger says: this one must hear it and step aside.
    await get_channel_layer().group_send(
        charger_group(charger.charge_point_id), {"type": "charger.replaced", "by": "a newer connection"}
    )

    assert (await communicator.receive_output(5))["type"] == "websocket.close"
    await communicator.disconnect()


class FailingChannelLayer(EmbeddedChannelLayer):
    async def receive(self, channel):
        await asyncio.sleep(0.2)
        raise ConnectionError("the channel layer went away")


@pytest.fixture
def failing_channel_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "tests.chargers.test_channel_groups.FailingChannelLayer"}}


async def test_a_consumer_whose_channel_layer_fails_closes_instead_of_going_deaf(failing_channel_layer):
    """Commands arrive through the channel layer: a consumer that could no longer hear them
    must not stay connected as if it could. It tells the charger to come back later (1013),
    to a node whose channel layer works."""
    charger = await database_sync_to_async(make_charger)()
    communicator = WebsocketCommunicator(
        URLRouter(websocket_urlpatterns), f"/ocpp/{charger.charge_point_id}", subprotocols=["ocpp1.6"]
    )
    connected, _ = await communicator.connect()
    assert connected

    assert await communicator.receive_output(5) == {"type": "websocket.close", "code": 1013}
