"""The small forms behind the buttons on a charger's admin page: the parameters each OCPP 1.6
central-system action needs, checked before anything is sent. The OCPP 2.0.1 forms (below;
suffixed 201 where 1.6 has a form for the same action) offer that version's own choices; their
fields are named as the keywords of the builders in chargers.protocols.ocpp201, which get them
as they are cleaned."""

from django import forms
from django.core.validators import URLValidator
from django.utils import timezone

from chargers.models import Charger
from chargers.protocols.ocpp201 import new_request_id, variable_name_parse

# Connector ids as the Connector model holds them (PositiveSmallIntegerField).
MAX_CONNECTOR_ID = 32767
MAX_DURATION_S = 7 * 24 * 3600
# The OCPP 1.6 TriggerMessage schema's enum (the library's enum adds security-extension ones).
TRIGGER_MESSAGES = [
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
]
PROFILE_PURPOSES = ["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]


def _choices(values: list[str], *, blank: str | None = None) -> list[tuple[str, str]]:
    choices = [(value, value) for value in values]
    return [("", blank), *choices] if blank is not None else choices


def _connector_field(*, minimum: int, required: bool = True, initial: int | None = None, help_text: str = ""):
    return forms.IntegerField(
        label="Connector id",
        min_value=minimum,
        max_value=MAX_CONNECTOR_ID,
        required=required,
        initial=initial,
        help_text=help_text,
    )


def _location_field(help_text: str) -> forms.CharField:
    # Firmware and log servers are often FTP; OCPP only asks for a URI.
    return forms.CharField(
        label="Location (URL)",
        max_length=512,
        validators=[URLValidator(schemes=["http", "https", "ftp", "ftps", "sftp"])],
        help_text=help_text,
    )


class CommandForm(forms.Form):
    """Every command form knows its charger, for limits that depend on it."""

    def __init__(self, *args, charger: Charger, **kwargs):
        super().__init__(*args, **kwargs)
        self.charger = charger

    def _check_connector_exists(self, connector_id: int | None) -> int | None:
        count = self.charger.number_of_connectors
        if connector_id and count and connector_id > count:
            raise forms.ValidationError(f"This charger has {count} connector(s).")
        return connector_id


class NoParametersForm(CommandForm):
    pass


class RemoteStartForm(CommandForm):
    connector_id = _connector_field(minimum=1, initial=1)

    def clean_connector_id(self) -> int | None:
        return self._check_connector_exists(self.cleaned_data.get("connector_id"))


class ResetForm(CommandForm):
    type = forms.ChoiceField(
        choices=_choices(["Soft", "Hard"]),
        initial="Soft",
        help_text="Soft ends transactions and restarts the software; Hard reboots the charger.",
    )


class UnlockConnectorForm(CommandForm):
    connector_id = _connector_field(minimum=1, initial=1)

    def clean_connector_id(self) -> int | None:
        return self._check_connector_exists(self.cleaned_data.get("connector_id"))


class ChangeAvailabilityForm(CommandForm):
    connector_id = _connector_field(minimum=0, initial=0, help_text="0: the whole charger.")
    type = forms.ChoiceField(choices=_choices(["Operative", "Inoperative"]), initial="Operative")

    def clean_connector_id(self) -> int | None:
        return self._check_connector_exists(self.cleaned_data.get("connector_id"))


class GetConfigurationForm(CommandForm):
    keys = forms.CharField(
        required=False,
        max_length=2000,
        help_text="Comma-separated configuration keys; empty: every key.",
    )

    def clean_keys(self) -> list[str]:
        keys = list(dict.fromkeys(key.strip() for key in self.cleaned_data["keys"].split(",") if key.strip()))
        too_long = [key for key in keys if len(key) > 50]
        if too_long:
            raise forms.ValidationError(f"OCPP keys have at most 50 characters: {too_long[0][:60]}")
        return keys


class ChangeConfigurationForm(CommandForm):
    key = forms.CharField(max_length=50, help_text="E.g. MeterValueSampleInterval.")
    value = forms.CharField(max_length=500, strip=False)


class SetLimitForm(CommandForm):
    limit_w = forms.IntegerField(
        label="Limit (W)",
        min_value=0,
        help_text=(
            "0 pauses charging; so does a limit below the charger's minimum (6 A on each phase), unless it can "
            "switch to one phase. Sent in amps to chargers that only take amps. Clear power limit removes it."
        ),
    )
    duration_s = forms.IntegerField(
        label="Duration (s)",
        min_value=1,
        max_value=MAX_DURATION_S,
        required=False,
        help_text="The limit lapses after this; empty: until changed.",
    )
    reason = forms.CharField(max_length=200, required=False, initial="set in the admin")

    def clean_limit_w(self) -> int:
        limit_w = self.cleaned_data["limit_w"]
        if limit_w > self.charger.max_power_w:
            raise forms.ValidationError(f"At most the charger's {self.charger.max_power_w} W.")
        return limit_w


class ClearChargingProfileForm(CommandForm):
    profile_id = forms.IntegerField(label="Profile id", min_value=0, required=False)
    connector_id = _connector_field(minimum=0, required=False)
    purpose = forms.ChoiceField(choices=_choices(PROFILE_PURPOSES, blank="any"), required=False)
    stack_level = forms.IntegerField(min_value=0, required=False)


class GetCompositeScheduleForm(CommandForm):
    connector_id = _connector_field(minimum=0, initial=1, help_text="0: the whole charger.")
    duration_s = forms.IntegerField(label="Duration (s)", min_value=1, max_value=MAX_DURATION_S, initial=3600)
    charging_rate_unit = forms.ChoiceField(
        label="Unit", choices=_choices(["W", "A"], blank="the charger's choice"), required=False
    )


class TriggerMessageForm(CommandForm):
    requested_message = forms.ChoiceField(label="Message", choices=_choices(TRIGGER_MESSAGES))
    connector_id = _connector_field(minimum=0, required=False, help_text="Empty: the charger decides.")


class UpdateFirmwareForm(CommandForm):
    location = _location_field("Where the charger downloads the firmware.")
    retrieve_date = forms.DateTimeField(
        initial=timezone.now,
        help_text="When to download it (server time zone unless you give one); now or in the past: at once.",
    )
    retries = forms.IntegerField(min_value=0, max_value=100, required=False)
    retry_interval_s = forms.IntegerField(label="Retry interval (s)", min_value=0, required=False)


class GetDiagnosticsForm(CommandForm):
    location = _location_field("Where the charger uploads its diagnostics file.")
    start_time = forms.DateTimeField(required=False, help_text="Oldest log entry wanted (server time zone).")
    stop_time = forms.DateTimeField(required=False, help_text="Newest log entry wanted.")
    retries = forms.IntegerField(min_value=0, max_value=100, required=False)
    retry_interval_s = forms.IntegerField(label="Retry interval (s)", min_value=0, required=False)

    def clean(self) -> dict:
        cleaned = super().clean()
        start, stop = cleaned.get("start_time"), cleaned.get("stop_time")
        if start and stop and stop < start:
            self.add_error("stop_time", "The stop time is before the start time.")
        return cleaned


class DataTransferForm(CommandForm):
    vendor_id = forms.CharField(max_length=255, help_text="The charger vendor's identifier.")
    message_id = forms.CharField(max_length=50, required=False)
    data = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={"rows": 4}))


