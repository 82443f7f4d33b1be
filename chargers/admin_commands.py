"""The buttons on a charger's admin page: for each central-system action of the charger's OCPP
version its form (chargers.admin_command_forms), a pure builder from the form's cleaned data to
the ocpp library's typed call (sent as its camelCase payload), and how the charger's answer
reads to an installer (a failure's sentence is chargers.failures').

A 1.6 charger gets ADMIN_COMMANDS, a 2.0.1 station ADMIN_COMMANDS_201 (admin_commands_for):
2.0.1's own choices (Reset Immediate/OnIdle, EVSEs), its names for what 1.6 had (GetVariables
and SetVariables for the configuration, GetLog for the diagnostics) and its own actions
(GetBaseReport, GetChargingProfiles, GetTransactionStatus). Start, stop and the power limit
(set and clear) go through energy.remote for both, so the admin follows the same rules as the
API; every other action goes straight down the command path.
"""

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ocpp.v16 import call
from ocpp.v16.enums import (
    AvailabilityType,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    MessageTrigger,
    ResetType,
)

from chargers.admin_command_forms import (
    ChangeAvailabilityForm,
    ChangeAvailabilityForm201,
    ChangeConfigurationForm,
    ClearChargingProfileForm,
    ClearChargingProfileForm201,
    CommandForm,
    DataTransferForm,
    GetBaseReportForm,
    GetChargingProfilesForm,
    GetCompositeScheduleForm,
    GetCompositeScheduleForm201,
    GetConfigurationForm,
    GetDiagnosticsForm,
    GetLogForm,
    GetTransactionStatusForm,
    GetVariablesForm,
    NoParametersForm,
    RemoteStartForm,
    ResetForm,
    ResetForm201,
    SetLimitForm,
    SetVariablesForm,
    TriggerMessageForm,
    TriggerMessageForm201,
    UnlockConnectorForm,
    UnlockConnectorForm201,
    UpdateFirmwareForm,
    UpdateFirmwareForm201,
)
from chargers.commands import charger_command_sync
from chargers.models import OCPP201, Charger
from chargers.protocols import ChargerCall, ocpp16, ocpp201
from energy.remote import charger_clear_limit, charger_remote_start, charger_remote_stop, charger_set_limit
from graylogic.datetimes import iso_utc

# Answers that mean the charger did (or will do) what it was asked (AcceptedCanceled: and
# dropped the upload or update it was busy with).
DONE_STATUSES = {"Accepted", "Unlocked", "AcceptedCanceled"}
# Answers that mean "yes, but later": after the running transaction, after a reboot.
LATER_STATUSES = {"Scheduled", "RebootRequired"}
# Answers that mean "understood, but there is nothing to report" (2.0.1).
NOTHING_STATUSES = {"NoProfiles", "EmptyResultSet"}
# Every other status is a no: Rejected, NotSupported, UnlockFailed, UnknownConnector,
# OngoingAuthorizedTransaction, NotImplemented, UnknownVendorId, Unknown...


def _given(cleaned: dict, name: str):
    """A form field the installer filled in, else None (which leaves it out of the call)."""
    value = cleaned.get(name)
    return None if value in (None, "") else value


def _enum_given(enum, cleaned: dict, name: str):
    value = _given(cleaned, name)
    return None if value is None else enum(value)


# --- Builders: cleaned form data in, the typed OCPP 1.6 call's camelCase payload out ---------


def build_reset(cleaned: dict) -> dict:
    return ocpp16.payload_of(call.Reset(type=ResetType(cleaned["type"])))


def build_unlock_connector(cleaned: dict) -> dict:
    return ocpp16.payload_of(call.UnlockConnector(connector_id=cleaned["connector_id"]))


def build_change_availability(cleaned: dict) -> dict:
    return ocpp16.payload_of(
        call.ChangeAvailability(connector_id=cleaned["connector_id"], type=AvailabilityType(cleaned["type"]))
    )


def build_get_configuration(cleaned: dict) -> dict:
    return ocpp16.payload_of(call.GetConfiguration(key=cleaned.get("keys") or None))


def build_change_configuration(cleaned: dict) -> dict:
    return ocpp16.payload_of(call.ChangeConfiguration(key=cleaned["key"], value=cleaned["value"]))


def build_clear_cache(cleaned: dict) -> dict:
    return ocpp16.payload_of(call.ClearCache())


def build_clear_charging_profile(cleaned: dict) -> dict:
    return ocpp16.payload_of(
        call.ClearChargingProfile(
            id=_given(cleaned, "profile_id"),
            connector_id=_given(cleaned, "connector_id"),
            charging_profile_purpose=_enum_given(ChargingProfilePurposeType, cleaned, "purpose"),
            stack_level=_given(cleaned, "stack_level"),
        )
    )


