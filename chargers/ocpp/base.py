"""What every protocol version shares: strict routing of frames, error codes, timestamps."""

import asyncio
import datetime as dt
import json
import logging
import re
import time
from types import ModuleType

import ocpp.messages
from channels.db import database_sync_to_async
from django.conf import settings
from jsonschema import exceptions as jsonschema_exceptions
from ocpp.charge_point import remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.exceptions import (
    FormatViolationError,
    InternalError,
    NotImplementedError,
    NotSupportedError,
    OCPPError,
    PropertyConstraintViolationError,
    ProtocolError,
    SecurityError,
    TypeConstraintViolationError,
    UnknownCallErrorCodeError,
    ValidationError,
)
from ocpp.messages import Call, CallError, MessageType, get_validator

from chargers import events
from chargers.commands import command_record
from chargers.models import HELD_LIMIT_CHECK_REQUESTED_BY, ChargerCommand, ChargerEvent
from chargers.ocpp.writes import hot_path_writes
from chargers.protocols import ChargerCall
from chargers.services import BootResult, charger_boot, charger_event_record
from energy.rebalance import rebalancer
from energy.services import charger_held_limit_check, charger_profiles_unknown
from graylogic.outages import DATABASE_ERRORS, database_answers, database_outage
from graylogic.runtime.ocpp_routing import RoutingChargePoint, payload_is_valid
from sessions.measurands import in_base_unit
from sessions.services import (
    ChargerRating,
    MeterValuesReport,
    RejectedSampleData,
    SampleData,
    charger_rating,
)

logger = logging.getLogger(__name__)

