"""The channel layers: in memory for the embedded default, Redis for several processes. Both
are library patches (graylogic/runtime/channel_layers.py)."""


def redis_channel_layers(redis_url: str) -> dict:
    """CHANNEL_LAYERS for server processes sharing one Redis (settings.py, and tests)."""
    return {
        "default": {
            "BACKEND": "graylogic.runtime.channel_layers.RedisPoolChannelLayer",
            # redis-py 8 times reads out after 5 s, exactly channels-redis' blocking-read
            # timeout: without more room every idle consumer dies with "Timeout reading".
            "CONFIG": {"hosts": [{"address": redis_url, "socket_timeout": 30}]},
        }
    }
