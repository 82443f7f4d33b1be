"""What happened to a charger, for whoever listens: the MQTT bridge.

The OCPP handlers and the services call these after they have stored something. With MQTT
off each call costs one check. With the bridge in this process (the embedded default) the
event goes straight to it; when the bridge runs as its own process (`manage.py mqtt_bridge`,
scaled out) the event goes over the channel layer to the group that process reads.
The sink is the process's, held by ChargersConfig: chosen at start-up, taken by a bridge here.
Events carry plain JSON-able values only, so they survive the channel layer.
"""

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.apps import apps
from django.conf import settings

from graylogic.datetimes import iso_utc

logger = logging.getLogger(__name__)

GROUP = "mqtt.events"
EVENT_TYPE = "mqtt.event"

Sink = Callable[[dict], None]


def sink_from_settings() -> Sink | None:
    """The sink this process starts with (ChargersConfig.ready()). Scaled out, every server
    process and Celery worker forwards to the bridge process; otherwise nobody listens until
    a bridge runs here."""
    return _ChannelLayerSink() if settings.MQTT_URL and not settings.MQTT_EMBEDDED else None


def set_sink(sink: Sink | None) -> None:
    """The bridge in this process takes the events (None: nobody listens here)."""
    apps.get_app_config("chargers").event_sink = sink


def _current_sink() -> Sink | None:
    return apps.get_app_config("chargers").event_sink


def charger_changed(*, charger_pk: int) -> None:
    """Something in the charger's published state may have changed: connection, boot info,
    a connector's status, its limit."""
    sink = _current_sink()
    if sink is not None:
        sink({"type": EVENT_TYPE, "kind": "charger", "charger_pk": charger_pk})


def transaction_started(
    *,
    charger_pk: int,
    charge_point_id: str,
    transaction_id: int,
    connector_id: int,
    id_tag: str,
    meter_start_wh: int,
    timestamp: dt.datetime,
) -> None:
    sink = _current_sink()
    if sink is not None:
        sink(
            {
                "type": EVENT_TYPE,
                "kind": "transaction",
                "event": "started",
                "charger_pk": charger_pk,
                "charge_point_id": charge_point_id,
                "transaction_id": transaction_id,
                "connector_id": connector_id,
                "id_tag": id_tag,
                "meter_start_wh": meter_start_wh,
                "timestamp": iso_utc(timestamp),
            }
        )


def transaction_stopped(
    *,
    charger_pk: int,
    charge_point_id: str,
    transaction_id: int,
    meter_stop_wh: int,
    timestamp: dt.datetime,
    reason: str,
    id_tag: str,
) -> None:
    sink = _current_sink()
    if sink is not None:
        sink(
            {
                "type": EVENT_TYPE,
                "kind": "transaction",
                "event": "stopped",
                "charger_pk": charger_pk,
                "charge_point_id": charge_point_id,
                "transaction_id": transaction_id,
                "meter_stop_wh": meter_stop_wh,
                "timestamp": iso_utc(timestamp),
                "reason": reason,
                "id_tag": id_tag,
            }
        )


def meter_values(
    *,
    charger_pk: int,
    charge_point_id: str,
    connector_id: int,
    transaction_id: int | None,
    samples: Iterable,
) -> None:
    """One MeterValues message (samples: sessions.services.SampleData), as sets by timestamp."""
    sink = _current_sink()
    if sink is None:
        return
    sets: dict[str, list[dict]] = {}
    for sample in samples:
        if sample.value is None:  # signed data only: nothing to show
            continue
        sets.setdefault(iso_utc(sample.timestamp), []).append(
            {
                "measurand": sample.measurand,
                "value": sample.value,
                "unit": sample.unit,
                "phase": sample.phase,
                "context": sample.context,
                "location": sample.location,
            }
        )
    if sets:
        sink(
            {
                "type": EVENT_TYPE,
                "kind": "meter",
                "charger_pk": charger_pk,
                "charge_point_id": charge_point_id,
                "connector_id": connector_id,
                "transaction_id": transaction_id,
                "sets": [{"timestamp": at, "sampled_value": values} for at, values in sets.items()],
            }
        )


class _ChannelLayerSink:
    """Events to the bridge process over the channel layer. In an event loop (the OCPP
    handlers) they queue for one forwarding task, so the handler never waits on Redis and the
    order is kept; sync code (a worker thread, a Celery task) sends them at once."""

    MAX_BACKLOG = 10_000

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[dict] | None = None
        self._task: asyncio.Task | None = None
        self._dropped = 0

    def __call__(self, event: dict) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            try:
                async_to_sync(_group_send)(event)
            except Exception as error:
                logger.warning("MQTT event not sent to the bridge: %s", error)
            return
        if self._loop is not loop or self._queue is None:
            self._loop, self._queue = loop, asyncio.Queue(self.MAX_BACKLOG)
            self._task = loop.create_task(self._forward(self._queue))
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._dropped += 1
            if self._dropped % 1000 == 1:
                logger.warning("MQTT events dropped: the channel layer is not keeping up (%d so far)", self._dropped)

    async def _forward(self, queue: asyncio.Queue[dict]) -> None:
        while True:
            event = await queue.get()
            try:
                await _group_send(event)
            except Exception as error:
                logger.warning("MQTT event not sent to the bridge: %s", error)


async def _group_send(event: dict) -> None:
    await get_channel_layer().group_send(GROUP, event)