def build_get_composite_schedule(cleaned: dict) -> dict:
    return ocpp16.payload_of(
        call.GetCompositeSchedule(
            connector_id=cleaned["connector_id"],
            duration=cleaned["duration_s"],
            charging_rate_unit=_enum_given(ChargingRateUnitType, cleaned, "charging_rate_unit"),
        )
    )


def build_trigger_message(cleaned: dict) -> dict:
    return ocpp16.payload_of(
        call.TriggerMessage(
            requested_message=MessageTrigger(cleaned["requested_message"]),
            connector_id=_given(cleaned, "connector_id"),
        )
    )


def build_update_firmware(cleaned: dict) -> dict:
    return ocpp16.payload_of(
        call.UpdateFirmware(
            location=cleaned["location"],
            retrieve_date=iso_utc(cleaned["retrieve_date"]),
            retries=_given(cleaned, "retries"),
            retry_interval=_given(cleaned, "retry_interval_s"),
        )
    )


def build_get_diagnostics(cleaned: dict) -> dict:
    return ocpp16.payload_of(
        call.GetDiagnostics(
            location=cleaned["location"],
            retries=_given(cleaned, "retries"),
            retry_interval=_given(cleaned, "retry_interval_s"),
            start_time=iso_utc(_given(cleaned, "start_time")),
            stop_time=iso_utc(_given(cleaned, "stop_time")),
        )
    )


def build_data_transfer(cleaned: dict) -> dict:
    return ocpp16.payload_of(
        call.DataTransfer(
            vendor_id=cleaned["vendor_id"],
            message_id=_given(cleaned, "message_id"),
            data=_given(cleaned, "data"),
        )
    )


def from_form(builder: Callable[..., ChargerCall]) -> Callable[[dict], dict]:
    """A chargers.protocols.ocpp201 builder as a button's: the 2.0.1 forms' fields are its
    keywords, and an empty field is left out of the call."""

    def build(cleaned: dict) -> dict:
        return builder(**{name: None if value == "" else value for name, value in cleaned.items()}).payload

    return build


# --- Sending ---------------------------------------------------------------------------------


def _send_remote_start(*, charger: Charger, cleaned: dict, requested_by: str) -> dict:
    return charger_remote_start(charger=charger, requested_by=requested_by, connector_id=cleaned["connector_id"])


def _send_remote_stop(*, charger: Charger, cleaned: dict, requested_by: str) -> dict:
    return charger_remote_stop(charger=charger, requested_by=requested_by)


def _send_set_limit(*, charger: Charger, cleaned: dict, requested_by: str) -> dict:
    return charger_set_limit(
        charger=charger,
        limit_w=cleaned["limit_w"],
        reason=cleaned.get("reason") or "",
        duration_s=cleaned.get("duration_s"),
        requested_by=requested_by,
    )


def _send_clear_limit(*, charger: Charger, cleaned: dict, requested_by: str) -> dict:
    return charger_clear_limit(charger=charger, requested_by=requested_by)


@dataclass(frozen=True)
class AdminCommand:
    slug: str
    label: str
    action: str
    form: type[CommandForm]
    # Either a payload builder for the command path, or a remote-control service that builds
    # the payload itself and applies the rules the API shares.
    build: Callable[[dict], dict] | None = None
    service: Callable[..., dict] | None = None
    description: str = ""

    def send(self, *, charger: Charger, cleaned: dict, requested_by: str) -> dict:
        """Send the command and return the charger's answer; raises CommandFailed."""
        if self.service is not None:
            return self.service(charger=charger, cleaned=cleaned, requested_by=requested_by)
        return charger_command_sync(
            charge_point_id=charger.charge_point_id,
            action=self.action,
            payload=self.build(cleaned),
            requested_by=requested_by,
        )


SET_LIMIT = AdminCommand(
    "set-limit",
    "Set power limit",
    "SetChargingProfile",
    SetLimitForm,
    service=_send_set_limit,
    description=(
        "A person's cap on this charger: energy control combines it with the fuses, solar, "
        "tariffs and the grid, and sends the result at once."
    ),
)
CLEAR_LIMIT = AdminCommand(
    "clear-limit",
    "Clear power limit",
    "SetChargingProfile",
    NoParametersForm,
    service=_send_clear_limit,
    description=(
        "Remove the person's cap set above (or over the API or MQTT): energy control gives the "
        "charger its share again and sends what changed."
    ),
)
CLEAR_CACHE_DESCRIPTION = "Empty the charger's authorization cache."
CLEAR_PROFILE_DESCRIPTION = "Leave everything empty to clear every profile on the charger."
COMPOSITE_SCHEDULE_DESCRIPTION = "The limits the charger will apply, all its profiles combined."
TRIGGER_DESCRIPTION = "Ask the charger to send one of its messages now."
UNLOCK_DESCRIPTION = "Release a cable stuck in the socket."
DATA_TRANSFER_DESCRIPTION = "A vendor-specific message."

