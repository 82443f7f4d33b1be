"""OCPP 2.0.1: one handler per charging station→CSMS action this server handles so far (boot,
heartbeat, status per EVSE and connector, firmware and log status, security events, vendor data).
Every other action a station sends is answered NotSupported, never stored halfway."""

import datetime as dt
import json

from channels.db import database_sync_to_async
from ocpp.exceptions import (
    FormatViolationError,
    OccurrenceConstraintViolationError,
    OCPPError,
    PropertyConstraintViolationError,
)
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint as V201ChargePoint
from ocpp.v201 import call_result
from ocpp.v201.enums import Action, DataTransferStatusEnumType

from chargers import events
from chargers import services as charger_services
from chargers.models import ChargerEvent
from chargers.ocpp.base import CentralSystemChargePoint, check_int32, parse_ocpp_datetime
from chargers.ocpp.writes import hot_path_writes
from chargers.protocols import ocpp201 as ocpp201_calls
from graylogic.datetimes import iso_utc
from sessions.charger_clock import server_time_if_off

db = database_sync_to_async

# Connector rows are EVSEs (chargers.services.evse_status_update); their column holds up to this.
EVSE_ID_MAX = 32767
# The part of a DataTransfer's data kept in the event log, as for 1.6.
DATA_TRANSFER_KEPT_CHARS = 4096

# What a station sends that this server does not handle yet (transactions, the device model,
# certificates, ...): answered NotSupported, so the station keeps what it has not delivered.
NOT_HANDLED_YET = frozenset(
    {
        Action.authorize,
        Action.cleared_charging_limit,
        Action.get_15118_ev_certificate,
        Action.get_certificate_status,
        Action.meter_values,
        Action.notify_charging_limit,
        Action.notify_customer_information,
        Action.notify_display_messages,
        Action.notify_ev_charging_needs,
        Action.notify_ev_charging_schedule,
        Action.notify_event,
        Action.notify_monitoring_report,
        Action.notify_report,
        Action.publish_firmware_status_notification,
        Action.report_charging_profiles,
        Action.reservation_status_update,
        Action.sign_certificate,
        Action.transaction_event,
    }
)


def check_range(value: int, field: str, *, minimum: int, maximum: int = EVSE_ID_MAX) -> int:
    check_int32(value, field)
    if not minimum <= value <= maximum:
        raise PropertyConstraintViolationError(description=f"{field} must be {minimum} to {maximum}")
    return value


class ChargePoint201(CentralSystemChargePoint, V201ChargePoint):
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

    def unparsable_code(self, error: OCPPError) -> str:
        # ocpp.messages.unpack names an unknown message type id a PropertyConstraintViolation.
        return "MessageTypeNotSupported" if isinstance(error, PropertyConstraintViolationError) else "RpcFrameworkError"

    @on(Action.boot_notification, skip_schema_validation=True)
    async def on_boot_notification(self, charging_station: dict, reason: str, **kwargs):
        """Store the station's identity as for 1.6 (fields 1.6 has and 2.0.1 lacks are emptied)
        and answer Accepted, Pending or Rejected by the same registration rules."""
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
        result = await db(charger_services.charger_boot)(charger_pk=self.charger_pk, boot_info=boot_info)
        self.registration_accepted = result.status == "Accepted"
        if self.registration_accepted:
            await self.profiles_unknown()
        events.charger_changed(charger_pk=self.charger_pk)
        return call_result.BootNotification(
            current_time=iso_utc(dt.datetime.now(dt.UTC)), interval=result.interval_s, status=result.status
        )

    @after(Action.boot_notification)
    async def after_boot_notification(self, **kwargs):
        """Once accepted: its share of the fuses at once, then a check that it holds it. (Reading
        its device model first, as 1.6's configuration is, comes with GetBaseReport.)"""
        if self.registration_accepted:
            await self.control_after_boot()

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
        await db(charger_services.charger_event_record)(
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
        return call_result.DataTransfer(status=DataTransferStatusEnumType.unknown_vendor_id)
