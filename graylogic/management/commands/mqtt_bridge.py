"""`manage.py mqtt_bridge`: the MQTT bridge as its own process, for a scaled-out deployment.

The servers and Celery workers send charger events over the channel layer (Redis); this
process publishes them and carries out MQTT commands through the same channel layer. Run
exactly one. In the embedded default (no REDIS_URL) the server runs the bridge itself.
"""

import asyncio
import signal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from integrations.mqtt.bridge import MqttBridge
from integrations.mqtt.config import mqtt_config


class Command(BaseCommand):
    help = "Run the MQTT bridge as its own process (scaled out, with REDIS_URL)."

    def handle(self, *args, **options) -> None:
        if not settings.MQTT_URL:
            raise CommandError("MQTT_URL is not set")
        if not settings.REDIS_URL or settings.MQTT_EMBEDDED:
            raise CommandError(
                "the server runs the MQTT bridge itself here (no REDIS_URL, or MQTT_EMBEDDED=true): "
                "a separate bridge needs REDIS_URL to receive the servers' events and reach their chargers"
            )
        try:
            config = mqtt_config()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        asyncio.run(self._run(config))

    async def _run(self, config) -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await MqttBridge(config).run(read_channel_layer=True)
        except asyncio.CancelledError:
            self.stdout.write("MQTT bridge stopped")