# --- OCPP 2.0.1 -----------------------------------------------------------------------------------

# The 2.0.1 TriggerMessage schema's enum.
TRIGGER_MESSAGES_201 = [
    "BootNotification",
    "Heartbeat",
    "StatusNotification",
    "MeterValues",
    "TransactionEvent",
    "FirmwareStatusNotification",
    "LogStatusNotification",
    "SignChargingStationCertificate",
    "SignV2GCertificate",
    "SignCombinedCertificate",
    "PublishFirmwareStatusNotification",
]
# The purposes a CSMS sets (ChargingStationExternalConstraints is the station's own, from an EMS).
PROFILE_PURPOSES_201 = ["ChargingStationMaxProfile", "TxDefaultProfile", "TxProfile"]
ATTRIBUTE_TYPES = ["Actual", "Target", "MinSet", "MaxSet"]
# A GetVariables of more than this is better a GetBaseReport (stations split at ItemsPerMessage).
MAX_VARIABLES = 50
# The schemas' lengths: attributeValue, transactionId.
MAX_ATTRIBUTE_VALUE = 1000
MAX_TRANSACTION_ID = 36
# Set only by the security buttons (chargers.admin_security): set here, the station would take
# a password or profile the server does not know, and hang up for good (the password would also
# stay readable in the command log). Lower case: OCPP names are case-insensitive (CiString).
SECURITY_VARIABLES = {
    ("securityctrlr", "basicauthpassword"): "Change the charger's password",
    ("securityctrlr", "securityprofile"): "Raise security profile",
}


