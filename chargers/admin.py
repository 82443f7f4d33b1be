"""Where installers commission chargers, command them, and read what they did."""

import json
import os

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import F, ProtectedError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst

from chargers.admin_commands import AdminCommand, AnswerView, admin_commands_for, answer_view
from chargers.admin_device_model import DEVICE_MODEL_FIELDS, DeviceModelAdmin, set_variables_changes, summary_table
from chargers.admin_live import (
    OCPP16_METERING,
    OCPP201_METERING,
    ConfigurationChange,
    ConnectorReport,
    LiveRow,
    RunningSession,
    connection_text,
    connector_row,
    limit_text,
    manual_limit_text,
    metering_lines,
    power_text,
    status_text,
)
from chargers.admin_quirks import QUIRKS_FIELDS, ChargerQuirksAdmin
from chargers.admin_security import CertificateInline, ChargerSecurityAdmin, security_command_links
from chargers.commands import charger_group
from chargers.models import (
    OCPP201,
    PROBE_REQUESTED_BY,
    PROTOCOL_CHOICES,
    WITHOUT_CREDENTIALS,
    Charger,
    ChargerCommand,
    ChargerEvent,
    Connector,
    IdTag,
    SecurityProfile,
)
from chargers.profiles import FEATURE_PROFILE_OF_ACTION, supports_action
from chargers.services import charger_approve, charger_reject_claim, charger_set_password, id_tags_set_status
from energy import reasons
from energy.diagnosis import charger_diagnose
from energy.models import LimitDecision
from energy.sources import source_label
from energy.troubleshooting import SYMPTOM_LABELS
from graylogic.admin_utils import (
    EstimatedCountPaginator,
    ReadOnlyModelAdmin,
    ReadOnlyTabularInline,
    recent_rows_formset,
)
from sessions.models import ChargingSession
from sessions.selectors import charger_state

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
    "number_of_connectors",
    "configuration_table",
]
OVERRIDE_FIELDS = ["rate_unit_override", "max_stack_level_override"]
PROTOCOL_LABELS = dict(PROTOCOL_CHOICES)
OPEN_WARNING = (
    "This charger has no password and no password variable: anything presenting its id may connect "
    "and act as it. Set a password under Credentials."
)


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
            "security_profile",
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


class ChargerEventInline(ReadOnlyTabularInline):
    model = ChargerEvent
    fields = ["created_at", "kind", "remote_address", "message", "count"]
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
    """The timeline behind "why is my car charging at 2.3 kW" / "why isn't it charging": each
    decision on the site's clock to the second, its source and reason in words."""

    model = LimitDecision
    fields = ["decided", "limit", "current_a", "phases", "set_by", "why", "outcome"]
    formset = recent_rows_formset(RECENT_COMMANDS * 2)
    verbose_name_plural = f"why this limit (newest {RECENT_COMMANDS * 2} energy-control decisions)"

    def get_queryset(self, request):
        # Each row's title names its charger, and its time is the charger's site's clock.
        return super().get_queryset(request).select_related("charger__site")

    @admin.display(description="decided at")
    def decided(self, decision: LimitDecision) -> str:
        local = decision.decided_at.astimezone(decision.charger.site.zone)
        return f"{local:%a %d %b %Y %H:%M:%S %Z}"

    @admin.display(description="limit")
    def limit(self, decision: LimitDecision) -> str:
        return reasons.watts(decision.limit_w)

    @admin.display(description="set by")
    def set_by(self, decision: LimitDecision) -> str:
        return source_label(decision.source)

    @admin.display(description="why")
    def why(self, decision: LimitDecision) -> str:
        return capfirst(decision.reason)


class CredentialsFilter(admin.SimpleListFilter):
    """Finds the chargers anything may connect as: no password and no password variable."""

    title = "credentials"
    parameter_name = "credentials"

    def lookups(self, request, model_admin):
        return [("none", "None: open to anyone"), ("set", "Password or password variable")]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(WITHOUT_CREDENTIALS)
        if self.value() == "set":
            return queryset.exclude(WITHOUT_CREDENTIALS)
        return queryset


