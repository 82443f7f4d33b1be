"""The bridge: one MQTT connection (paho, in its network thread) and an asyncio side that
takes charger events, publishes their topics and carries out what comes in.

It runs in an event loop: the server's (embedded default, so commands reach chargers
through the in-memory channel layer) or its own (`manage.py mqtt_bridge`, events arriving
over the channel layer). paho reconnects with backoff; on every (re)connection the bridge
subscribes again, says it is online and republishes every retained topic. Its last will
says it is offline.
"""

import asyncio
import collections
import contextlib
import json
import logging
import ssl

import paho.mqtt.client as paho
from channels.db import database_sync_to_async
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from django.utils import timezone
from paho.mqtt.enums import CallbackAPIVersion

from chargers import events
from energy.rebalance import rebalancer
from graylogic.datetimes import iso_utc
from graylogic.outages import DATABASE_ERRORS, database_outage
from integrations.mqtt import inbound, payloads
from integrations.mqtt.config import MODE_SET, TARGET_SET, MqttConfig
from integrations.mqtt.topics import Publication

logger = logging.getLogger("integrations.mqtt")

ONLINE, OFFLINE = "online", "offline"
# Held while the broker is away (QoS 1: transaction events, command results); more are dropped.
MAX_QUEUED_MESSAGES = 10_000
MAX_PENDING_EVENTS = 50_000
# Commands wait for chargers; this many run at once.
MAX_CONCURRENT_INBOUND = 8
# Messages waiting for those; each one of a flood beyond this is answered busy at once (a
# command on its result topic, anything else on the errors topic), never dropped in silence.
# Kept well under the broker's own queue per client (Mosquitto: 1,000), so that under a flood
# the bridge answers busy quickly rather than the broker dropping what the bridge cannot read.
MAX_PENDING_INBOUND = 200


def in_thread(function):
    """Run blocking ORM or command code in a worker thread, with fresh database connections."""
    return database_sync_to_async(function, thread_sensitive=False)


