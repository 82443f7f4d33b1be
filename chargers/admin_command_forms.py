"""The small forms behind the buttons on a charger's admin page: the parameters each OCPP 1.6
central-system action needs, checked before anything is sent."""

from django import forms
from django.core.validators import URLValidator
from django.utils import timezone

from chargers.models import Charger

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
