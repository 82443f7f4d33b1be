"""The buttons on a charger's admin page: for each OCPP 1.6 central-system action its form
(chargers.admin_command_forms), a pure builder from the form's cleaned data to the ocpp
library's typed call (sent as its camelCase payload), and how the charger's answer reads to
an installer (a failure's sentence is chargers.failures').

Start, stop and the power limit (set and clear) go through energy.remote, so the admin
follows the same rules as the API and each charger is spoken to in its own OCPP version;
every other action goes straight down the command path, built in 1.6 only: an OCPP 2.0.1
station is told it has no such button yet rather than sent a call it cannot read.
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
    ChangeConfigurationForm,
    ClearChargingProfileForm,
    CommandForm,
    DataTransferForm,
    GetCompositeScheduleForm,
    GetConfigurationForm,
    GetDiagnosticsForm,
    NoParametersForm,
    RemoteStartForm,
    ResetForm,
    SetLimitForm,
    TriggerMessageForm,
    UnlockConnectorForm,
    UpdateFirmwareForm,
)
from chargers.commands import CommandInvalid, charger_command_sync
from chargers.models import OCPP16, Charger
from chargers.protocols import ocpp16
from energy.remote import charger_clear_limit, charger_remote_start, charger_remote_stop, charger_set_limit
from graylogic.datetimes import iso_utc

# Answers that mean the charger did (or will do) what it was asked.
DONE_STATUSES = {"Accepted", "Unlocked"}
# Answers that mean "yes, but later": after the running transaction, after a reboot.
LATER_STATUSES = {"Scheduled", "RebootRequired"}


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
        if (charger.connection_protocol or charger.protocol) != OCPP16:
            raise CommandInvalid(f"{self.label} is not available for OCPP 2.0.1 stations in the admin yet")
        return charger_command_sync(
            charge_point_id=charger.charge_point_id,
            action=self.action,
            payload=self.build(cleaned),
            requested_by=requested_by,
        )


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
            description="Release a cable stuck in the socket.",
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
            description="Empty the charger's authorization cache.",
        ),
        AdminCommand(
            "set-limit",
            "Set power limit",
            "SetChargingProfile",
            SetLimitForm,
            service=_send_set_limit,
            description=(
                "A person's cap on this charger: energy control combines it with the fuses, solar, "
                "tariffs and the grid, and sends the result at once."
            ),
        ),
        AdminCommand(
            "clear-limit",
            "Clear power limit",
            "SetChargingProfile",
            NoParametersForm,
            service=_send_clear_limit,
            description=(
                "Remove the person's cap set above (or over the API or MQTT): energy control gives the "
                "charger its share again and sends what changed."
            ),
        ),
        AdminCommand(
            "clear-charging-profile",
            "Clear charging profile",
            "ClearChargingProfile",
            ClearChargingProfileForm,
            build_clear_charging_profile,
            description="Leave everything empty to clear every profile on the charger.",
        ),
        AdminCommand(
            "get-composite-schedule",
            "Get composite schedule",
            "GetCompositeSchedule",
            GetCompositeScheduleForm,
            build_get_composite_schedule,
            description="The limits the charger will apply, all its profiles combined.",
        ),
        AdminCommand(
            "trigger-message",
            "Trigger message",
            "TriggerMessage",
            TriggerMessageForm,
            build_trigger_message,
            description="Ask the charger to send one of its messages now.",
        ),
        AdminCommand("update-firmware", "Update firmware", "UpdateFirmware", UpdateFirmwareForm, build_update_firmware),
        AdminCommand("get-diagnostics", "Get diagnostics", "GetDiagnostics", GetDiagnosticsForm, build_get_diagnostics),
        AdminCommand(
            "data-transfer",
            "Data transfer",
            "DataTransfer",
            DataTransferForm,
            build_data_transfer,
            description="A vendor-specific message.",
        ),
    ]
}


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

    @property
    def answer_json(self) -> str:
        return json.dumps(self.answer, indent=2, ensure_ascii=False)


def _schedule_rows(answer: dict) -> list[dict]:
    schedule = answer.get("chargingSchedule") or {}
    try:
        start = dt.datetime.fromisoformat(str(answer.get("scheduleStart", "")).replace("Z", "+00:00"))
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


def answer_view(action: str, answer: dict[str, Any]) -> AnswerView:
    """The charger's answer as the command page shows it."""
    status = answer.get("status")
    if action == "GetConfiguration":
        keys = answer.get("configurationKey") or []
        unknown = answer.get("unknownKey") or []
        summary = f"The charger returned {len(keys)} configuration key(s)"
        if unknown:
            summary += f"; it does not know {', '.join(unknown)}"
        level = "warning" if unknown else "success"
        return AnswerView(level, summary, answer, configuration=keys, unknown_keys=unknown)
    if action == "GetDiagnostics":
        name = answer.get("fileName")
        summary = f"The charger will upload {name}" if name else "The charger has no diagnostics to upload"
        return AnswerView("success" if name else "warning", summary, answer)
    if action == "UpdateFirmware":
        return AnswerView("success", "The charger acknowledged the firmware update", answer)
    level = "success" if status in DONE_STATUSES else "warning" if status in LATER_STATUSES else "error"
    summary = f"The charger answered {status}"
    if action == "GetCompositeSchedule" and status == "Accepted":
        schedule = answer.get("chargingSchedule") or {}
        return AnswerView(
            level,
            summary,
            answer,
            schedule=_schedule_rows(answer),
            schedule_unit=schedule.get("chargingRateUnit", ""),
            schedule_start=answer.get("scheduleStart", ""),
        )
    return AnswerView(level, summary, answer)
