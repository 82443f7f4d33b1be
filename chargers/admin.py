"""Where installers commission chargers, command them, and read what they did."""

import json
import logging
import os

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from chargers.admin_commands import ADMIN_COMMANDS, AdminCommand, AnswerView, answer_view, failure_message
from chargers.commands import CommandFailed
from chargers.configuration import id_tags_set_status
from chargers.models import Charger, ChargerCommand, ChargerEvent, Connector, IdTag, LimitDecision
from chargers.ocpp.profiles import FEATURE_PROFILE_OF_ACTION, supports_action
from chargers.services import charger_approve, charger_set_password
from graylogic.admin_utils import (
    EstimatedCountPaginator,
    ReadOnlyModelAdmin,
    ReadOnlyTabularInline,
    recent_rows_formset,
)
from sessions.models import ChargingSession

logger = logging.getLogger(__name__)

RECENT_ROWS = 20
RECENT_COMMANDS = 10

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
# What the compatibility probe read at boot (GetConfiguration); the overrides are the installer's.
PROBE_FIELDS = [
    "probed_at",
    "supported_feature_profiles",
    "charging_rate_units",
    "max_stack_level",
    "max_charging_profiles",
    "meter_sample_interval_s",
    "meter_measurands",
    "number_of_connectors",
    "configuration_table",
]
OVERRIDE_FIELDS = ["rate_unit_override", "max_stack_level_override"]
LIMIT_FIELDS = [
    "limit_w",
    "limit_source",
    "limit_reason",
    "manual_limit_w",
    "manual_limit_reason",
    "manual_limit_expires_at",
]


def pretty_json(value) -> str:
    if value is None:
        return "-"
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


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
            *OVERRIDE_FIELDS,
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


class ChargerCommandInline(ReadOnlyTabularInline):
    model = ChargerCommand
    fields = ["created_at", "action", "requested_by", "outcome", "latency_ms", "error"]
    formset = recent_rows_formset(RECENT_COMMANDS)
    verbose_name_plural = f"recent commands (newest {RECENT_COMMANDS}; the command log has them all)"


class LimitDecisionInline(ReadOnlyTabularInline):
    """The timeline behind "why is my car charging at 2.3 kW" / "why isn't it charging"."""

    model = LimitDecision
    fields = ["decided_at", "limit_w", "current_a", "phases", "source", "reason", "outcome"]
    formset = recent_rows_formset(RECENT_COMMANDS * 2)
    verbose_name_plural = f"why this limit (newest {RECENT_COMMANDS * 2} energy-control decisions)"


