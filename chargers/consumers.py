"""The OCPP WebSocket endpoint. It authenticates, then hands each frame, in order, to the
charger's ChargePoint; calls to the charger run in tasks of their own (see DESIGN.md traps)."""

import logging
import re
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from ocpp.messages import CallError

from chargers import events
from chargers.admission import client_address, transport_of
from chargers.commands import charger_group
from chargers.credentials import parse_basic_auth
from chargers.door import charger_admit, database_outage
from chargers.models import OCPP16, OCPP201, Charger, ChargerEvent
from chargers.ocpp.ocpp16 import ChargePoint16
from chargers.ocpp.ocpp201 import ChargePoint201
from chargers.services import charger_event_record, charger_mark_connected, charger_mark_disconnected
from graylogic.outages import DATABASE_ERRORS, OutageLog
from graylogic.runtime.channels_consumer import InboxConsumer

logger = logging.getLogger(__name__)

CHARGE_POINT_CLASSES = {OCPP16: ChargePoint16, OCPP201: ChargePoint201}
# Redis down or misconfigured: every handshake and connection fails alike; logged once a minute.
channel_layer_outage = OutageLog(logger, "channel layer (charger connections)")
_UNIQUE_ID_PREFIX = re.compile(r'^\s*\[\s*2\s*,\s*"([^"]{1,36})"')


class _ConsumerConnection:
    """What the ocpp library's ChargePoint sends through. Frames come in through
    OcppConsumer.receive, which routes them itself, one after the other."""

    def __init__(self, consumer: "OcppConsumer"):
        self.consumer = consumer

    async def send(self, message: str) -> None:
        if self.consumer.closed:
            # The charger went away while we answered it: nothing to deliver, nothing broken.
            return
        await self.consumer.send(text_data=message)