ADMIN_COMMANDS: dict[str, AdminCommand] = {
    command.slug: command
    for command in [
        AdminCommand(
            "remote-start",
            "Remote start",
            "RemoteStartTransaction",
            RemoteStartForm,
            service=_send_remote_start,
            description="Start charging on a connector (idTag GrayLogic); the car may still need plugging in.",
        ),
        AdminCommand(
            "remote-stop",
            "Remote stop",
            "RemoteStopTransaction",
            NoParametersForm,
            service=_send_remote_stop,
            description="End the charging session running on this charger.",
        ),
        AdminCommand("reset", "Reset", "Reset", ResetForm, build_reset),
        AdminCommand(
            "unlock-connector",
            "Unlock connector",
            "UnlockConnector",
            UnlockConnectorForm,
            build_unlock_connector,
            description=UNLOCK_DESCRIPTION,
        ),
        AdminCommand(
            "change-availability",
            "Change availability",
            "ChangeAvailability",
            ChangeAvailabilityForm,
            build_change_availability,
        ),
        AdminCommand(
            "get-configuration", "Get configuration", "GetConfiguration", GetConfigurationForm, build_get_configuration
        ),
        AdminCommand(
            "change-configuration",
            "Change configuration",
            "ChangeConfiguration",
            ChangeConfigurationForm,
            build_change_configuration,
        ),
        AdminCommand(
            "clear-cache",
            "Clear cache",
            "ClearCache",
            NoParametersForm,
            build_clear_cache,
            description=CLEAR_CACHE_DESCRIPTION,
        ),
        SET_LIMIT,
        CLEAR_LIMIT,
        AdminCommand(
            "clear-charging-profile",
            "Clear charging profile",
            "ClearChargingProfile",
            ClearChargingProfileForm,
            build_clear_charging_profile,
            description=CLEAR_PROFILE_DESCRIPTION,
        ),
        AdminCommand(
            "get-composite-schedule",
            "Get composite schedule",
            "GetCompositeSchedule",
            GetCompositeScheduleForm,
            build_get_composite_schedule,
            description=COMPOSITE_SCHEDULE_DESCRIPTION,
        ),
        AdminCommand(
            "trigger-message",
            "Trigger message",
            "TriggerMessage",
            TriggerMessageForm,
            build_trigger_message,
            description=TRIGGER_DESCRIPTION,
        ),
        AdminCommand("update-firmware", "Update firmware", "UpdateFirmware", UpdateFirmwareForm, build_update_firmware),
        AdminCommand("get-diagnostics", "Get diagnostics", "GetDiagnostics", GetDiagnosticsForm, build_get_diagnostics),
        AdminCommand(
            "data-transfer",
            "Data transfer",
            "DataTransfer",
            DataTransferForm,
            build_data_transfer,
            description=DATA_TRANSFER_DESCRIPTION,
        ),
    ]
}