# last_seen_at is written at most this often; the stale sweep allows minutes.
TOUCH_EVERY_S = 30
# A charger that reconnects boots within this time, or its held limit is checked without a boot.
RECONNECT_CHECK_AFTER_S = 5
# A change in a car's draw this large re-runs energy control (spec: on_power_change).
POWER_CHANGE_W = 500
# The part of a DataTransfer's data kept in the event log, with its whole length (262 KB
# payloads were kept whole).
DATA_TRANSFER_KEPT_CHARS = 4096

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def parse_ocpp_datetime(value: str, field: str) -> dt.datetime:
    """OCPP date-times are RFC 3339 with a zone; a naive or malformed one is a type error
    (dateTime is a data type in the OCPP 1.6 spec)."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise TypeConstraintViolationError(
            description=f"{field} must be an RFC 3339 date-time with a time zone, got {value!r}"
        )
    try:
        return dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00")).astimezone(dt.UTC)
    except ValueError as error:
        raise TypeConstraintViolationError(description=f"{field}: {error}") from error
    except OverflowError as error:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise TypeConstraintViolationError(description=f"{field}: {value!r} is outside years 1 to 9999") from error


# OCPP's integer is 32-bit (OCPP 1.6 JSON spec, data types); the database's columns hold it.
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def check_int32(value: int, field: str) -> int:
    """A 2**40 transactionId made PostgreSQL fail the write and the charger retry for ever."""
    if not INT32_MIN <= value <= INT32_MAX:
        raise TypeConstraintViolationError(description=f"{field} {value} is not a 32-bit integer")
    return int(value)


# A JSON string holding NUL (U+0000), as it arrives: PostgreSQL stores such a string in no text
# or JSON column (SQLite does), so it stops here, for both databases alike.
_JSON_NUL = "\\u0000"
NUL_REFUSED = "a string holds NUL (U+0000), which no OCPP value may hold"


def total_power_w(samples: list[SampleData]) -> float | None:
    """The latest whole-charger Power.Active.Import in W, if the samples carry one."""
    for sample in reversed(samples):
        if sample.measurand == "Power.Active.Import" and not sample.phase and sample.value is not None:
            return in_base_unit(sample.value, sample.unit)
    return None


class CentralSystemChargePoint(RoutingChargePoint):
    """The server side of one charger connection, fed frames by the WebSocket consumer."""

    # Version modules set these to their spec's spelling of the error codes.
    format_error: type[OCPPError]
    occurrence_error: type[OCPPError]
    # A required field missing: 1.6 says the payload is incomplete (ProtocolError).
    missing_field_error: type[OCPPError] = ProtocolError
    known_actions: frozenset[str] = frozenset()
    # Actions a charger sends that this server does not handle yet: answered NotSupported.
    not_handled_yet: frozenset[str] = frozenset()
    # The version's builders of the calls this connection makes itself (chargers/protocols/).
    calls: ModuleType
    # Calls a charger may make before it is accepted (registration Pending).
    allowed_before_acceptance = frozenset({"BootNotification"})
    # Calls answered from a task of their own, because answering them waits on calls to this same
    # charger (whose replies arrive as later frames): a transaction start waits for the limits.
    answered_in_a_task: frozenset[str] = frozenset()
    # The charger's rating, read once per connection (rating()).
    _rating: ChargerRating | None = None
    # The draw energy control last ran for (rebalance_on_draw_change).
    last_power_w = 0.0

    def __init__(
        self,
        charge_point_id: str,
        connection,
        *,
        charger_pk: int,
        site_pk: int,
        remote_address: str,
        accepted: bool,
        response_timeout: int = 30,
    ):
        super().__init__(charge_point_id, connection, response_timeout=response_timeout)
        self.charger_pk = charger_pk
        self.site_pk = site_pk
        self.remote_address = remote_address
        self.registration_accepted = accepted
        self._touched_at = time.monotonic()
        self._tasks: set[asyncio.Task] = set()
        self.booted = False  # a BootNotification came on this connection
        if accepted:
            self._spawn(self._check_after_reconnect())

    async def route_message(self, raw_msg: str) -> None:
        """Like the library's, but every malformed frame gets the CALLERROR the spec names,
        and no frame, however broken, can end the connection."""
        holds_nul = _JSON_NUL in raw_msg
        if holds_nul:
            raw_msg = raw_msg.replace(_JSON_NUL, "")
        try:
            msg = ocpp.messages.unpack(raw_msg)
        except OCPPError as error:
            await self._reply_unparsable(raw_msg, error)
            return
        except Exception as error:  # e.g. a list whose unique id is not a string
            await self._reply_unparsable(raw_msg, self.format_error(description=str(error)))
            return

        self._touch()
        if msg.message_type_id != MessageType.Call:
            self.deliver_response(msg)  # an answer keeps its meaning without the NULs
            return
        if holds_nul:
            await self._reply_error(msg, TypeConstraintViolationError(description=NUL_REFUSED))
            return
        if msg.action in self.answered_in_a_task:
            self._spawn(self._answer_call(msg))
        else:
            await self._answer_call(msg)

    async def _answer_call(self, msg: Call) -> None:
        try:
            self._check_call(msg)
            await self._dispatch_call(msg)
        except OCPPError as error:
            await self._reply_error(msg, error)
        except DATABASE_ERRORS as error:
            unavailable = InternalError(description="The central system's database is unavailable")
            if await database_sync_to_async(database_answers)():
                logger.exception("%s: database error on %s", self.id, msg.action)
                await self._reply_error(msg, unavailable)
                return
            # Down: every message fails alike, so nothing is recorded per message (one log line
            # per interval); the charger keeps its connection and retries transaction messages.
            database_outage.failed(error)
            await self.send_frame(CallError(msg.unique_id, unavailable.code, unavailable.description, {}).to_json())
        except Exception:
            logger.exception("%s: handler crashed on %s", self.id, msg.action)
            await self._reply_error(msg, InternalError(description="The central system failed to process this call"))

    def _check_call(self, msg: Call) -> None:
        if not isinstance(msg.action, str) or not isinstance(msg.payload, dict):
            raise self.format_error(description="A CALL is [2, uniqueId, action, {payload}]")
        if msg.action not in self.routes:
            if msg.action in self.not_handled_yet:
                raise NotSupportedError(description=f"{msg.action} is not handled by this central system yet")
            if msg.action in self.known_actions:
                raise NotSupportedError(description=f"{msg.action} is not sent by a charge point")
            raise NotImplementedError(description=f"Unknown action {msg.action!r}")
        if not self.registration_accepted and msg.action not in self.allowed_before_acceptance:
            raise SecurityError(description="This charger is not accepted yet; send BootNotification")
        self._validate_schema(msg)

    async def _dispatch_call(self, msg: Call) -> None:
        """Run the action's handler and send its result. Unlike the library's _handle_call,
        errors propagate to route_message, which answers them and logs them for installers."""
        follow_up = await self.answer_call(msg)
        if follow_up is not None:
            # Follow-up calls (e.g. the compatibility probe) run after the answer went out.
            self._spawn(follow_up)

    async def rebalance(self, trigger: str) -> None:
        """Something that matters to energy control changed on this charger."""
        await rebalancer().request_async(self.site_pk, f"{self.id}: {trigger}")

    async def rebalance_on_draw_change(self, samples: list[SampleData]) -> None:
        """A running car's draw, changed by POWER_CHANGE_W since the last run it asked for."""
        power_w = total_power_w(samples)
        if power_w is not None and abs(power_w - self.last_power_w) >= POWER_CHANGE_W:
            self.last_power_w = power_w
            await self.rebalance(f"drawing {power_w:.0f} W")

    async def rebalance_now(self, trigger: str, *, protection_only: bool = False) -> None:
        """Decide the site now and wait until its profiles are answered (boot, a car starting)."""
        await rebalancer().now_async(self.site_pk, f"{self.id}: {trigger}", protection_only=protection_only)

    async def rating(self) -> ChargerRating:
        """The charger's rating, read once per connection (and again after a boot)."""
        if self._rating is None:
            self._rating = await database_sync_to_async(charger_rating)(charger_pk=self.charger_pk)
        return self._rating

    async def boot_record(self, boot_info: dict[str, str]) -> BootResult:
        """A BootNotification, in either version's words: who the charger is now, whether it is
        accepted, and, once it is, that what it held is unknown (energy control sends it
        everything)."""
        result = await database_sync_to_async(charger_boot)(charger_pk=self.charger_pk, boot_info=boot_info)
        self._rating = None
        self.registration_accepted = result.status == "Accepted"
        if self.registration_accepted:
            await database_sync_to_async(charger_profiles_unknown)(charger_pk=self.charger_pk)
        events.charger_changed(charger_pk=self.charger_pk)
        return result

    async def control_after_boot(self) -> None:
        """A booted charger (boot_record): send its limits, then check that it
        holds its fuse limit."""
        self.booted = True
        await self.rebalance_now("booted")
        await self.check_held_limit()

    async def _check_after_reconnect(self, wait_s: float = RECONNECT_CHECK_AFTER_S) -> None:
        """A charger that reconnects without booting kept its profiles, or should have."""
        await asyncio.sleep(wait_s)
        if not self.booted:
            await self.check_held_limit()

    async def check_held_limit(self) -> None:
        """GetCompositeSchedule on connector 0 against the ChargePointMaxProfile we sent; a charger
        that does not hold it is reported and sent it again."""
        reply = await self.call_and_record(
            self.calls.composite_schedule_read(connector_id=0, duration_s=60), HELD_LIMIT_CHECK_REQUESTED_BY
        )
        if reply["outcome"] == "answered" and reply["response"].get("status") == "Accepted":
            held = await database_sync_to_async(charger_held_limit_check, thread_sensitive=False)(
                charger_pk=self.charger_pk, composite=self.calls.composite_answer(reply["response"])
            )
            if not held:
                await self.rebalance_now("limit not held")

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def spawn_command(self, event: dict, channel_layer) -> None:
        async def run_and_reply() -> None:
            try:
                reply = await self.run_command(event["action"], event["payload"], event["timeout_s"])
            except asyncio.CancelledError:
                # The charger hung up: its caller (often a control run holding a site's lock)
                # hears so now, not after its whole timeout.
                gone = {"outcome": ChargerCommand.Outcome.OFFLINE, "error": "the charger hung up before it answered"}
                await channel_layer.send(event["reply_channel"], {"type": "command.reply", **gone})
                raise
            await channel_layer.send(event["reply_channel"], {"type": "command.reply", **reply})

        self._spawn(run_and_reply())

    async def samples_store(
        self,
        *,
        connector_id: int,
        transaction_id: int | None,
        samples: list[SampleData],
        rejected: list[RejectedSampleData],
    ) -> None:
        """Sampled values, written with every other charger's in one batch (the hot path), then
        told to whoever listens (the MQTT bridge)."""
        await hot_path_writes().meter_values.write(
            MeterValuesReport(
                charger_pk=self.charger_pk,
                connector_id=connector_id,
                transaction_id=transaction_id,
                samples=samples,
                rejected=rejected,
            )
        )
        events.meter_values(
            charger_pk=self.charger_pk,
            charge_point_id=self.id,
            connector_id=connector_id,
            transaction_id=transaction_id,
            samples=samples,
        )

    async def vendor_data_record(self, *, vendor_id: str, message_id: str, text: str) -> None:
        """Keep a DataTransfer in the event log by its start and its size: no vendor extension
        is understood here, and a vendor's payload may be large."""
        await database_sync_to_async(charger_event_record)(
            charge_point_id=self.id,
            charger_pk=self.charger_pk,
            kind=ChargerEvent.Kind.DATA_TRANSFER,
            message=f"DataTransfer from vendor {vendor_id} message {message_id}",
            remote_address=self.remote_address,
            payload={
                "vendor_id": vendor_id,
                "message_id": message_id,
                "data": text[:DATA_TRANSFER_KEPT_CHARS],
                "data_chars": len(text),
            },
        )

    async def call_and_record(self, request: ChargerCall, requested_by: str) -> dict:
        """A call this connection makes on its own (e.g. the probe), logged like any command."""
        action, payload = request.action, request.payload
        started = time.monotonic()
        reply = await self.run_command(action, payload, settings.OCPP_COMMAND_TIMEOUT_S)
        await database_sync_to_async(command_record)(
            charger_pk=self.charger_pk,
            action=action,
            payload=payload,
            requested_by=requested_by,
            outcome=reply["outcome"],
            response=reply.get("response"),
            error=reply.get("error", ""),
            latency_ms=round((time.monotonic() - started) * 1000),
        )
        return reply

    async def run_command(self, action: str, payload: dict, timeout_s: float) -> dict:
        """Make one call to the charger; return the reply the command path expects."""
        try:
            request = await self.request_for(action, payload)
        except (OCPPError, ValidationError, AttributeError, TypeError) as error:
            return {"outcome": "invalid", "error": f"not a valid {action} request: {error}"}
        try:
            async with asyncio.timeout(timeout_s):
                response = await self.call(request, suppress=False, skip_schema_validation=True)
        except TimeoutError:
            return {"outcome": "timeout", "error": f"no answer from the charger within {timeout_s:g} s"}
        except OCPPError as error:
            return {"outcome": "call_error", "code": error.code, "error": error.description or error.code}
        except UnknownCallErrorCodeError as error:
            return {"outcome": "call_error", "code": "GenericError", "error": str(error)}
        answer = snake_to_camel_case(remove_nones(serialize_as_dict(response)))
        return {"outcome": "answered", "response": answer}

    def _validate_schema(self, msg: Call) -> None:
        """The official JSON schema, with errors named as the spec names them."""
        if payload_is_valid(msg.action, self.ocpp_version, msg.payload):
            return
        # Only an invalid payload pays for jsonschema, which names the error best.
        validator = get_validator(msg.message_type_id, msg.action, self.ocpp_version)
        error = jsonschema_exceptions.best_match(validator.iter_errors(msg.payload))
        if error is None:
            return
        where = "/".join(str(p) for p in error.absolute_path) or "payload"
        description = f"{where}: {error.message}"[:255]
        kind = {
            "type": TypeConstraintViolationError,
            "maxLength": TypeConstraintViolationError,
            "required": self.missing_field_error,
            "enum": PropertyConstraintViolationError,
            "minimum": PropertyConstraintViolationError,
            "maximum": PropertyConstraintViolationError,
            "minItems": self.occurrence_error,
            "maxItems": self.occurrence_error,
        }.get(error.validator, self.format_error)
        raise kind(description=description)

    async def _reply_unparsable(self, raw_msg: str, error: OCPPError) -> None:
        """Answer with the frame's unique id when one can be read, else "-1"."""
        unique_id = "-1"
        try:
            frame = json.loads(raw_msg)
            if isinstance(frame, list) and len(frame) > 1 and isinstance(frame[1], str):
                unique_id = frame[1][:36]
        except (ValueError, TypeError):
            pass
        await self._send_error(unique_id, self.unparsable_code(error), error.description, action=None, raw=raw_msg)

    def unparsable_code(self, error: OCPPError) -> str:
        """The code for a frame that is no message at all (not JSON, not a list, an unknown
        message type). The library names malformed frames in OCPP 2.0.1's words; 1.6 calls them
        its FormationViolation."""
        return self.format_error.code if isinstance(error, FormatViolationError | ProtocolError) else error.code

    async def _reply_error(self, msg: Call, error: OCPPError) -> None:
        await self._send_error(msg.unique_id, error.code, error.description, action=msg.action, raw=msg.payload)

    async def _send_error(self, unique_id: str, code: str, description: str, *, action: str | None, raw) -> None:
        """Recorded for the installer before the charger hears it: a charger that hangs up on a
        CALLERROR (and so cancels a call answered from a task) still leaves its trace."""
        excerpt = raw if isinstance(raw, dict) and len(str(raw)) < 2000 else {"frame": str(raw)[:2000]}
        try:
            await database_sync_to_async(charger_event_record)(
                charge_point_id=self.id,
                charger_pk=self.charger_pk,
                kind=ChargerEvent.Kind.PROTOCOL_ERROR,
                message=f"{action or 'unparsable frame'}: {code}: {description}",
                remote_address=self.remote_address,
                payload=excerpt,
            )
        except DATABASE_ERRORS as error:
            database_outage.failed(error)  # the charger still hears why
        await self.send_frame(CallError(unique_id, code, description, {}).to_json())

    def _touch(self) -> None:
        now = time.monotonic()
        if now - self._touched_at >= TOUCH_EVERY_S:
            self._touched_at = now
            hot_path_writes().last_seen.write_later(self.charger_pk)