class OcppConsumer(InboxConsumer, AsyncWebsocketConsumer):
    closed = False
    charger_pk: int | None = None
    charge_point = None
    group_joined_at = 0.0

    async def connect(self) -> None:
        self.charge_point_id = self.scope["url_route"]["kwargs"]["charge_point_id"]
        client = self.scope.get("client") or ("", 0)
        headers = dict(self.scope.get("headers", []))
        self.remote_address = client_address(str(client[0]), headers.get(b"x-real-ip"))
        decision = await charger_admit(
            charge_point_id=self.charge_point_id,
            credentials=parse_basic_auth(headers.get(b"authorization")),
            offered_subprotocols=list(self.scope.get("subprotocols", [])),
            remote_address=self.remote_address,
            # daphne's scope names no scheme: with TLS_CERT_FILE set, its one endpoint is TLS.
            transport=transport_of(
                peer=str(client[0]),
                direct_tls=self.scope.get("scheme") == "wss" or bool(settings.TLS_CERT_FILE),
                headers=headers,
                trusted_proxies=settings.OCPP_TRUSTED_PROXIES,
            ),
        )
        if not decision.accepted:
            await self.close()  # before accept(): the handshake is answered 403
            return

        self.group = charger_group(self.charge_point_id)
        try:
            await self.channel_layer.group_send(self.group, {"type": "charger.replaced", "by": self.channel_name})
            await self._join_group()
        except Exception as error:  # channels-redis raises redis' and the socket's own errors
            channel_layer_outage.failed(error)
            await self.close()  # 403, while /healthz tells the load balancer this node is out
            return
        channel_layer_outage.recovered()
        await self.accept(subprotocol=decision.subprotocol if decision.echo_subprotocol else None)
        self.charger_pk = decision.charger_pk
        try:
            await database_sync_to_async(charger_mark_connected)(
                charger_pk=self.charger_pk,
                channel_name=self.channel_name,
                remote_address=self.remote_address,
                protocol=decision.subprotocol,
                note=decision.reason,
            )
            accepted = await database_sync_to_async(self._registration_accepted)()
        except DATABASE_ERRORS as error:
            database_outage.failed(error)
            await self.close(code=1013)  # "try again later": the charger reconnects
            return
        events.charger_changed(charger_pk=self.charger_pk)
        self.connection = _ConsumerConnection(self)
        self.charge_point = CHARGE_POINT_CLASSES[decision.subprotocol](
            self.charge_point_id,
            self.connection,
            charger_pk=self.charger_pk,
            site_pk=decision.site_pk,
            remote_address=self.remote_address,
            accepted=accepted,
        )

    def _registration_accepted(self) -> bool:
        return Charger.objects.filter(pk=self.charger_pk, registration=Charger.Registration.ACCEPTED).exists()

    async def channel_layer_failed(self, message: dict) -> None:
        """Commands can no longer reach this charger: it reconnects, to a node that can."""
        channel_layer_outage.failed(message["error"])
        await self.close(code=1013)  # try again later

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.charge_point is None:
            return
        if text_data is None:
            await self._refuse_frame("-1", "OCPP-J frames are text, not binary")
            return
        if len(text_data) > settings.OCPP_MAX_FRAME_BYTES:
            match = _UNIQUE_ID_PREFIX.match(text_data[:100])
            await self._refuse_frame(
                match.group(1) if match else "-1",
                f"frame of {len(text_data)} bytes exceeds the limit of {settings.OCPP_MAX_FRAME_BYTES}",
            )
            return
        if time.monotonic() - self.group_joined_at > self.channel_layer.group_expiry / 2:
            await self._join_group()
        # Frames are handled in order, each before the next is read: calls the handlers make to
        # the charger run in their own tasks (see DESIGN.md), so nothing here waits on the
        # charger. A charger's hang-up arrives after its last frame, so that frame is handled too.
        await self.charge_point.route_message(text_data)

    async def _join_group(self) -> None:
        """Channel layers drop a group member after group_expiry (a day by default), and a
        charger stays connected for months: rejoining well before keeps commands reaching it."""
        self.group_joined_at = time.monotonic()
        await self.channel_layer.group_add(self.group, self.channel_name)

    async def _refuse_frame(self, unique_id: str, reason: str) -> None:
        await self.send(text_data=CallError(unique_id, "FormationViolation", reason, {}).to_json())
        await self._record(ChargerEvent.Kind.PROTOCOL_ERROR, f"frame refused: {reason}")

    async def _record(self, kind: ChargerEvent.Kind, message: str) -> None:
        """An event in the log; with the database down, the outage log says so once instead."""
        try:
            await database_sync_to_async(charger_event_record)(
                charge_point_id=self.charge_point_id,
                charger_pk=self.charger_pk,
                kind=kind,
                message=message,
                remote_address=self.remote_address,
            )
        except DATABASE_ERRORS as error:
            database_outage.failed(error)

    async def charger_command(self, event: dict) -> None:
        """A command from the API, admin or a job. Run in a task: awaiting the charger's reply
        here would block this consumer from receiving it (see DESIGN.md)."""
        if self.charge_point is not None:
            self.charge_point.spawn_command(event, self.channel_layer)

    async def disconnect(self, code: int) -> None:
        self.closed = True
        if self.charge_point is not None:
            self.charge_point.cancel_tasks()
        if self.charger_pk is None:
            return
        try:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        except Exception as error:
            channel_layer_outage.failed(error)  # the membership expires with the group by itself
        try:
            await database_sync_to_async(charger_mark_disconnected)(
                charger_pk=self.charger_pk,
                channel_name=self.channel_name,
                code=code,
                remote_address=self.remote_address,
            )
        except DATABASE_ERRORS as error:
            # Left marked connected; the stale sweep marks it offline once the database is back.
            database_outage.failed(error)
            return
        events.charger_changed(charger_pk=self.charger_pk)

    async def charger_replaced(self, event: dict) -> None:
        """A newer connection with the same charger id takes over; this one steps aside."""
        if event["by"] != self.channel_name:
            await self._record(ChargerEvent.Kind.REPLACED, "a new connection with this charger id replaced this one")
            await self.close(code=4000)

    async def charger_rejected(self, event: dict) -> None:
        """The installer rejected this pending charger's claim of its id (the log says so)."""
        await self.close(code=4003)