ADMIN_COMMANDS_201: dict[str, AdminCommand] = {
    command.slug: command
    for command in [
        AdminCommand(
            "remote-start",
            "Remote start",
            "RequestStartTransaction",
            RemoteStartForm,
            service=_send_remote_start,
            description="Start charging on an EVSE (idToken GrayLogic, Central); the car may still need plugging in.",
        ),
        AdminCommand(
            "remote-stop",
            "Remote stop",
            "RequestStopTransaction",
            NoParametersForm,
            service=_send_remote_stop,
            description="End the charging session running on this station.",
        ),
        AdminCommand("reset", "Reset", "Reset", ResetForm201, from_form(ocpp201.reset)),
        AdminCommand(
            "unlock-connector",
            "Unlock connector",
            "UnlockConnector",
            UnlockConnectorForm201,
            from_form(ocpp201.connector_unlock),
            description=UNLOCK_DESCRIPTION,
        ),
        AdminCommand(
            "change-availability",
            "Change availability",
            "ChangeAvailability",
            ChangeAvailabilityForm201,
            from_form(ocpp201.availability_change),
        ),
        AdminCommand(
            "get-variables",
            "Get variables",
            "GetVariables",
            GetVariablesForm,
            from_form(ocpp201.variables_get),
            description="Read settings of the station's device model (2.0.1's configuration keys).",
        ),
        AdminCommand(
            "set-variables",
            "Set variable",
            "SetVariables",
            SetVariablesForm,
            from_form(ocpp201.variables_set),
            description="Change one setting of the station's device model.",
        ),
        AdminCommand(
            "get-base-report",
            "Get base report",
            "GetBaseReport",
            GetBaseReportForm,
            from_form(ocpp201.base_report_get),
            description="Ask the station for its whole device model, sent in NotifyReport messages.",
        ),
        AdminCommand(
            "clear-cache",
            "Clear cache",
            "ClearCache",
            NoParametersForm,
            from_form(ocpp201.cache_clear),
            description=CLEAR_CACHE_DESCRIPTION,
        ),
        SET_LIMIT,
        CLEAR_LIMIT,
        AdminCommand(
            "clear-charging-profile",
            "Clear charging profile",
            "ClearChargingProfile",
            ClearChargingProfileForm201,
            from_form(ocpp201.profiles_clear),
            description=CLEAR_PROFILE_DESCRIPTION,
        ),
        AdminCommand(
            "get-charging-profiles",
            "Get charging profiles",
            "GetChargingProfiles",
            GetChargingProfilesForm,
            from_form(ocpp201.profiles_get),
            description="Ask the station which profiles it holds, sent in ReportChargingProfiles messages.",
        ),
        AdminCommand(
            "get-composite-schedule",
            "Get composite schedule",
            "GetCompositeSchedule",
            GetCompositeScheduleForm201,
            from_form(ocpp201.composite_schedule_get),
            description=COMPOSITE_SCHEDULE_DESCRIPTION,
        ),
        AdminCommand(
            "trigger-message",
            "Trigger message",
            "TriggerMessage",
            TriggerMessageForm201,
            from_form(ocpp201.message_trigger),
            description=TRIGGER_DESCRIPTION,
        ),
        AdminCommand(
            "update-firmware",
            "Update firmware",
            "UpdateFirmware",
            UpdateFirmwareForm201,
            from_form(ocpp201.firmware_update),
        ),
        AdminCommand(
            "get-log",
            "Get log",
            "GetLog",
            GetLogForm,
            from_form(ocpp201.log_get),
            description="Ask the station to upload its diagnostics or security log (2.0.1's GetDiagnostics).",
        ),
        AdminCommand(
            "get-transaction-status",
            "Get transaction status",
            "GetTransactionStatus",
            GetTransactionStatusForm,
            from_form(ocpp201.transaction_status_get),
            description="Whether the station still holds messages it has not delivered.",
        ),
        AdminCommand(
            "data-transfer",
            "Data transfer",
            "DataTransfer",
            DataTransferForm,
            from_form(ocpp201.data_transfer),
            description=DATA_TRANSFER_DESCRIPTION,
        ),
    ]
}


def admin_commands_for(charger: Charger) -> dict[str, AdminCommand]:
    """The buttons of the OCPP version the charger speaks (its last connection's, else its configured one)."""
    return ADMIN_COMMANDS_201 if (charger.connection_protocol or charger.protocol) == OCPP201 else ADMIN_COMMANDS


# --- How the answer reads ----------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerView:
    level: str  # "success", "warning" or "error", as the messages framework names them
    summary: str
    answer: dict
    configuration: list[dict] = field(default_factory=list)
    unknown_keys: list[str] = field(default_factory=list)
    schedule: list[dict] = field(default_factory=list)
    schedule_unit: str = ""
    schedule_start: str = ""
    # 2.0.1's GetVariables and SetVariables: {"name", "status", "value"} per variable.
    variables: list[dict] = field(default_factory=list)

    @property
    def answer_json(self) -> str:
        return json.dumps(self.answer, indent=2, ensure_ascii=False)


def _schedule_rows(schedule: dict, schedule_start: str) -> list[dict]:
    try:
        start = dt.datetime.fromisoformat(str(schedule_start).replace("Z", "+00:00"))
    except ValueError:
        start = None
    rows = []
    for period in schedule.get("chargingSchedulePeriod") or []:
        offset = period.get("startPeriod", 0)
        rows.append(
            {
                "start_period": offset,
                "starts_at": iso_utc(start + dt.timedelta(seconds=offset)) if start else "",
                "limit": period.get("limit"),
                "number_phases": period.get("numberPhases", ""),
            }
        )
    return rows