@admin.register(Charger)
class ChargerAdmin(admin.ModelAdmin):
    form = ChargerAdminForm
    change_form_template = "admin/chargers/charger/change_form.html"
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
    readonly_fields = ["password_state", *BOOT_FIELDS, *LIVE_FIELDS, *PROBE_FIELDS, *LIMIT_FIELDS]
    inlines = [ConnectorInline, LimitDecisionInline, ChargerCommandInline, ChargerEventInline, ChargingSessionInline]
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
    energy_fieldset = (
        "Energy control",
        {
            "fields": [("supply_phase", "priority"), ("min_current_a", "can_switch_phases")],
            "description": "How load balancing treats this charger: the phase a 1-phase charger is wired "
            "to, its turn under the priority algorithm, and whether it can drop to 1 phase for solar.",
        },
    )
    credentials_fieldset = (
        "Credentials",
        {"fields": ["password_state", "new_password", "clear_password", "password_env"]},
    )

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            # Boot and connection state only exist once the charger has called in.
            return [self.identity_fieldset, self.energy_fieldset, self.credentials_fieldset]
        return [
            self.identity_fieldset,
            self.energy_fieldset,
            self.credentials_fieldset,
            ("Boot information", {"fields": BOOT_FIELDS, "classes": ["collapse"]}),
            ("Live connection state", {"fields": LIVE_FIELDS}),
            ("Power limit in force", {"fields": LIMIT_FIELDS}),
            (
                "Compatibility profile",
                {
                    "fields": [*PROBE_FIELDS, *OVERRIDE_FIELDS],
                    "description": (
                        "Read from the charger's configuration when it boots. Limits go out in the "
                        "unit and at the stack level it accepts, unless you override them here."
                    ),
                },
            ),
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

    @admin.display(description="configuration")
    def configuration_table(self, charger: Charger) -> str:
        if not charger.configuration:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (item.get("key", ""), item.get("value", ""), "yes" if item.get("readonly") else "no")
                for item in charger.configuration
                if isinstance(item, dict)
            ),
        )
        return format_html(
            "<table><thead><tr><th>Key</th><th>Value</th><th>Read-only</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

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

    # --- Commands: one page per OCPP action, reached from the panel on the change page ----------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/command/<slug:slug>/",
                self.admin_site.admin_view(self.command_view),
                name="{}_{}_command".format(*info),
            ),
            *super().get_urls(),
        ]

    def command_links(self, charger: Charger) -> list[dict]:
        return [
            {
                "label": command.label,
                "url": reverse("admin:chargers_charger_command", args=[charger.pk, command.slug]),
                "supported": supports_action(charger.supported_feature_profiles, command.action),
            }
            for command in ADMIN_COMMANDS.values()
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and self.has_change_permission(request, obj):
            context["command_links"] = self.command_links(obj)
            context["command_log_url"] = (
                reverse("admin:chargers_chargercommand_changelist") + f"?charger__id__exact={obj.pk}"
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def command_view(self, request: HttpRequest, object_id: str, slug: str) -> HttpResponse:
        """GET: the command's form. POST: send it and show the charger's answer on the same page."""
        charger = self.get_object(request, unquote(object_id))
        if charger is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, charger):
            raise PermissionDenied
        command = ADMIN_COMMANDS.get(slug)
        if command is None:
            raise Http404(f"No command {slug!r}")
        result = None
        if request.method == "POST":
            form = command.form(request.POST, charger=charger)
            if form.is_valid():
                result = self._send_command(request, charger, command, form.cleaned_data)
        else:
            form = command.form(charger=charger)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{command.label}: {charger}",
            "subtitle": None,
            "opts": self.opts,
            "original": charger,
            "charger": charger,
            "command": command,
            "form": form,
            "result": result,
            "supported": supports_action(charger.supported_feature_profiles, command.action),
            "feature_profile": FEATURE_PROFILE_OF_ACTION.get(command.action, "Core"),
            "command_links": self.command_links(charger),
            "has_view_permission": self.has_view_permission(request, charger),
        }
        return TemplateResponse(request, "admin/chargers/charger/command.html", context)

    def _send_command(
        self, request: HttpRequest, charger: Charger, command: AdminCommand, cleaned: dict
    ) -> AnswerView | None:
        try:
            answer = command.send(charger=charger, cleaned=cleaned, requested_by=f"admin:{request.user.get_username()}")
        except CommandFailed as failure:
            message = failure_message(
                charge_point_id=charger.charge_point_id, failure=failure, timeout_s=settings.OCPP_COMMAND_TIMEOUT_S
            )
            self.message_user(request, message, messages.ERROR)
            return None
        except Exception:
            # An installer pressing a button gets a message, never a server error page.
            logger.exception("%s: admin command %s failed", charger.charge_point_id, command.action)
            self.message_user(
                request, "The command failed unexpectedly; the server log has the details.", messages.ERROR
            )
            return None
        view = answer_view(command.action, answer)
        self.message_user(request, view.summary, getattr(messages, view.level.upper()))
        return view


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


@admin.register(ChargerCommand)
class ChargerCommandAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "charger", "action", "requested_by", "outcome", "latency_ms"]
    list_filter = ["outcome", "action"]
    list_select_related = ["charger"]
    search_fields = ["charger__charge_point_id", "requested_by"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "charger",
        "action",
        "requested_by",
        "outcome",
        "latency_ms",
        "error",
        "payload_json",
        "response_json",
    ]
    readonly_fields = fields
    # Every command and probe adds a row; counting them all on each page would not scale.
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    @admin.display(description="payload")
    def payload_json(self, command: ChargerCommand) -> str:
        return pretty_json(command.payload)

    @admin.display(description="response")
    def response_json(self, command: ChargerCommand) -> str:
        return pretty_json(command.response)