@admin.register(Charger)
class ChargerAdmin(ChargerQuirksAdmin, DeviceModelAdmin, ChargerSecurityAdmin, admin.ModelAdmin):
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
        "has_credentials",
        "remote_address",
    ]
    list_filter = ["site", "is_connected", "enabled", "registration", CredentialsFilter, "vendor"]
    list_select_related = ["site"]
    search_fields = ["charge_point_id", "name", "serial_number", "vendor", "model"]
    autocomplete_fields = ["site", "circuit"]
    readonly_fields = [
        "password_state",
        "metering",
        *BOOT_FIELDS,
        *LIVE_FIELDS,
        *PROBE_FIELDS,
        *QUIRKS_FIELDS,
        *DEVICE_MODEL_FIELDS,
    ]
    inlines = [LimitDecisionInline, ChargerCommandInline, ChargerEventInline, ChargingSessionInline, CertificateInline]
    actions = ["approve", "reject_claim", "forget_limit_fallbacks"]

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
                "security_profile",
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
        settings_fieldsets = [self.identity_fieldset, self.energy_fieldset, self.credentials_fieldset]
        if obj is None:
            # Boot and connection state only exist once the charger has called in.
            return settings_fieldsets
        # The live state and the commands come first, above the form (change_form.html).
        return [
            *settings_fieldsets,
            (
                "Metering",
                {
                    "fields": ["metering"],
                    "description": (
                        "What the charger samples, as it reported at its last boot, and what the server "
                        "changed then: it adds what energy control reads and never removes a measurand."
                    ),
                },
            ),
            (
                "Compatibility profile",
                {
                    "fields": [*PROBE_FIELDS, *QUIRKS_FIELDS, *OVERRIDE_FIELDS],
                    "description": (
                        "Read from the charger's configuration when it boots, then its known quirks "
                        "and what its rejections taught energy control. Limits go out in the unit, at "
                        "the stack level and as the purpose it accepts, unless you override them here."
                    ),
                },
            ),
            *self.device_model_fieldsets(obj),
            ("Connection details", {"fields": LIVE_FIELDS, "classes": ["collapse"]}),
            ("Boot information", {"fields": BOOT_FIELDS, "classes": ["collapse"]}),
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

    @admin.display(description="credentials", boolean=True)
    def has_credentials(self, charger: Charger) -> bool:
        """A red cross in the list flags a charger anything may connect as."""
        return not charger.accepts_anyone

    @admin.display(description="metering")
    def metering(self, charger: Charger) -> str:
        changes = []
        speaks_201 = (charger.connection_protocol or charger.protocol) == OCPP201
        if charger.probed_at is not None:
            # The probe stores what it read, then sends its changes: those of the last boot come after.
            commands = charger.commands.filter(
                action="SetVariables" if speaks_201 else "ChangeConfiguration",
                requested_by=PROBE_REQUESTED_BY,
                created_at__gte=charger.probed_at,
            ).order_by("created_at", "id")
            changes = (
                set_variables_changes(commands)
                if speaks_201
                else [
                    ConfigurationChange(
                        key=str(command.payload.get("key", "")),
                        value=str(command.payload.get("value", "")),
                        answer=str((command.response or {}).get("status", "")),
                        failure=command.get_outcome_display(),
                    )
                    for command in commands
                ]
            )
        lines = metering_lines(
            probed_at=charger.probed_at,
            sample_interval_s=charger.meter_sample_interval_s,
            measurands=charger.meter_measurands,
            changes=changes,
            keys=OCPP201_METERING if speaks_201 else OCPP16_METERING,
        )
        return format_html(
            '<ul class="metering">{}</ul>', format_html_join("", "<li>{}</li>", ((line,) for line in lines))
        )

    def live_rows(self, charger: Charger) -> list[LiveRow]:
        """The live state panel: connection, status, power, the limit in force and why."""
        state = charger_state(charger=charger)
        connected = state.connection.status == "connected"
        rows = [
            LiveRow(
                "Connection",
                connection_text(
                    connected=connected,
                    connected_at=charger.connected_at,
                    disconnected_at=charger.disconnected_at,
                    last_seen_at=charger.last_seen_at,
                    protocol=PROTOCOL_LABELS.get(charger.connection_protocol, charger.connection_protocol),
                    remote_address=charger.remote_address,
                ),
                warning=not connected,
            ),
            LiveRow("Charger status", status_text(status=charger.status, error_code=charger.error_code) + "."),
        ]
        rows += [
            connector_row(
                ConnectorReport(
                    connector_id=connector.connector_id,
                    status=connector.status,
                    error_code=connector.error_code,
                    info=connector.info,
                    vendor_error_code=connector.vendor_error_code,
                    status_at=connector.status_at,
                )
            )
            for connector in charger.connectors.all()
        ]
        session = None
        if state.transaction is not None:
            session = RunningSession(
                transaction_id=state.transaction.id,
                started_at=state.transaction.started,
                power_w=state.transaction.power_w,
                energy_wh=state.transaction.energy_wh,
            )
        rows.append(LiveRow("Power", power_text(connected=connected, session=session)))
        limits = state.limits
        rows += [
            LiveRow(
                "Limit in force",
                limit_text(limit_w=limits.current_limit_w, phases=charger.control.active_phases or charger.phases),
            ),
            LiveRow("Set by", capfirst(source_label(limits.limit_source))),
        ]
        if limits.reason:
            rows.append(LiveRow("Why", limits.reason))
        control = charger.control
        manual = manual_limit_text(
            limit_w=control.manual_limit_w,
            reason=control.manual_limit_reason,
            expires_at=control.manual_limit_expires_at,
        )
        if manual:
            rows.append(LiveRow("Manual limit", manual))
        return rows

    @admin.display(description="configuration")
    def configuration_table(self, charger: Charger) -> str:
        if not charger.configuration:
            return "-"
        if isinstance(charger.configuration, dict):  # a 2.0.1 station's, read from its device model
            return summary_table(charger.configuration)
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

    @admin.action(description="Reject selected pending chargers (delete them; frees their ids)", permissions=["delete"])
    def reject_claim(self, request, queryset) -> None:
        """Anyone can claim an id first on a site that accepts unknown chargers: the installer
        rejects a claim they do not recognise (its address is in the list), and the real charger
        registers with its own password at its next connection."""
        rejected, kept = [], []
        for charger in queryset.filter(registration=Charger.Registration.PENDING):
            try:
                charger_reject_claim(charger=charger, rejected_by=request.user.get_username())
            except ProtectedError:
                kept.append(str(charger))
                continue
            rejected.append(charger)
            async_to_sync(get_channel_layer().group_send)(
                charger_group(charger.charge_point_id), {"type": "charger.rejected"}
            )
        if rejected:
            listed = ", ".join(
                f"{charger.charge_point_id} (from {charger.remote_address or '?'})" for charger in rejected
            )
            self.message_user(request, f"Rejected {listed}; the ids are free again.")
        if kept:
            self.message_user(
                request, f"Kept {', '.join(kept)}: it has charging sessions; disable it instead.", messages.ERROR
            )
        if not rejected and not kept:
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
            for command in admin_commands_for(charger).values()
        ] + security_command_links(charger)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["live_rows"] = self.live_rows(obj)
            # Profile 3 without a password still needs its client certificate: not open.
            by_certificate = obj.security_profile == SecurityProfile.TLS_CLIENT_CERTIFICATE
            context["open_warning"] = OPEN_WARNING if obj.accepts_anyone and not by_certificate else ""
            context["diagnosis"] = [(SYMPTOM_LABELS[f.symptom], f) for f in charger_diagnose(charger=obj)]
            context["commissioning_url"] = reverse("admin:energy_site_commissioning", args=[obj.site_id])
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
        command = admin_commands_for(charger).get(slug)
        if command is None:
            raise Http404(f"No command {slug!r}")
        result = None
        if request.method == "POST":
            form = command.form(request.POST, charger=charger)
            if form.is_valid():
                result = self._send_command(request, charger, command, form.cleaned_data)
        else:
            form = command.form(charger=charger)
        return self._command_page(
            request,
            charger,
            command,
            form=form,
            result=result,
            supported=supports_action(charger.supported_feature_profiles, command.action),
            feature_profile=FEATURE_PROFILE_OF_ACTION.get(command.action, "Core"),
        )

    def _send_command(
        self, request: HttpRequest, charger: Charger, command: AdminCommand, cleaned: dict
    ) -> AnswerView | None:
        answer = self._command_sent(
            request,
            charger,
            command.action,
            lambda requested_by: command.send(charger=charger, cleaned=cleaned, requested_by=requested_by),
        )
        if answer is None:
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
    list_display = ["created_at", "charge_point_id", "kind", "remote_address", "message", "count"]
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