def _evse_field(*, required: bool, initial: int | None = None, help_text: str = ""):
    """Our connector n is the station's EVSE n (chargers.services.evse_status_update)."""
    return forms.IntegerField(
        label="EVSE id",
        min_value=1,
        max_value=MAX_CONNECTOR_ID,
        required=required,
        initial=initial,
        help_text=help_text,
    )


def _evse_connector_field(*, required: bool, initial: int | None = None, help_text: str = ""):
    return forms.IntegerField(
        label="Connector id (on the EVSE)",
        min_value=1,
        max_value=MAX_CONNECTOR_ID,
        required=required,
        initial=initial,
        help_text=help_text,
    )


def _attribute_field():
    return forms.ChoiceField(
        label="Attribute", choices=_choices(ATTRIBUTE_TYPES, blank="Actual"), required=False, initial=""
    )


class EvseForm(CommandForm):
    """An EVSE this station has, and a connector only with an EVSE."""

    def clean_evse_id(self) -> int | None:
        return self._check_connector_exists(self.cleaned_data.get("evse_id"))

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("connector_id") and not cleaned.get("evse_id"):
            self.add_error("evse_id", "A connector is named on its EVSE: give the EVSE id too.")
        return cleaned


class RequestIdForm(CommandForm):
    """A fresh requestId, which the station's follow-up messages carry back."""

    def clean(self) -> dict:
        cleaned = super().clean()
        cleaned["request_id"] = new_request_id()
        return cleaned


class ResetForm201(EvseForm):
    reset_type = forms.ChoiceField(
        label="When",
        choices=_choices(["OnIdle", "Immediate"]),
        initial="OnIdle",
        help_text="OnIdle waits for the running transactions to end; Immediate ends them and restarts now.",
    )
    evse_id = _evse_field(required=False, help_text="Empty: the whole station.")


class UnlockConnectorForm201(EvseForm):
    evse_id = _evse_field(required=True, initial=1)
    connector_id = _evse_connector_field(required=True, initial=1)


class ChangeAvailabilityForm201(EvseForm):
    operational_status = forms.ChoiceField(
        label="Status", choices=_choices(["Operative", "Inoperative"]), initial="Operative"
    )
    evse_id = _evse_field(required=False, help_text="Empty: the whole station.")
    connector_id = _evse_connector_field(required=False, help_text="Empty: the whole EVSE.")


class TriggerMessageForm201(EvseForm):
    requested_message = forms.ChoiceField(label="Message", choices=_choices(TRIGGER_MESSAGES_201))
    evse_id = _evse_field(required=False, help_text="Empty: the station decides (all its EVSEs).")
    connector_id = _evse_connector_field(required=False)


class UpdateFirmwareForm201(RequestIdForm):
    location = _location_field("Where the station downloads the firmware.")
    retrieve_at = forms.DateTimeField(
        label="Retrieve at",
        initial=timezone.now,
        help_text="When to download it (server time zone unless you give one); now or in the past: at once.",
    )
    install_at = forms.DateTimeField(label="Install at", required=False, help_text="Empty: once downloaded.")
    retries = forms.IntegerField(min_value=0, max_value=100, required=False)
    retry_interval_s = forms.IntegerField(label="Retry interval (s)", min_value=0, required=False)

    def clean(self) -> dict:
        cleaned = super().clean()
        retrieve_at, install_at = cleaned.get("retrieve_at"), cleaned.get("install_at")
        if retrieve_at and install_at and install_at < retrieve_at:
            self.add_error("install_at", "The install time is before the download time.")
        return cleaned


