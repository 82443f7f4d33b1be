"""The one path from anywhere (API, admin, jobs, MQTT) to a live charger.

A command goes over the channel layer to the group of the consumer holding the charger's
socket, whichever process that is, and the answer comes back on a reply channel. Callers get
the charger's answer as a camelCase OCPP payload, or a CommandFailed saying why not.
"""

import asyncio
import hashlib
import time

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from chargers.models import Charger, ChargerCommand
from chargers.profiles import supports_action


def charger_group(charge_point_id: str) -> str:
    """The channel-layer group of whichever consumer holds this charger's socket.
    Hashed: charger ids may hold characters group names may not."""
    return "charger." + hashlib.sha256(charge_point_id.encode()).hexdigest()[:32]


class CommandFailed(Exception):
    outcome = ChargerCommand.Outcome.INVALID

    def __init__(self, message: str, *, code: str = ""):
        super().__init__(message)
        self.message = message
        self.code = code


class ChargerOffline(CommandFailed):
    outcome = ChargerCommand.Outcome.OFFLINE


class ChargerTimeout(CommandFailed):
    outcome = ChargerCommand.Outcome.TIMEOUT


class ChargerCallError(CommandFailed):
    """The charger answered with a CALLERROR; `code` is its error code."""

    outcome = ChargerCommand.Outcome.CALL_ERROR


class ChargerNotSupported(CommandFailed):
    outcome = ChargerCommand.Outcome.NOT_SUPPORTED


class CommandInvalid(CommandFailed):
    outcome = ChargerCommand.Outcome.INVALID


class ChargerRejected(CommandFailed):
    """The charger answered, and said no (Rejected, NotSupported...)."""

    outcome = "rejected"


class ChargerBusy(CommandFailed):
    """The request does not fit the charger's state: nothing to stop, connector not available."""

    outcome = "conflict"


FAILURE_BY_OUTCOME = {cls.outcome: cls for cls in (ChargerOffline, ChargerTimeout, ChargerCallError, CommandInvalid)}


def command_record(
    *,
    charger_pk: int,
    action: str,
    payload: dict,
    requested_by: str,
    outcome: str,
    response: dict | None = None,
    error: str = "",
    latency_ms: int | None = None,
) -> None:
    ChargerCommand.objects.create(
        charger_id=charger_pk,
        action=action,
        payload=payload,
        requested_by=requested_by[:100],
        outcome=outcome,
        response=response,
        error=error,
        latency_ms=latency_ms,
    )


async def _reply_while_connected(layer, reply_channel: str, *, charger_pk: int, timeout_s: float) -> dict | None:
    """The reply, or None after timeout_s. A charger that hangs up before its connection took the
    command leaves nobody to answer: the caller (often a control run holding its site's lock)
    hears it is offline within a second rather than at the timeout."""
    receiving = asyncio.ensure_future(layer.receive(reply_channel))
    deadline = time.monotonic() + timeout_s
    try:
        while (left_s := deadline - time.monotonic()) > 0:
            done, _ = await asyncio.wait({receiving}, timeout=min(1.0, left_s))
            if done:
                return receiving.result()
            if not await Charger.objects.filter(pk=charger_pk, is_connected=True).aexists():
                return {"outcome": ChargerCommand.Outcome.OFFLINE, "error": "the charger hung up before it answered"}
        return None
    finally:
        receiving.cancel()


async def charger_command(
    *, charge_point_id: str, action: str, payload: dict, requested_by: str, timeout_s: float | None = None
) -> dict:
    """Send one OCPP call to a charger and return its answer (camelCase payload)."""
    timeout_s = timeout_s or settings.OCPP_COMMAND_TIMEOUT_S
    charger = (
        await Charger.objects.filter(charge_point_id=charge_point_id)
        .only("pk", "is_connected", "supported_feature_profiles")
        .afirst()
    )
    if charger is None:
        raise CommandInvalid(f"unknown charger {charge_point_id!r}")
    started = time.monotonic()
    try:
        if not charger.is_connected:
            raise ChargerOffline(f"charger {charge_point_id} is offline")
        if not supports_action(charger.supported_feature_profiles, action):
            raise ChargerNotSupported(
                f"{action} needs a feature profile this charger does not report "
                f"(it supports {charger.supported_feature_profiles})"
            )
        layer = get_channel_layer()
        reply_channel = await layer.new_channel()
        await layer.group_send(
            charger_group(charge_point_id),
            {
                "type": "charger.command",
                "action": action,
                "payload": payload,
                "reply_channel": reply_channel,
                "timeout_s": timeout_s,
            },
        )
        # A little longer than the charger gets, so its own timeout answer wins the race.
        reply = await _reply_while_connected(layer, reply_channel, charger_pk=charger.pk, timeout_s=timeout_s + 2)
        if reply is None:
            raise ChargerTimeout(f"no answer from charger {charge_point_id} within {timeout_s:g} s")
        if reply["outcome"] != ChargerCommand.Outcome.ANSWERED:
            raise FAILURE_BY_OUTCOME[reply["outcome"]](reply["error"], code=reply.get("code", ""))
    except CommandFailed as failure:
        await database_sync_to_async(command_record)(
            charger_pk=charger.pk,
            action=action,
            payload=payload,
            requested_by=requested_by,
            outcome=failure.outcome,
            error=f"{failure.code}: {failure.message}" if failure.code else failure.message,
            latency_ms=round((time.monotonic() - started) * 1000),
        )
        raise
    await database_sync_to_async(command_record)(
        charger_pk=charger.pk,
        action=action,
        payload=payload,
        requested_by=requested_by,
        outcome=ChargerCommand.Outcome.ANSWERED,
        response=reply["response"],
        latency_ms=round((time.monotonic() - started) * 1000),
    )
    return reply["response"]


charger_command_sync = async_to_sync(charger_command)
