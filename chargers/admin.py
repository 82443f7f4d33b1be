"""Where installers commission chargers and read what they did."""

import os

from django import forms
from django.contrib import admin, messages
from django.db.models import F

from chargers.configuration import id_tags_set_status
from chargers.models import Charger, ChargerEvent, Connector, IdTag
from chargers.services import charger_approve, charger_set_password
from graylogic.admin_utils import (
    EstimatedCountPaginator,
    ReadOnlyModelAdmin,
    ReadOnlyTabularInline,
    recent_rows_formset,
)
from sessions.models import ChargingSession

RECENT_ROWS = 20

BOOT_FIELDS = [
    "vendor",
    "model",
    "serial_number",
    "charge_box_serial_number",
    "firmware_version",
    "iccid",
    "imsi",
    "meter_type",
    "meter_serial_number",
    "booted_at",
]
LIVE_FIELDS = [
    "is_connected",
    "connected_at",
    "disconnected_at",
    "last_seen_at",
    "last_heartbeat_at",
    "remote_address",
    "connection_protocol",
    "status",
    "error_code",
    "firmware_status",
    "firmware_status_at",
    "diagnostics_status",
    "diagnostics_status_at",
]


class ChargerAdminForm(forms.ModelForm):
    new_password = forms.CharField(
        required=False,
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=(
            "The HTTP Basic password the charger sends. Leave blank to keep the current one. "
            "Not used while a password environment variable is set."
        ),
    )
    clear_password = forms.BooleanField(required=False, help_text="Remove the stored password.")

    class Meta:
        model = Charger
        fields = [
            "charge_point_id",
            "name",
            "location",
            "site",
            "circuit",
            "max_power_w",
            "phases",
            "enabled",
            "registration",
            "protocol",
            "heartbeat_interval_s",
            "accept_any_id_tag",
            "password_env",
        ]

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("new_password") and cleaned.get("clear_password"):
            raise forms.ValidationError("Set a new password or clear it, not both.")
        site, circuit = cleaned.get("site"), cleaned.get("circuit")
        if site and circuit and circuit.site_id != site.pk:
            self.add_error("circuit", f"This circuit is on another site ({circuit.site}).")
        return cleaned


class ConnectorInline(ReadOnlyTabularInline):
    model = Connector
    fields = ["connector_id", "status", "error_code", "info", "vendor_error_code", "status_at", "updated_at"]


class ChargerEventInline(ReadOnlyTabularInline):
    model = ChargerEvent
    fields = ["created_at", "kind", "remote_address", "message"]
    formset = recent_rows_formset(RECENT_ROWS)
    verbose_name_plural = f"recent events (newest {RECENT_ROWS}; the charger event log has them all)"


class ChargingSessionInline(ReadOnlyTabularInline):
    model = ChargingSession
    fields = ["transaction_id", "connector_id", "id_tag", "started_at", "stopped_at", "energy_wh", "stop_reason"]
    formset = recent_rows_formset(RECENT_ROWS)
    verbose_name_plural = f"recent charging sessions (newest {RECENT_ROWS})"


