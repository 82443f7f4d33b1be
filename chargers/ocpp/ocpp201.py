"""OCPP 2.0.1: one handler per charging station→CSMS action this server handles so far (boot,
heartbeat, status per EVSE and connector, authorization, transactions, meter values, firmware
and log status, security events, vendor data; the device model, certificates and the notices of
chargers/ocpp/ocpp201_notices.py come from mixins).
Every other action a station sends is answered NotSupported, never stored halfway."""

import datetime as dt
import json
import math

from channels.db import database_sync_to_async
from ocpp.exceptions import (
    FormatViolationError,
    OccurrenceConstraintViolationError,
    OCPPError,
    PropertyConstraintViolationError,
)
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint as V201ChargePoint
from ocpp.v201 import call_result, datatypes
from ocpp.v201.enums import (
    Action,
    AuthorizationStatusEnumType,
    DataTransferStatusEnumType,
    IdTokenEnumType,
)

from chargers import events
from chargers import services as charger_services
from chargers.models import ChargerEvent
from chargers.ocpp.base import CentralSystemChargePoint, check_int32, parse_ocpp_datetime
from chargers.ocpp.ocpp201_device_model import DeviceModelBoot
from chargers.ocpp.ocpp201_notices import StationNotices
from chargers.ocpp.ocpp201_security import SecurityHandlers201
from chargers.ocpp.writes import hot_path_writes
from chargers.protocols import ocpp201 as ocpp201_calls
from graylogic.datetimes import iso_utc
from sessions import ledger
from sessions import services as session_services
from sessions.charger_clock import charger_time_believable, server_time_if_off
from sessions.measurands import sample_rejection
from sessions.models import RejectedSample
from sessions.services import (
    RejectedSampleData,
    SampleData,
    TransactionEventData,
)

db = database_sync_to_async

# Connector rows are EVSEs (chargers.services.evse_status_update); their column holds up to this.
EVSE_ID_MAX = 32767
INT32_MAX = 2**31 - 1
# A unit's power-of-ten multiplier beyond this is no meter's (kWh is 3, mWh -3).
MULTIPLIER_MAX = 9

# What a station sends that this server does not handle yet (display messages, monitoring
# reports, reservations, ISO 15118 certificates...): answered NotSupported, so the station keeps
# what it has not delivered.
NOT_HANDLED_YET = frozenset(
    {
        Action.get_15118_ev_certificate,
        Action.get_certificate_status,
        Action.notify_customer_information,
        Action.notify_display_messages,
        Action.notify_ev_charging_schedule,
        Action.notify_monitoring_report,
        Action.publish_firmware_status_notification,
        Action.reservation_status_update,
    }
)


def check_range(value: int, field: str, *, minimum: int, maximum: int = EVSE_ID_MAX) -> int:
    check_int32(value, field)
    if not minimum <= value <= maximum:
        raise PropertyConstraintViolationError(description=f"{field} must be {minimum} to {maximum}")
    return value


def samples_from_meter_values(
    meter_values: list[dict], *, received_at: dt.datetime, max_power_w: int | None = None
) -> tuple[list[SampleData], list[RejectedSampleData]]:
    """2.0.1's meterValue lists as 1.6's samples (chargers/ocpp/ocpp16.py): the same defaults
    (an Energy.Active.Import.Register in Wh at the outlet), the unit's multiplier applied to the
    value, the same physical bounds and clock window for what is rejected."""
    samples, rejected = [], []
    for i, meter_value in enumerate(meter_values):
        timestamp = parse_ocpp_datetime(meter_value["timestamp"], f"meterValue/{i}/timestamp")
        believable = charger_time_believable(timestamp, received_at=received_at)
        for sampled in meter_value["sampled_value"]:
            measurand = sampled.get("measurand", "Energy.Active.Import.Register")
            unit_of_measure = sampled.get("unit_of_measure") or {}
            unit = unit_of_measure.get("unit", "Wh" if measurand.startswith("Energy") else "")
            multiplier = check_range(
                unit_of_measure.get("multiplier", 0), "multiplier", minimum=-MULTIPLIER_MAX, maximum=MULTIPLIER_MAX
            )
            try:
                value = float(sampled["value"]) * 10**multiplier
            except OverflowError:  # an integer beyond any float: out of range, as an infinity is
                value = math.inf
            sample = SampleData(
                timestamp=timestamp,
                value=value,
                measurand=measurand,
                phase=sampled.get("phase", ""),
                unit=unit,
                context=sampled.get("context", "Sample.Periodic"),
                location=sampled.get("location", "Outlet"),
                signed_data=(sampled.get("signed_meter_value") or {}).get("signed_meter_data", ""),
            )
            reason = sample_rejection(measurand=measurand, unit=unit, value=value, max_power_w=max_power_w)
            reason = reason or (None if believable else RejectedSample.Reason.CLOCK)
            if reason is None:
                samples.append(sample)
            else:
                rejected.append(RejectedSampleData(sample=sample, value_text=repr(sampled["value"]), reason=reason))
    return samples, rejected


