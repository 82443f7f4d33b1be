from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from graylogic.admin_utils import (
    EstimatedCountPaginator,
    ReadOnlyModelAdmin,
    ReadOnlyTabularInline,
    recent_rows_formset,
)
from sessions.models import ChargingSession, MeterSample

SAMPLE_ROWS = 200


class MeterSampleInline(ReadOnlyTabularInline):
    model = MeterSample
    fields = ["timestamp", "measurand", "phase", "unit", "context", "location", "value"]
    formset = recent_rows_formset(SAMPLE_ROWS)
    show_change_link = False
    verbose_name_plural = f"meter samples (the first {SAMPLE_ROWS})"


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
    ]
    list_filter = ["charger", "stop_reason"]
    date_hierarchy = "started_at"
    search_fields = ["id_tag", "transaction_id__exact"]
    list_select_related = ["charger"]
    readonly_fields = ["all_samples"]
    inlines = [MeterSampleInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    @admin.display(description="all meter samples")
    def all_samples(self, session: ChargingSession) -> str:
        url = reverse("admin:charging_sessions_metersample_changelist") + f"?session__exact={session.pk}"
        return format_html('<a href="{}">{} samples</a>', url, session.samples.count())


@admin.register(MeterSample)
class MeterSampleAdmin(ReadOnlyModelAdmin):
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
    # Newest first by the primary key: the only order the database can give without sorting
    # the whole table; for the same reason the columns are not sortable.
    ordering = ["-id"]
    sortable_by: list[str] = []
    show_full_result_count = False
    paginator = EstimatedCountPaginator
