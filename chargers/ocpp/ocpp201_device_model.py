"""OCPP 2.0.1: a station's device model read at boot, a mixin of ChargePoint201
(chargers/ocpp/ocpp201.py). A station whose model is unknown (never read, or its firmware
changed: chargers.device_model.boot_step) is answered Pending (B02), asked GetBaseReport
FullInventory, and once its NotifyReport parts are in, or it would not or did not report in
time, triggered to boot again (TriggerMessage BootNotification) and Accepted. Then, as 1.6's
probe does with ChangeConfiguration, SetVariables give energy control what it reads."""

import asyncio

from channels.db import database_sync_to_async
from django.conf import settings
from ocpp.exceptions import PropertyConstraintViolationError, SecurityError
from ocpp.routing import on
from ocpp.v201 import call_result
from ocpp.v201.enums import Action, GenericDeviceModelStatusEnumType, ReportBaseEnumType

from chargers import device_model
from chargers import services as charger_services
from chargers.models import PROBE_REQUESTED_BY, ChargerCommand
from chargers.ocpp.base import check_int32, parse_ocpp_datetime
from chargers.protocols import ocpp201 as ocpp201_calls

db = database_sync_to_async

# DeviceVariable's EVSE and connector columns; a station's EVSEs are numbered from 1.
EVSE_ID_MAX = 32767
PENDING_REFUSAL = "the station is booting: its device model is being read (OCPP 2.0.1 B02)"


def _evse_checked(report_data: list[dict]) -> None:
    for i, item in enumerate(report_data):
        evse = item["component"].get("evse") or {}
        for key in ("id", "connector_id"):
            if key in evse:
                check_int32(evse[key], f"reportData/{i}/component/evse/{key}")
                if not 0 <= evse[key] <= EVSE_ID_MAX:
                    raise PropertyConstraintViolationError(
                        description=f"reportData/{i}/component/evse/{key} must be 0 to {EVSE_ID_MAX}"
                    )


class DeviceModelBoot:
    """The boot's reading and setting; self is a ChargePoint201 (charger_pk, call_and_record...)."""

    # B02.FR.09: while Pending a station sends BootNotification, and what the CSMS asked for
    # (on_notify_report refuses a report no boot asked for).
    allowed_before_acceptance = frozenset({Action.boot_notification.value, Action.notify_report.value})
    # Set by each boot: Pending while the device model is read.
    reads_device_model = False
    # The report this connection asked for at boot: its first part replaces the stored model.
    boot_report_id: int | None = None
    _report_in: asyncio.Event | None = None
    _reading = False

    @on(Action.notify_report, skip_schema_validation=True)
    async def on_notify_report(self, request_id: int, generated_at: str, seq_no: int, **kwargs):
        """One part of a device-model report, stored as it comes (the first part of the boot's
        full report replaces what was stored); the last part (no tbc) gives the compatibility
        profile and lets the boot go on. Before acceptance only the report the boot asked for is
        taken (B02.FR.09)."""
        if not self.registration_accepted and not self.reads_device_model:
            raise SecurityError(description="This charger is not accepted yet; send BootNotification")
        parse_ocpp_datetime(generated_at, "generatedAt")
        check_int32(request_id, "requestId")
        check_int32(seq_no, "seqNo")
        report_data = kwargs.get("report_data") or []
        _evse_checked(report_data)
        boot_report = request_id == self.boot_report_id
        await db(charger_services.device_variables_store)(
            charger_pk=self.charger_pk,
            rows=device_model.rows_from_report(report_data),
            replace=boot_report and seq_no == 0,
        )
        if not kwargs.get("tbc", False):
            await db(charger_services.device_model_read)(charger_pk=self.charger_pk)
            self._rating = None
            if boot_report and self._report_in is not None:
                self._report_in.set()
        return call_result.NotifyReport()

    async def device_model_read(self) -> None:
        """GetBaseReport while the station is Pending; its boot is triggered once the report is
        in or will not come (then it is accepted without it: never locked out in Pending)."""
        self.booted = True  # a boot came: the reconnect check must not call a Pending station
        if self._reading:  # it booted again while its report is awaited
            return
        self._reading = True
        try:
            self.boot_report_id = ocpp201_calls.new_request_id()
            self._report_in = asyncio.Event()
            reply = await self.call_and_record(
                ocpp201_calls.base_report_get(
                    request_id=self.boot_report_id, report_base=ReportBaseEnumType.full_inventory
                ),
                PROBE_REQUESTED_BY,
            )
            status = (reply.get("response") or {}).get("status")
            if status == GenericDeviceModelStatusEnumType.accepted:
                try:
                    async with asyncio.timeout(settings.OCPP_DEVICE_MODEL_WAIT_S):
                        await self._report_in.wait()
                except TimeoutError:
                    await self._unread(f"no complete report within {settings.OCPP_DEVICE_MODEL_WAIT_S} s")
            elif reply["outcome"] == ChargerCommand.Outcome.CALL_ERROR:
                await self._unread(f"GetBaseReport answered CALLERROR {reply.get('code', '')}")
            elif status:
                await self._unread(f"GetBaseReport answered {status}")
            else:  # no answer (timed out, gone)
                await self._unread(f"GetBaseReport: {reply.get('error') or reply['outcome']}")
            await self.call_and_record(
                ocpp201_calls.message_trigger(requested_message="BootNotification"), PROBE_REQUESTED_BY
            )
        finally:
            self._reading = False

    async def _unread(self, reason: str) -> None:
        await db(charger_services.device_model_unread)(charger_pk=self.charger_pk, reason=reason)

    async def device_model_settings_send(self) -> None:
        """Once accepted: SetVariables for what energy control reads (the sample interval, the
        measurands, added to, never narrowed); what the station accepts is its value from then on."""
        rows = await db(charger_services.device_model_rows)(charger_pk=self.charger_pk)
        for change in device_model.variable_changes(rows) if rows else ():
            reply = await self.call_and_record(
                ocpp201_calls.variables_set(
                    variable=ocpp201_calls.VariableName(component=change.component, variable=change.variable),
                    value=change.value,
                ),
                PROBE_REQUESTED_BY,
            )
            results = (reply.get("response") or {}).get("setVariableResult") or [{}]
            if results[0].get("attributeStatus") in ("Accepted", "RebootRequired"):
                await db(charger_services.device_variable_set)(charger_pk=self.charger_pk, change=change)

    def spawn_command(self, event: dict, channel_layer) -> None:
        """B02: while Pending the CSMS sends only what reading the station needs; a command from
        the admin, the API or energy control is refused as if the station were offline (it is
        sent everything once accepted)."""
        if not self.reads_device_model:
            super().spawn_command(event, channel_layer)
            return
        refused = {"type": "command.reply", "outcome": ChargerCommand.Outcome.OFFLINE, "error": PENDING_REFUSAL}
        self._spawn(channel_layer.send(event["reply_channel"], refused))
