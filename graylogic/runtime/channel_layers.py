"""channels' in-memory layer and channels-redis' layer, patched for thousands of connections."""

import time

from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from redis.asyncio import BlockingConnectionPool

from graylogic.runtime.upstream import Upstream

# EmbeddedChannelLayer wraps InMemoryChannelLayer._clean_expired (channels 4.3.2), which receive
# and group_send call every time: its walk over every channel and group was 19 % of the event
# loop's samples at 5,000 chargers (bench/README.md, "Where the time goes"; 77a371f).
EMBEDDED_UPSTREAM = (Upstream("channels.layers.InMemoryChannelLayer._clean_expired", "604032dae1cc01d2"),)


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


# RedisPoolChannelLayer replaces RedisChannelLayer.create_pool (channels-redis 4.3.0), whose
# channels_redis.utils.create_pool makes a pool that refuses an operation beyond 100
# connections: 301 of 400 chargers connecting at once lost their handshakes, 0 with a blocking
# pool (29f142f, bench/README.md). It reads the host as decode_hosts leaves it ("address").
REDIS_UPSTREAM = (
    Upstream("channels_redis.core.RedisChannelLayer.create_pool", "078b4e157f6e27bc"),
    Upstream("channels_redis.utils.create_pool", "c706feb32b834078"),
    Upstream("channels_redis.utils.decode_hosts", "012afe3ce1b8e8a5"),
)


class RedisPoolChannelLayer(RedisChannelLayer):
    """redis-py's asyncio pool refuses an operation beyond its 100 connections ("Too many
    connections") rather than waiting: a few hundred chargers connecting at once made that many
    group_add/group_send calls in flight and some of their handshakes failed with HTTP 500.
    A blocking pool queues them for a free connection instead."""

    pool_wait_s = 10

    def create_pool(self, index: int) -> BlockingConnectionPool:
        host = dict(self.hosts[index])
        return BlockingConnectionPool.from_url(host.pop("address"), timeout=self.pool_wait_s, **host)


UPSTREAM = (*EMBEDDED_UPSTREAM, *REDIS_UPSTREAM)