class MqttBridge:
    def __init__(self, config: MqttConfig):
        self.config = config
        self.loop: asyncio.AbstractEventLoop | None = None
        self.client = self._make_client()
        # Retained topics as last published (minus volatile keys): only changes go out.
        self._published: dict[str, str] = {}
        self._dirty: set[int] = set()
        self._refresh_all = False
        self._seen_transactions: collections.OrderedDict[tuple, None] = collections.OrderedDict()
        self._dropped_events = 0
        self._refused_busy = 0
        self._tasks: set[asyncio.Task] = set()
        # Per topic, the newest message's handling, which the next message on that topic waits
        # for: "now" then "off" on a mode/set topic ends "off", in MQTT's order, while other
        # topics go on beside it (two handled at once had left a car on "now").
        self._topic_tails: dict[str, asyncio.Future] = {}
        # Per charger, the half of a target Home Assistant sent before the other (inbound._target_set).
        self._held_targets: dict[str, dict] = {}
        # Chargers seen reporting a state of charge: they keep their SoC sensor between cars.
        self._soc_seen: set[int] = set()

    def _make_client(self) -> paho.Client:
        config = self.config
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=config.client_id,
            protocol=paho.MQTTv311,
            clean_session=True,
        )
        if config.username:
            client.username_pw_set(config.username, config.password)
        if config.tls:
            client.tls_set(ca_certs=config.tls_ca_file or None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.will_set(config.status_topic, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_queued_messages_set(MAX_QUEUED_MESSAGES)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    # --- lifecycle -----------------------------------------------------------------------

    async def run(self, *, read_channel_layer: bool = False) -> None:
        """Connect and work until cancelled; events of this process come straight in."""
        self.loop = asyncio.get_running_loop()
        self._events: asyncio.Queue[dict] = asyncio.Queue(MAX_PENDING_EVENTS)
        self._wake = asyncio.Event()
        self._inbound_slots = asyncio.Semaphore(MAX_CONCURRENT_INBOUND)
        events.set_sink(self.submit)
        logger.info(
            "MQTT bridge connecting to %s:%s as %s (prefix %s)",
            self.config.host,
            self.config.port,
            self.config.client_id,
            self.config.prefix,
        )
        self.client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        self.client.loop_start()
        workers = [self._process_events(), self._publish_states(), self._refresh_periodically()]
        if read_channel_layer:
            workers.append(self._read_channel_layer())
        try:
            await asyncio.gather(*workers)
        finally:
            events.set_sink(None)
            self.close()

    def close(self) -> None:
        """Say goodbye properly (a clean disconnect sends no last will, so say offline)."""
        if self.client.is_connected():
            info = self.client.publish(self.config.status_topic, OFFLINE, qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=2)
        self.client.disconnect()
        self.client.loop_stop()

    # --- paho callbacks (its network thread) -----------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            logger.error("MQTT broker refused the connection: %s", reason_code)
            return
        logger.info("MQTT connected to %s:%s", self.config.host, self.config.port)
        client.subscribe([(topic, 1) for topic in self.config.subscriptions()])
        client.publish(self.config.status_topic, ONLINE, qos=1, retain=True)
        self._call_in_loop(self._connected)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code != 0:
            logger.warning("MQTT connection lost (%s); reconnecting with backoff", reason_code)

    def _on_message(self, client, userdata, message: paho.MQTTMessage) -> None:
        self._call_in_loop(self._take_inbound, message.topic, bytes(message.payload))

    def _call_in_loop(self, callback, *args) -> None:
        if self.loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: the server is stopping
                self.loop.call_soon_threadsafe(callback, *args)

    # --- events ----------------------------------------------------------------------------

    def submit(self, event: dict) -> None:
        """Take an event from any thread of this process."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._enqueue(event)
        else:
            self._call_in_loop(self._enqueue, event)

    def _enqueue(self, event: dict) -> None:
        try:
            self._events.put_nowait(event)
        except asyncio.QueueFull:
            self._dropped_events += 1
            if self._dropped_events % 1000 == 1:
                logger.warning("MQTT bridge is behind: %d events dropped", self._dropped_events)

    def _connected(self) -> None:
        self._published.clear()
        self._refresh_all = True
        self._wake.set()

    def _mark_dirty(self, charger_pk: int) -> None:
        self._dirty.add(charger_pk)
        self._wake.set()

    async def _process_events(self) -> None:
        """In order: a transaction's start, its meter values and its stop stay in sequence."""
        while True:
            event = await self._events.get()
            try:
                await self._handle_event(event)
            except DATABASE_ERRORS as error:
                database_outage.failed(error)
            except Exception:
                logger.exception("MQTT bridge could not handle %s", event.get("kind"))

    async def _handle_event(self, event: dict) -> None:
        kind = event.get("kind")
        charger_pk = event.get("charger_pk")
        if kind == "meter":
            for payload in payloads.meter_payloads(event):
                self._publish(self.config.charger_topic(event["charge_point_id"], "meter"), payload, qos=0)
        elif kind == "transaction":
            key = (charger_pk, event["transaction_id"], event["event"])
            if key not in self._seen_transactions:  # a charger back online replays them
                self._seen_transactions[key] = None
                if len(self._seen_transactions) > 1000:
                    self._seen_transactions.popitem(last=False)
                payload = await in_thread(payloads.transaction_payload)(event)
                self._publish(self.config.charger_topic(event["charge_point_id"], "transaction"), payload, qos=1)
        if isinstance(charger_pk, int):
            self._mark_dirty(charger_pk)

    async def _publish_states(self) -> None:
        """Publish the retained topics of chargers that changed. Events that arrive meanwhile
        wait for the next round, so a burst costs one database read per charger."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self.client.is_connected():
                continue  # everything is republished on connection
            charger_pks = None if self._refresh_all else self._dirty
            self._refresh_all, self._dirty = False, set()
            try:
                publications = await in_thread(payloads.charger_publications)(
                    config=self.config, charger_pks=charger_pks, soc_seen=self._soc_seen
                )
            except Exception as error:
                if isinstance(error, DATABASE_ERRORS):
                    database_outage.failed(error)  # once per interval, not a traceback a second
                else:
                    logger.exception("MQTT bridge could not read charger state")
                await asyncio.sleep(1)
                self._refresh_all = charger_pks is None or self._refresh_all
                self._dirty |= charger_pks or set()
                self._wake.set()
                continue
            for publication in publications:
                self._publish_retained(publication)
            if charger_pks is None:
                self._clear_vanished({publication.topic for publication in publications})

    async def _refresh_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.config.refresh_interval_s)
            self._refresh_all = True
            self._wake.set()

    async def _read_channel_layer(self) -> None:
        """Scaled out: the servers' and workers' events arrive over the channel layer."""
        # A layer of its own: channels-redis serves all process-local channels of one layer
        # with one blocking read under one lock, so this endless read would starve the reply
        # channels of the commands this process sends.
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        channel = await layer.new_channel(prefix="mqtt-bridge")

        async def keep_joined() -> None:
            while True:  # the membership expires, and a restarted Redis forgets it
                try:
                    await layer.group_add(events.GROUP, channel)
                except Exception as error:
                    logger.warning("MQTT bridge cannot join the event group: %s", error)
                await asyncio.sleep(60)

        self._spawn(keep_joined())
        logger.info("MQTT bridge reading events from the channel layer (group %s)", events.GROUP)
        while True:
            try:
                self._enqueue(await layer.receive(channel))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning("MQTT bridge lost the channel layer: %s", error)
                await asyncio.sleep(1)

    # --- publishing ------------------------------------------------------------------------

    def _publish(self, topic: str, payload: dict | str | bytes, *, qos: int, retain: bool = False) -> None:
        text = json.dumps(payload, separators=(",", ":")) if isinstance(payload, dict) else payload
        info = self.client.publish(topic, text, qos=qos, retain=retain)
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            logger.warning("MQTT publish to %s failed: %s", topic, paho.error_string(info.rc))

    def _clear_vanished(self, current: set[str]) -> None:
        """A charger deleted in the admin leaves no retained topics (Home Assistant then
        removes its device too)."""
        for topic in set(self._published) - current:
            del self._published[topic]
            self._publish(topic, b"", qos=1, retain=True)

    def _publish_retained(self, publication: Publication) -> None:
        stable = {k: v for k, v in publication.payload.items() if k not in publication.volatile}
        key = json.dumps(stable, sort_keys=True)
        if self._published.get(publication.topic) == key or not self.client.is_connected():
            return
        self._published[publication.topic] = key
        self._publish(publication.topic, publication.payload, qos=publication.qos, retain=publication.retain)

    # --- inbound ---------------------------------------------------------------------------

    def _take_inbound(self, topic: str, raw: bytes) -> None:
        if len(self._tasks) >= MAX_PENDING_INBOUND:
            self._refuse_busy(topic, raw)
            return
        before = self._topic_tails.get(topic)
        handled = self._topic_tails[topic] = asyncio.get_running_loop().create_future()
        self._spawn(self._handle_inbound(topic, raw, before=before, handled=handled))

    def _refuse_busy(self, topic: str, raw: bytes) -> None:
        self._refused_busy += 1
        if self._refused_busy % 1000 == 1:  # once per burst, not once per message
            logger.warning("MQTT bridge is flooded: %d messages answered busy so far", self._refused_busy)
        charge_point_id = self._command_target(topic)
        if charge_point_id is None:
            self._publish_error(topic, f"not processed: {len(self._tasks)} messages are waiting; send it again later")
            return
        result = inbound.command_busy(charge_point_id=charge_point_id, raw=raw, waiting=len(self._tasks))
        self._publish(self.config.charger_topic(charge_point_id, "command", "result"), result, qos=1)

    def _command_target(self, topic: str) -> str | None:
        """The charger a command topic (`{prefix}/charger/{id}/command`) names, else None."""
        parts = topic.split("/")
        prefix_levels = self.config.prefix.count("/") + 1
        if (
            len(parts) == prefix_levels + 3
            and topic.startswith(f"{self.config.prefix}/charger/")
            and parts[-1] == "command"
        ):
            return parts[-2]
        return None

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle_inbound(
        self, topic: str, raw: bytes, *, before: asyncio.Future | None, handled: asyncio.Future
    ) -> None:
        try:
            if before is not None:
                await asyncio.wait([before])  # not cancelled with this task: the message after waits
            async with self._inbound_slots:
                try:
                    await self._route(topic, raw)
                except inbound.InputError as error:
                    self._publish_error(topic, error.message)
                except Exception:
                    logger.exception("MQTT message on %s failed", topic)
                    self._publish_error(topic, "could not be processed; see the server log")
        finally:
            handled.set_result(None)
            if self._topic_tails.get(topic) is handled:
                del self._topic_tails[topic]

    def _owner_target(self, topic: str) -> tuple[str, str] | None:
        """The charger and action of `{prefix}/charger/{id}/mode/set` (set_mode) or
        `.../target/set` (set_target), else None."""
        parts = topic.split("/")
        prefix_levels = self.config.prefix.count("/") + 1
        if len(parts) != prefix_levels + 4 or not topic.startswith(f"{self.config.prefix}/charger/"):
            return None
        actions = {MODE_SET: "set_mode", TARGET_SET: "set_target"}
        action = actions.get((parts[-2], parts[-1]))
        return (parts[-3], action) if action else None

    async def _route(self, topic: str, raw: bytes) -> None:
        config = self.config
        charge_point_id = self._command_target(topic)
        if charge_point_id is not None:
            result = await in_thread(inbound.command_run)(charge_point_id=charge_point_id, raw=raw)
            logger.info("MQTT command for %s: %s %s", charge_point_id, result.get("action"), result["status"])
            self._publish(config.charger_topic(charge_point_id, "command", "result"), result, qos=1)
            return
        owner = self._owner_target(topic)
        if owner is not None:
            charge_point_id, action = owner
            result = await in_thread(inbound.owner_command_run)(
                charge_point_id=charge_point_id, action=action, raw=raw, held=self._held_targets
            )
            logger.info("MQTT %s for %s: %s", action, charge_point_id, result["status"])
            self._publish(config.charger_topic(charge_point_id, "command", "result"), result, qos=1)
            return
        for series, pattern in (("prices", config.prices), ("solar_forecast", config.solar_forecast)):
            match = pattern.match(topic)
            if match is not None:
                site = await in_thread(inbound.site_find)(key=match.site, default=config.site)
                count = await in_thread(inbound.series_store)(site=site, raw=raw, series=series)
                logger.info("MQTT %s for site %s: %d slots stored", series, site.name, count)
                return
        if topic in config.reading_topics:
            await self._store_reading(None, raw, config.reading_topics[topic])
            return
        match = config.readings.match(topic, allow_rest=True)
        if match is not None:
            await self._store_reading(match.site, raw, match.rest)
            return
        match = config.grid_level.match(topic)
        if match is not None:
            site = await in_thread(inbound.site_find)(key=match.site, default=config.site)
            level = await in_thread(inbound.grid_level_store)(site=site, raw=raw)
            await self._rebalance(site.pk, f"MQTT grid level {level}")

    async def _store_reading(self, site_key: str | None, raw: bytes, field: str | None) -> None:
        site = await in_thread(inbound.site_find)(key=site_key, default=self.config.site)
        await in_thread(inbound.reading_store)(site=site, raw=raw, field=field)
        await self._rebalance(site.pk, "MQTT energy reading")

    async def _rebalance(self, site_pk: int, trigger: str) -> None:
        await rebalancer().request_async(site_pk, trigger)

    def _publish_error(self, topic: str, message: str) -> None:
        logger.info("MQTT input on %s refused: %s", topic, message)
        payload = {"topic": topic[:200], "error": message, "timestamp": iso_utc(timezone.now())}
        self._publish(self.config.errors_topic, payload, qos=1)
