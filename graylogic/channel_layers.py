"""The embedded default's channel layer."""

import time

from channels.layers import InMemoryChannelLayer


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