class GetLogForm(RequestIdForm):
    location = _location_field("Where the station uploads its log file.")
    log_type = forms.ChoiceField(
        label="Log", choices=_choices(["DiagnosticsLog", "SecurityLog"]), initial="DiagnosticsLog"
    )
    oldest_at = forms.DateTimeField(label="Oldest", required=False, help_text="Oldest log entry wanted.")
    latest_at = forms.DateTimeField(label="Latest", required=False, help_text="Newest log entry wanted.")
    retries = forms.IntegerField(min_value=0, max_value=100, required=False)
    retry_interval_s = forms.IntegerField(label="Retry interval (s)", min_value=0, required=False)

    def clean(self) -> dict:
        cleaned = super().clean()
        oldest, latest = cleaned.get("oldest_at"), cleaned.get("latest_at")
        if oldest and latest and latest < oldest:
            self.add_error("latest_at", "The newest entry is before the oldest.")
        return cleaned


class ClearChargingProfileForm201(EvseForm):
    profile_id = forms.IntegerField(label="Profile id", min_value=0, required=False, help_text="Given: only it.")
    evse_id = forms.IntegerField(
        label="EVSE id", min_value=0, max_value=MAX_CONNECTOR_ID, required=False, help_text="0: the station's own."
    )
    purpose = forms.ChoiceField(choices=_choices(PROFILE_PURPOSES_201, blank="any"), required=False)
    stack_level = forms.IntegerField(min_value=0, required=False)


class GetCompositeScheduleForm201(EvseForm):
    evse_id = forms.IntegerField(
        label="EVSE id", min_value=0, max_value=MAX_CONNECTOR_ID, initial=1, help_text="0: the whole station."
    )
    duration_s = forms.IntegerField(label="Duration (s)", min_value=1, max_value=MAX_DURATION_S, initial=3600)
    charging_rate_unit = forms.ChoiceField(
        label="Unit", choices=_choices(["W", "A"], blank="the station's choice"), required=False
    )


class GetVariablesForm(CommandForm):
    variables = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=MAX_VARIABLES * 110,
        help_text=(
            "One per line: Component.Variable, e.g. SmartChargingCtrlr.RateUnit; an instance as "
            "OCPPCommCtrlr.MessageTimeout:Default, an EVSE's as EVSE@1.Power. Every variable: Get base report."
        ),
    )
    attribute_type = _attribute_field()

    def clean_variables(self) -> list:
        lines = list(dict.fromkeys(line.strip() for line in self.cleaned_data["variables"].splitlines()))
        lines = [line for line in lines if line]
        if len(lines) > MAX_VARIABLES:
            raise forms.ValidationError(f"At most {MAX_VARIABLES} variables; for more, use Get base report.")
        try:
            return [variable_name_parse(line) for line in lines]
        except ValueError as error:
            raise forms.ValidationError(str(error)) from error


class SetVariablesForm(CommandForm):
    variable = forms.CharField(max_length=110, help_text="Component.Variable, e.g. OCPPCommCtrlr.HeartbeatInterval.")
    value = forms.CharField(max_length=MAX_ATTRIBUTE_VALUE, strip=False)
    attribute_type = _attribute_field()

    def clean_variable(self):
        try:
            variable = variable_name_parse(self.cleaned_data["variable"])
        except ValueError as error:
            raise forms.ValidationError(str(error)) from error
        button = SECURITY_VARIABLES.get((variable.component.lower(), variable.variable.lower()))
        if button:
            raise forms.ValidationError(f"Use the {button} button: it keeps the server's record in step.")
        return variable


class GetBaseReportForm(RequestIdForm):
    report_base = forms.ChoiceField(
        label="Report",
        choices=_choices(["ConfigurationInventory", "FullInventory", "SummaryInventory"]),
        initial="ConfigurationInventory",
        help_text=(
            "ConfigurationInventory: the settings one may change; FullInventory: every variable; "
            "SummaryInventory: what needs attention. The station sends it in NotifyReport messages."
        ),
    )


class GetChargingProfilesForm(RequestIdForm):
    evse_id = forms.IntegerField(
        label="EVSE id",
        min_value=0,
        max_value=MAX_CONNECTOR_ID,
        required=False,
        help_text="0: the station's own; empty: all.",
    )
    purpose = forms.ChoiceField(choices=_choices(PROFILE_PURPOSES_201, blank="any"), required=False)
    stack_level = forms.IntegerField(min_value=0, required=False)


class GetTransactionStatusForm(CommandForm):
    transaction_id = forms.CharField(
        label="Transaction id",
        max_length=MAX_TRANSACTION_ID,
        required=False,
        help_text="The station's own transactionId; empty: whether any message is still queued.",
    )
