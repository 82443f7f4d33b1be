"""What "healthy" means for a load balancer: this node can serve a charger. That needs the
database and the channel layer (a charger's handshake joins a group on it), and the MQTT
broker when this process runs the bridge. A node whose Redis was down answered 200 while
every charger handshake failed, so each dependency is really asked, with a short timeout."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection

from graylogic.outages import OutageLog

logger = logging.getLogger(__name__)

# Each check gets this long: a load balancer polls every few seconds and must get an answer.
CHECK_TIMEOUT_S = 2.0


def _database_answers() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def database_check() -> None:
    await sync_to_async(_database_answers)()


async def channel_layer_check() -> None:
    """A message sent to a fresh channel of this process comes back: the layer carries messages."""
    layer = get_channel_layer()
    channel = await layer.new_channel("health.")
    await layer.send(channel, {"type": "health.ping"})
    message = await layer.receive(channel)
    if message.get("type") != "health.ping":
        raise RuntimeError(f"unexpected message {message!r}")


def mqtt_check(is_connected: Callable[[], bool]) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        if not is_connected():
            raise RuntimeError("not connected to the broker")

    return check


async def health_failures(
    checks: dict[str, Callable[[], Awaitable[None]]], outage_logs: dict[str, OutageLog]
) -> dict[str, str]:
    """Run the checks at once; what failed, by name, with the kind of error (empty when healthy).
    The answer is public, so the details (hosts, ports) go to the log only, through each check's
    outage log (the process's, by name: GraylogicConfig.health_outage_logs)."""

    async def run(name: str, check: Callable[[], Awaitable[None]]) -> str | None:
        outage = outage_logs.setdefault(name, OutageLog(logger, f"health check: {name}"))
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
        except TimeoutError as error:
            outage.failed(error if str(error) else TimeoutError(f"no answer within {CHECK_TIMEOUT_S:g} s"))
            return "timeout"
        except Exception as error:
            outage.failed(error)
            return type(error).__name__
        outage.recovered()
        return None

    outcomes = await asyncio.gather(*(run(name, check) for name, check in checks.items()))
    return {name: outcome for name, outcome in zip(checks, outcomes, strict=True) if outcome is not None}
