from django.contrib import admin

from energy.models import Circuit, Site, Tariff, TariffPeriod


class CircuitInline(admin.TabularInline):
    model = Circuit
    fk_name = "site"
    extra = 0
    fields = ["name", "parent", "max_current_a", "phases"]
    raw_id_fields = ["parent"]
    show_change_link = True


class TariffInline(admin.TabularInline):
    model = Tariff
    extra = 0
    fields = ["name", "currency", "is_active"]
    # Periods are edited on the tariff's own page.
    show_change_link = True


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "circuit_limit_a", "phases", "accept_unknown_chargers"]
    search_fields = ["name"]
    filter_horizontal = ["owners"]
    inlines = [CircuitInline, TariffInline]


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