def variable_label(component: dict, variable: dict) -> str:
    """A device-model variable as the installer types it (chargers.protocols.ocpp201.variable_name_parse)."""
    name = component.get("name", "")
    if component.get("instance"):
        name += f":{component['instance']}"
    evse = component.get("evse")
    if evse:
        name += f"@{evse.get('id')}" + (f"/{evse['connectorId']}" if evse.get("connectorId") else "")
    name += f".{variable.get('name', '')}"
    if variable.get("instance"):
        name += f":{variable['instance']}"
    return name


def _variable_rows(results: list[dict]) -> list[dict]:
    return [
        {
            "name": variable_label(result.get("component") or {}, result.get("variable") or {}),
            "status": result.get("attributeStatus", ""),
            "value": result.get("attributeValue", ""),
        }
        for result in results
    ]


def _level(status) -> str:
    if status in DONE_STATUSES:
        return "success"
    return "warning" if status in LATER_STATUSES | NOTHING_STATUSES else "error"


def _status_summary(answer: dict) -> str:
    """What the charger answered, with 2.0.1's reason when it gives one."""
    summary = f"The charger answered {answer.get('status')}"
    info = answer.get("statusInfo") or {}
    if info.get("reasonCode"):
        reason = info["reasonCode"] + (f": {info['additionalInfo']}" if info.get("additionalInfo") else "")
        summary += f" ({reason})"
    return summary


def _variables_view(action: str, answer: dict) -> AnswerView:
    """GetVariables: how many came back and which not; SetVariables: each one's answer. Some
    refused or only after a reboot: a warning; all refused: an error."""
    rows = _variable_rows(answer.get("getVariableResult") or answer.get("setVariableResult") or [])
    failed = [row for row in rows if row["status"] not in DONE_STATUSES | LATER_STATUSES]
    later = [row for row in rows if row["status"] in LATER_STATUSES]
    if action == "GetVariables":
        summary = f"The charger returned {len(rows) - len(failed)} of {len(rows)} variable(s)"
        if failed:
            summary += "; not returned: " + ", ".join(f"{row['name']} ({row['status']})" for row in failed)
    else:
        summary = "; ".join(f"The charger answered {row['status']} for {row['name']}" for row in rows)
    level = "error" if rows and len(failed) == len(rows) else "warning" if failed or later else "success"
    return AnswerView(level, summary, answer, variables=rows)


def _transaction_status_view(answer: dict) -> AnswerView:
    queued = answer.get("messagesInQueue")
    summary = "The charger still holds messages to deliver" if queued else "The charger has no messages queued"
    ongoing = answer.get("ongoingIndicator")
    if ongoing is not None:
        summary += "; the transaction is " + ("still ongoing" if ongoing else "not ongoing")
    return AnswerView("success", summary, answer)


def answer_view(action: str, answer: dict[str, Any]) -> AnswerView:
    """The charger's answer as the command page shows it (OCPP 1.6's and 2.0.1's)."""
    status = answer.get("status")
    if action == "GetConfiguration":
        keys = answer.get("configurationKey") or []
        unknown = answer.get("unknownKey") or []
        summary = f"The charger returned {len(keys)} configuration key(s)"
        if unknown:
            summary += f"; it does not know {', '.join(unknown)}"
        level = "warning" if unknown else "success"
        return AnswerView(level, summary, answer, configuration=keys, unknown_keys=unknown)
    if action in ("GetVariables", "SetVariables"):
        return _variables_view(action, answer)
    if action == "GetTransactionStatus":
        return _transaction_status_view(answer)
    if action == "GetDiagnostics":
        name = answer.get("fileName")
        summary = f"The charger will upload {name}" if name else "The charger has no diagnostics to upload"
        return AnswerView("success" if name else "warning", summary, answer)
    if action == "UpdateFirmware" and status is None:  # 1.6 answers with nothing
        return AnswerView("success", "The charger acknowledged the firmware update", answer)
    summary = _status_summary(answer)
    if action == "GetLog" and answer.get("filename"):
        summary += f"; it will upload {answer['filename']}"
    if action == "GetCompositeSchedule" and status == "Accepted":
        # 1.6 holds the schedule in chargingSchedule next to scheduleStart; 2.0.1 in schedule, with it.
        schedule = answer.get("chargingSchedule") or answer.get("schedule") or {}
        start = answer.get("scheduleStart") or schedule.get("scheduleStart", "")
        return AnswerView(
            _level(status),
            summary,
            answer,
            schedule=_schedule_rows(schedule, start),
            schedule_unit=schedule.get("chargingRateUnit", ""),
            schedule_start=start,
        )
    return AnswerView(_level(status), summary, answer)