@admin.register(Charger)
class ChargerAdmin(admin.ModelAdmin):
    form = ChargerAdminForm
    list_display = [
        "charge_point_id",
        "name",
        "site",
        "is_connected",
        "registration",
        "enabled",
        "vendor",
        "model",
        "firmware_version",
        "last_heartbeat_at",
        "status",
    ]
    list_filter = ["site", "is_connected", "enabled", "registration", "vendor"]
    list_select_related = ["site"]
    search_fields = ["charge_point_id", "name", "serial_number", "vendor", "model"]
    autocomplete_fields = ["site", "circuit"]
    readonly_fields = ["password_state", *BOOT_FIELDS, *LIVE_FIELDS]
    inlines = [ConnectorInline, ChargerEventInline, ChargingSessionInline]
    actions = ["approve"]

    identity_fieldset = (
        "Identity and site",
        {
            "fields": [
                "charge_point_id",
                "name",
                "location",
                "site",
                "circuit",
                ("max_power_w", "phases"),
                "enabled",
                "registration",
                "protocol",
                "heartbeat_interval_s",
                "accept_any_id_tag",
            ]
        },
    )
    credentials_fieldset = (
        "Credentials",
        {"fields": ["password_state", "new_password", "clear_password", "password_env"]},
    )

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            # Boot and connection state only exist once the charger has called in.
            return [self.identity_fieldset, self.credentials_fieldset]
        return [
            self.identity_fieldset,
            self.credentials_fieldset,
            ("Boot information", {"fields": BOOT_FIELDS, "classes": ["collapse"]}),
            ("Live connection state", {"fields": LIVE_FIELDS}),
        ]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    @admin.display(description="password")
    def password_state(self, charger: Charger) -> str:
        if charger.password_env:
            if charger.password_env in os.environ:
                return f"From the environment variable {charger.password_env}."
            return (
                f"From the environment variable {charger.password_env}, which is not set "
                "in this server's environment: the charger is refused."
            )
        if charger.password_hash:
            return "Set (only a hash is stored)."
        return "None: anything presenting this charger id may connect."

    def save_model(self, request, obj: Charger, form: ChargerAdminForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("new_password"):
            charger_set_password(charger=obj, password=form.cleaned_data["new_password"])
        elif form.cleaned_data.get("clear_password"):
            charger_set_password(charger=obj, password="")

    @admin.action(description="Approve selected pending chargers", permissions=["change"])
    def approve(self, request, queryset) -> None:
        pending = list(queryset.filter(registration=Charger.Registration.PENDING))
        for charger in pending:
            charger_approve(charger=charger)
        if pending:
            names = ", ".join(str(charger) for charger in pending)
            self.message_user(request, f"Approved {names}; accepted at the next boot notification.")
        else:
            self.message_user(request, "None of the selected chargers was pending approval.", messages.WARNING)


@admin.register(Connector)
class ConnectorAdmin(ReadOnlyModelAdmin):
    list_display = ["charger", "connector_id", "status", "error_code", "updated_at"]
    list_filter = ["status", "error_code"]
    list_select_related = ["charger"]
    search_fields = ["charger__charge_point_id", "charger__name"]


@admin.register(IdTag)
class IdTagAdmin(admin.ModelAdmin):
    list_display = [
        "id_tag",
        "name",
        "status",
        "expiry_date",
        "parent",
        "owner",
        "last_seen_at",
        "last_seen_charger",
    ]
    list_filter = ["status"]
    search_fields = ["id_tag", "name"]
    raw_id_fields = ["parent", "owner"]
    # What a charger last reported, not a setting.
    readonly_fields = ["last_seen_at", "last_seen_charger", "created_at"]
    list_select_related = ["parent", "owner", "last_seen_charger"]
    # Unknown tags a charger just presented arrive as Invalid: newest sightings first puts
    # the card the homeowner just tapped at the top, ready for "Accept selected tags".
    ordering = [F("last_seen_at").desc(nulls_last=True), "id_tag"]
    actions = ["accept", "block"]

    @admin.action(description="Accept selected tags", permissions=["change"])
    def accept(self, request, queryset) -> None:
        count = id_tags_set_status(id_tags=queryset, status=IdTag.Status.ACCEPTED)
        self.message_user(request, f"Accepted {count} tag(s).")

    @admin.action(description="Block selected tags", permissions=["change"])
    def block(self, request, queryset) -> None:
        count = id_tags_set_status(id_tags=queryset, status=IdTag.Status.BLOCKED)
        self.message_user(request, f"Blocked {count} tag(s).")


@admin.register(ChargerEvent)
class ChargerEventAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "charge_point_id", "kind", "remote_address", "message"]
    list_filter = ["kind"]
    date_hierarchy = "created_at"
    search_fields = ["charge_point_id", "message"]
    # The log grows with every connection; counting it all on each page would too.
    show_full_result_count = False
    paginator = EstimatedCountPaginator
