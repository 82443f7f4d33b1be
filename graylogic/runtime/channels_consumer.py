"""channels' consumer loop, replaced for a consumer that lives as long as a charger's connection."""

import asyncio
import functools

from channels.consumer import AsyncConsumer, get_handler_name
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer

from graylogic.runtime.upstream import Upstream

# InboxConsumer replaces these (channels 4.3.2):
# - AsyncConsumer.__call__, whose await_many_dispatch makes a task, a coroutine and futures for
#   every frame, alive until the charger's next frame seconds later, so at 10,000 chargers they
#   filled the garbage collector's older generations. Awaiting frames from the server's queue
#   instead: GC time 2.75 -> 1.6 s a minute at 2,000 chargers; P2 at 10,000, p99 806 -> 306 ms,
#   p50 13 -> 3.9 ms, CPU 90 -> 81 %, 33.9 -> 31.1 KB per connection (b4151b0, bench/README.md).
# - AsyncConsumer.dispatch, minus its close_old_connections() hop to the database thread before
#   every message (7 % of that thread's time in the closed loop; with the other hot-path work of
#   77a371f, 706 -> 2,571 MeterValues/s).
# It relies on AsyncConsumer.send sending through self.base_send, and on daphne's receive being
# the bound get() of the connection's input queue (graylogic.runtime.daphne_server.Server).
UPSTREAM = (
    Upstream("channels.consumer.AsyncConsumer.__call__", "e52238720872dbc3"),
    Upstream("channels.consumer.AsyncConsumer.dispatch", "39f34e7d4fb0f655"),
    Upstream("channels.consumer.AsyncConsumer.send", "bc80485d75ed3e04"),
    Upstream("channels.consumer.get_handler_name", "c88c7b7d8763fb61"),
)

# The message the forwarder puts in the inbox when the channel layer fails, with "error".
CHANNEL_LAYER_FAILED = "channel.layer.failed"


class InboxConsumer(AsyncConsumer):
    """A consumer that awaits its messages straight from the server's input queue (its inbox),
    into which one long-lived task also puts the channel layer's messages, so both are still
    handled one at a time. A failing channel layer arrives as a `channel.layer.failed` message
    holding the error: the consumer's channel_layer_failed decides what then."""

    async def __call__(self, scope, receive, send) -> None:
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
        self.base_send = send
        inbox = receive.__self__  # the server's queue of this connection's ASGI messages

        async def forward_channel_messages() -> None:
            try:
                while True:
                    inbox.put_nowait(await self.channel_receive())
            except Exception as error:
                inbox.put_nowait({"type": CHANNEL_LAYER_FAILED, "error": error})

        forwarder = asyncio.ensure_future(forward_channel_messages())
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            forwarder.cancel()

    async def dispatch(self, message: dict) -> None:
        """channels' dispatch, minus its close_old_connections() on the database thread before
        every message: such a consumer reaches the database only through database_sync_to_async
        and the group commit, which tidy up connections themselves."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
