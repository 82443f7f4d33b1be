from django.contrib import admin

from energy.models import Circuit, EnergyReading, GridResponse, Site, SolarCharging, Tariff, TariffPeriod, TimeOfUse
from energy.rebalance import rebalancer
from graylogic.admin_utils import EstimatedCountPaginator


class CircuitInline(admin.TabularInline):
    model = Circuit
    fk_name = "site"
    extra = 0
    fields = ["name", "parent", "max_current_a", "phases", "supply_phase"]
    raw_id_fields = ["parent"]
    show_change_link = True


class TariffInline(admin.TabularInline):
    model = Tariff
    extra = 0
    fields = ["name", "currency", "is_active"]
    # Periods are edited on the tariff's own page.
    show_change_link = True


class SolarChargingInline(admin.StackedInline):
    model = SolarCharging
    can_delete = False
    readonly_fields = ["is_charging", "above_since", "below_since"]
    fields = [
        ("enabled", "mode"),
        ("min_surplus_w", "allow_grid_minimum_w", "max_grid_w"),
        ("update_interval_s", "window_s"),
        ("start_delay_s", "stop_delay_s"),
        ("is_charging", "above_since", "below_since"),
    ]


class TimeOfUseInline(admin.StackedInline):
    model = TimeOfUse
    can_delete = False
    fields = [
        ("enabled", "avoid_peak", "prefer_off_peak"),
        ("ready_by", "target_mode"),
        ("target_energy_wh", "target_soc_percent", "battery_capacity_wh"),
    ]


class GridResponseInline(admin.StackedInline):
    model = GridResponse
    can_delete = False
    readonly_fields = ["level_source", "level_set_at"]
    fields = [
        ("enabled", "level", "level_source", "level_set_at"),
        ("moderate_limit_percent", "high_limit_percent"),
        ("frequency_response_enabled", "low_frequency_hz", "high_frequency_hz"),
    ]


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "circuit_limit_a", "phases", "algorithm", "accept_unknown_chargers"]
    search_fields = ["name"]
    filter_horizontal = ["owners"]
    inlines = [CircuitInline, TariffInline, SolarChargingInline, TimeOfUseInline, GridResponseInline]
    fieldsets = [
        (None, {"fields": ["name", "time_zone", ("circuit_limit_a", "phases"), "owners", "accept_unknown_chargers"]}),
        (
            "Load balancing",
            {
                "fields": [
                    ("load_balancing_enabled", "algorithm"),
                    ("min_interval_s", "meter_timeout_s", "failsafe_current_a"),
                    "last_rebalanced_at",
                ]
            },
        ),
    ]
    readonly_fields = ["last_rebalanced_at"]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # New settings take effect at once, not at the next scheduled run.
        rebalancer().request(form.instance.pk, f"site settings changed by {request.user.get_username()}")


@admin.register(EnergyReading)
class EnergyReadingAdmin(admin.ModelAdmin):
    list_display = [
        "measured_at",
        "site",
        "grid_w",
        "solar_w",
        "house_w",
        "grid_l1_a",
        "grid_l2_a",
        "grid_l3_a",
        "frequency_hz",
        "source",
    ]
    list_filter = ["site"]
    date_hierarchy = "measured_at"
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_select_related = ["site"]


@admin.register(Circuit)
class CircuitAdmin(admin.ModelAdmin):
    list_display = ["name", "site", "parent", "max_current_a", "phases"]
    list_filter = ["site"]
    list_select_related = ["site", "parent"]
    search_fields = ["name", "site__name"]
    autocomplete_fields = ["site", "parent"]


class TariffPeriodInline(admin.TabularInline):
    model = TariffPeriod
    extra = 1
    fields = ["name", "start", "end", "rate_per_kwh", "priority"]


@admin.register(Tariff)
class TariffAdmin(admin.ModelAdmin):
    list_display = ["name", "site", "currency", "is_active"]
    list_filter = ["site", "is_active"]
    list_select_related = ["site"]
    search_fields = ["name", "site__name"]
    autocomplete_fields = ["site"]
    inlines = [TariffPeriodInline]