def id_token_info(info: dict | None) -> datatypes.IdTokenInfoType | None:
    """1.6's idTagInfo (chargers.services.id_tag_info) in 2.0.1's words: a parent tag is the group."""
    if info is None:
        return None
    group = info.get("parent_id_tag")
    return datatypes.IdTokenInfoType(
        status=info["status"],
        cache_expiry_date_time=info.get("expiry_date"),
        group_id_token=datatypes.IdTokenType(id_token=group, type=IdTokenEnumType.central) if group else None,
    )


class ChargePoint201(DeviceModelBoot, SecurityHandlers201, StationNotices, CentralSystemChargePoint, V201ChargePoint):
    """Error codes in 2.0.1's spelling (OCPP 2.0.1 part 4, CallError): FormatViolation,
    OccurrenceConstraintViolation, also for a required field missing (its cardinality 1..1 is
    broken), RpcFrameworkError for a frame that is no RPC message and MessageTypeNotSupported
    for an unknown message type."""

    format_error = FormatViolationError
    occurrence_error = OccurrenceConstraintViolationError
    missing_field_error = OccurrenceConstraintViolationError
    known_actions = frozenset(action.value for action in Action)
    not_handled_yet = frozenset(action.value for action in NOT_HANDLED_YET)
    calls = ocpp201_calls
    # A start waits for the fuse limits before it is answered (as 1.6's StartTransaction): each
    # event is answered from a task; a station sends its next only once this one is answered.
    answered_in_a_task = frozenset({Action.transaction_event.value})

    def unparsable_code(self, error: OCPPError) -> str:
        # ocpp.messages.unpack names an unknown message type id a PropertyConstraintViolation.
        return "MessageTypeNotSupported" if isinstance(error, PropertyConstraintViolationError) else "RpcFrameworkError"

    @on(Action.boot_notification, skip_schema_validation=True)
    async def on_boot_notification(self, charging_station: dict, reason: str, **kwargs):
        """Store the station's identity as for 1.6 (fields 1.6 has and 2.0.1 lacks are emptied)
        and answer Accepted, Pending or Rejected by the same registration rules; Pending too
        while its device model is read (chargers/ocpp/ocpp201_device_model.py)."""
        modem = charging_station.get("modem") or {}
        boot_info = {
            "vendor": charging_station["vendor_name"],
            "model": charging_station["model"],
            "serial_number": charging_station.get("serial_number", ""),
            "charge_box_serial_number": "",
            "firmware_version": charging_station.get("firmware_version", ""),
            "iccid": modem.get("iccid", ""),
            "imsi": modem.get("imsi", ""),
            "meter_type": "",
            "meter_serial_number": "",
        }
        result = await self.boot_record(boot_info)
        self.reads_device_model = result.reads_device_model
        return call_result.BootNotification(
            current_time=iso_utc(dt.datetime.now(dt.UTC)), interval=result.interval_s, status=result.status
        )

    @after(Action.boot_notification)
    async def after_boot_notification(self, **kwargs):
        """Pending: its device model is read. Once accepted: its share of the fuses at once, a
        check that it holds it, then what energy control reads set (SetVariables)."""
        if self.reads_device_model:
            await self.device_model_read()
        elif self.registration_accepted:
            await self.control_after_boot()
            await self.device_model_settings_send()

    @on(Action.heartbeat, skip_schema_validation=True)
    async def on_heartbeat(self, **kwargs):
        hot_path_writes().heartbeats.write_later(self.charger_pk)
        return call_result.Heartbeat(current_time=iso_utc(dt.datetime.now(dt.UTC)))

    @on(Action.status_notification, skip_schema_validation=True)
    async def on_status_notification(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **kwargs
    ):
        """One connector of one EVSE; stored on the EVSE's row (chargers.services.evse_status_update)."""
        check_range(evse_id, "evseId", minimum=0)
        check_range(connector_id, "connectorId", minimum=0)
        status_at, _ = server_time_if_off(
            parse_ocpp_datetime(timestamp, "timestamp"), received_at=dt.datetime.now(dt.UTC)
        )
        changed = await db(charger_services.evse_status_update)(
            charger_pk=self.charger_pk,
            evse_id=evse_id,
            connector_id=connector_id,
            status=connector_status,
            timestamp=status_at,
        )
        events.charger_changed(charger_pk=self.charger_pk)
        if changed:
            await self.rebalance(f"EVSE {evse_id} connector {connector_id} {connector_status}")
        return call_result.StatusNotification()

    @on(Action.transaction_event, skip_schema_validation=True)
    async def on_transaction_event(
        self, event_type: str, timestamp: str, trigger_reason: str, seq_no: int, transaction_info: dict, **kwargs
    ):
        """Start, update or end a session by the ledger's rules (sessions/ledger.py): replays,
        offline queues and events out of order are normal. A start, an end and a change of
        charging state re-run energy control; the token is answered by the ID tag rules (our
        own start's is Accepted)."""
        check_range(seq_no, "seqNo", minimum=0, maximum=INT32_MAX)
        if not transaction_info["transaction_id"]:
            raise PropertyConstraintViolationError(description="transactionInfo/transactionId must not be empty")
        received_at = dt.datetime.now(dt.UTC)
        event_at, charger_event_at = server_time_if_off(
            parse_ocpp_datetime(timestamp, "timestamp"), received_at=received_at
        )
        evse = kwargs.get("evse")
        samples, rejected = samples_from_meter_values(
            kwargs.get("meter_value") or [], received_at=received_at, max_power_w=(await self.rating()).max_power_w
        )
        id_token = kwargs.get("id_token") or {}
        event = TransactionEventData(
            event_type=event_type,
            charger_transaction_id=transaction_info["transaction_id"],
            seq_no=seq_no,
            timestamp=event_at,
            charger_timestamp=charger_event_at,
            trigger_reason=trigger_reason,
            offline=kwargs.get("offline", False),
            evse_id=check_range(evse["id"], "evse/id", minimum=1) if evse else None,
            id_token="" if id_token.get("type") == IdTokenEnumType.no_authorization else id_token.get("id_token", ""),
            charging_state=transaction_info.get("charging_state", ""),
            stopped_reason=transaction_info.get("stopped_reason", ""),
            number_of_phases_used=kwargs.get("number_of_phases_used"),
            remote_start_id=transaction_info.get("remote_start_id"),
            reservation_id=kwargs.get("reservation_id"),
            samples=samples,
            rejected=rejected,
        )
        if event.number_of_phases_used is not None:
            check_range(event.number_of_phases_used, "numberOfPhasesUsed", minimum=0, maximum=3)
        result = await hot_path_writes().transaction_events.write((self.charger_pk, event))
        if result.created:
            events.transaction_started(
                charger_pk=self.charger_pk,
                charge_point_id=self.id,
                transaction_id=result.session_pk,
                connector_id=result.connector_id,
                id_tag=event.id_token,
                meter_start_wh=None,
                timestamp=event_at,
            )
        if samples:
            events.meter_values(
                charger_pk=self.charger_pk,
                charge_point_id=self.id,
                connector_id=result.connector_id,
                transaction_id=result.session_pk,
                samples=samples,
            )
        if result.closed:
            events.transaction_stopped(
                charger_pk=self.charger_pk,
                charge_point_id=self.id,
                transaction_id=result.session_pk,
                meter_stop_wh=None,
                timestamp=event_at,
                reason=event.stopped_reason,
                id_tag=event.id_token,
            )
            await self.rebalance("transaction ended")
        elif result.created and event_type == ledger.STARTED:
            # Answered once the fuse limits fit the new car, lowered ones first (answered_in_a_task).
            await self.rebalance_now("transaction started", protection_only=True)
        elif result.created or result.charging_state_changed:
            await self.rebalance(f"transaction {event_type.lower()}, {event.charging_state or 'no charging state'}")
        if result.running:
            await self.rebalance_on_draw_change(samples)
        return call_result.TransactionEvent(id_token_info=id_token_info(result.id_token_info))

    @on(Action.authorize, skip_schema_validation=True)
    async def on_authorize(self, id_token: dict, **kwargs):
        """A token checked by 1.6's ID tag rules (our own start token Accepted, an unknown one
        remembered as Invalid for the installer to accept), matched without regard to case as
        2.0.1 asks (sessions.services.id_tag_spelling). A NoAuthorization token needs none."""
        if id_token["type"] == IdTokenEnumType.no_authorization:
            info = {"status": AuthorizationStatusEnumType.accepted}
        else:
            info = await db(session_services.id_token_info)(charger_pk=self.charger_pk, id_token=id_token["id_token"])
            # An empty token names no tag.
            info = info or {"status": AuthorizationStatusEnumType.invalid}
        return call_result.Authorize(id_token_info=id_token_info(info))

    @on(Action.meter_values, skip_schema_validation=True)
    async def on_meter_values(self, evse_id: int, meter_value: list, **kwargs):
        """Samples taken outside a transaction (a transaction's come in its TransactionEvents),
        kept as 1.6's MeterValues without a transactionId: on the EVSE's connector (0: the
        station's main meter), in no session even while one runs there, those outside physics
        or the clock apart. Energy control reads a car's draw from its session only: no run."""
        check_range(evse_id, "evseId", minimum=0)
        samples, rejected = samples_from_meter_values(
            meter_value, received_at=dt.datetime.now(dt.UTC), max_power_w=(await self.rating()).max_power_w
        )
        await self.samples_store(connector_id=evse_id, transaction_id=None, samples=samples, rejected=rejected)
        return call_result.MeterValues()

    @after(Action.transaction_event)
    async def after_transaction_event(self, event_type: str, **kwargs):
        """Once a start is answered: the rest of energy control (solar, time of use), as for 1.6."""
        if event_type == ledger.STARTED:
            await self.rebalance_now("transaction started")

    @on(Action.firmware_status_notification, skip_schema_validation=True)
    async def on_firmware_status_notification(self, status: str, **kwargs):
        """Track a firmware update the installer started."""
        await db(charger_services.charger_firmware_status)(charger_pk=self.charger_pk, status=status)
        return call_result.FirmwareStatusNotification()

    @on(Action.log_status_notification, skip_schema_validation=True)
    async def on_log_status_notification(self, status: str, **kwargs):
        """Track a log upload (2.0.1's GetLog does what 1.6's GetDiagnostics did)."""
        await db(charger_services.charger_diagnostics_status)(charger_pk=self.charger_pk, status=status)
        return call_result.LogStatusNotification()

    @on(Action.security_event_notification, skip_schema_validation=True)
    async def on_security_event_notification(self, timestamp: str, **kwargs):
        """Into the event log, where installers read why a station rebooted or refused us."""
        parse_ocpp_datetime(timestamp, "timestamp")
        event_type, tech_info = kwargs["type"], kwargs.get("tech_info", "")
        await db(charger_services.charger_event_record)(
            charge_point_id=self.id,
            charger_pk=self.charger_pk,
            kind=ChargerEvent.Kind.SECURITY_EVENT,
            message=f"{event_type}: {tech_info}" if tech_info else event_type,
            remote_address=self.remote_address,
            payload={"type": event_type, "timestamp": timestamp, "techInfo": tech_info},
        )
        return call_result.SecurityEventNotification()

    @on(Action.data_transfer, skip_schema_validation=True)
    async def on_data_transfer(self, vendor_id: str, message_id: str = "-", data=None, **kwargs):
        """Keep vendor data in the event log (its start and its size); no vendor extension is
        understood here. 2.0.1's data may be any JSON value."""
        text = data if isinstance(data, str) else "" if data is None else json.dumps(data)
        await self.vendor_data_record(vendor_id=vendor_id, message_id=message_id, text=text)
        return call_result.DataTransfer(status=DataTransferStatusEnumType.unknown_vendor_id)
