from django.contrib import admin
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from graylogic.admin_utils import (
    EstimatedCountPaginator,
    ReadOnlyModelAdmin,
    ReadOnlyTabularInline,
    recent_rows_formset,
)
from sessions.models import ChargingSession, MeterSample, MeterSampleAggregate, RejectedSample, Retention
from sessions.services import session_start_request

SAMPLE_ROWS = 200


class MeterSampleInline(ReadOnlyTabularInline):
    model = MeterSample
    fields = ["timestamp", "measurand", "phase", "unit", "context", "location", "value"]
    formset = recent_rows_formset(SAMPLE_ROWS)
    show_change_link = False
    verbose_name_plural = f"meter samples (the first {SAMPLE_ROWS})"


class ChargerClockFilter(admin.SimpleListFilter):
    """Sessions whose start or stop the charger dated off the server's clock (a reset clock, one
    far ahead): the server's receive time was used and the charger's kept beside it."""

    title = "charger's clock"
    parameter_name = "charger_clock"

    def lookups(self, request, model_admin):
        return [("off", "off (server's time used)"), ("believed", "believed")]

    def queryset(self, request, queryset):
        off = Q(charger_started_at__isnull=False) | Q(charger_stopped_at__isnull=False)
        if self.value() == "off":
            return queryset.filter(off)
        if self.value() == "believed":
            return queryset.exclude(off)
        return queryset


@admin.register(ChargingSession)
class ChargingSessionAdmin(admin.ModelAdmin):
    """Sessions are what the chargers reported: nobody edits them, and only a superuser may
    delete one (a test charge, a duplicate from a broken charger)."""

    list_display = [
        "transaction_id",
        "charger",
        "connector_id",
        "id_tag",
        "started_at",
        "stopped_at",
        "meter_start_wh",
        "meter_stop_wh",
        "energy_wh",
        "cost",
        "cost_currency",
        "solar_percent",
        "stop_reason",
        "clock_off",
    ]
    list_filter = ["charger", "stop_reason", ChargerClockFilter]
    date_hierarchy = "started_at"
    search_fields = ["id_tag", "transaction_id__exact"]
    list_select_related = ["charger"]
    readonly_fields = ["all_samples", "start_request"]
    inlines = [MeterSampleInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    @admin.display(boolean=True, description="charger's clock off")
    def clock_off(self, session: ChargingSession) -> bool:
        return session.charger_clock_off

    @admin.display(description="started at the request of")
    def start_request(self, session: ChargingSession) -> str:
        """OCPP 2.0.1: who asked for the remote start whose remoteStartId the session carries."""
        command = session_start_request(session=session)
        if command is None:
            return (
                "-"
                if session.remote_start_id is None
                else f"no request of ours (remoteStartId {session.remote_start_id})"
            )
        return f"{command.requested_by} ({command.action} at {command.created_at:%Y-%m-%d %H:%M:%S})"

    @admin.display(description="all meter samples")
    def all_samples(self, session: ChargingSession) -> str:
        url = reverse("admin:charging_sessions_metersample_changelist") + f"?session__exact={session.pk}"
        return format_html('<a href="{}">{} samples</a>', url, session.samples.count())


class LargeTableAdmin(ReadOnlyModelAdmin):
    """Tables of millions of rows: newest first by the primary key, the only order the database
    can give without sorting the whole table; for the same reason the columns are not
    sortable, and the row count is estimated."""

    ordering = ["-id"]
    sortable_by: list[str] = []
    show_full_result_count = False
    paginator = EstimatedCountPaginator


@admin.register(MeterSample)
class MeterSampleAdmin(LargeTableAdmin):
    list_display = [
        "timestamp",
        "charger",
        "connector_id",
        "session",
        "measurand",
        "phase",
        "unit",
        "context",
        "location",
        "value",
    ]
    list_filter = ["charger"]
    list_select_related = ["charger", "session"]
    raw_id_fields = ["charger", "session"]


@admin.register(MeterSampleAggregate)
class MeterSampleAggregateAdmin(LargeTableAdmin):
    """What stands in for pruned raw samples: read-only, like the samples themselves."""

    list_display = [
        "bucket_start",
        "charger",
        "connector_id",
        "session",
        "measurand",
        "phase",
        "unit",
        "location",
        "sample_count",
        "value_mean",
        "value_min",
        "value_max",
        "last_value",
    ]
    list_filter = ["charger"]
    list_select_related = ["charger", "session"]
    raw_id_fields = ["charger", "session"]


@admin.register(RejectedSample)
class RejectedSampleAdmin(LargeTableAdmin):
    """Values a charger sent that nothing uses (outside physics, or dated by a clock far off):
    where an installer finds a broken meter or a charger whose clock needs setting."""

    list_display = [
        "received_at",
        "charger",
        "connector_id",
        "reported_transaction_id",
        "timestamp",
        "measurand",
        "phase",
        "unit",
        "value_text",
        "reason",
    ]
    list_filter = ["reason", "charger"]
    list_select_related = ["charger"]
    raw_id_fields = ["charger"]


@admin.register(Retention)
class RetentionAdmin(admin.ModelAdmin):
    """One settings page: the list goes straight to the single row, made with the defaults on
    first use; it cannot be added twice or deleted."""

    fieldsets = [
        (
            "Days each table keeps its rows (empty: for ever)",
            {
                "fields": [
                    "meter_samples_days",
                    "energy_readings_days",
                    "limit_decisions_days",
                    "charger_events_days",
                    "charger_commands_days",
                    "rejected_samples_days",
                ]
            },
        ),
        ("Pruning job (hourly)", {"fields": ["last_run_at", "last_run_summary"]}),
    ]
    readonly_fields = ["last_run_at", "last_run_summary"]

    def changelist_view(self, request, extra_context=None):
        url = reverse("admin:charging_sessions_retention_change", args=[Retention.current().pk])
        return HttpResponseRedirect(url)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
