"""The channel layers: in memory for the embedded default, Redis for several processes."""

import time

from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from redis.asyncio import BlockingConnectionPool


class EmbeddedChannelLayer(InMemoryChannelLayer):
    """channels' in-memory layer walks every channel and group membership on each receive and
    group_send: O(connections) per message and O(connections²) for a reconnect storm. Its
    expiries are a minute (messages) and a day (groups), so a walk once a second is plenty."""

    clean_every_s = 1.0
    _cleaned_at = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._cleaned_at >= self.clean_every_s:
            self._cleaned_at = now
            super()._clean_expired()


class RedisPoolChannelLayer(RedisChannelLayer):
    """redis-py's asyncio pool refuses an operation beyond its 100 connections ("Too many
    connections") rather than waiting: a few hundred chargers connecting at once made that many
    group_add/group_send calls in flight and some of their handshakes failed with HTTP 500.
    A blocking pool queues them for a free connection instead."""

    pool_wait_s = 10

    def create_pool(self, index: int) -> BlockingConnectionPool:
        host = dict(self.hosts[index])
        return BlockingConnectionPool.from_url(host.pop("address"), timeout=self.pool_wait_s, **host)


def redis_channel_layers(redis_url: str) -> dict:
    """CHANNEL_LAYERS for server processes sharing one Redis (settings.py, and tests)."""
    return {
        "default": {
            "BACKEND": "graylogic.channel_layers.RedisPoolChannelLayer",
            # redis-py 8 times reads out after 5 s, exactly channels-redis' blocking-read
            # timeout: without more room every idle consumer dies with "Timeout reading".
            "CONFIG": {"hosts": [{"address": redis_url, "socket_timeout": 30}]},
        }
    }
