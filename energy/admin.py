from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from chargers.models import Charger
from energy.checklist import CHARGER_TESTS, TEST_ITEMS, TITLES, CommissioningTest, Group
from energy.commissioning import latest_checks, longest_wait_s, site_commissioning, start_test
from energy.models import (
    Circuit,
    EnergyReading,
    GridResponse,
    Site,
    SolarCharging,
    Tariff,
    TariffPeriod,
    TimeOfUse,
)
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
    list_display = [
        "name",
        "time_zone",
        "circuit_limit_a",
        "phases",
        "algorithm",
        "accept_unknown_chargers",
        "commissioning_link",
    ]
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

    @admin.display(description="commissioning")
    def commissioning_link(self, site: Site) -> str:
        return format_html('<a href="{}">checklist</a>', reverse("admin:energy_site_commissioning", args=[site.pk]))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/commissioning/", view(self.commissioning_view), name="energy_site_commissioning"),
            path(
                "<path:object_id>/commissioning/report/",
                view(self.commissioning_report_view),
                name="energy_site_commissioning_report",
            ),
            *super().get_urls(),
        ]

    def _commissioning_context(self, request: HttpRequest, site: Site) -> dict:
        """The checklist in sections (Gray Logic, each charger, energy), each item with the
        charger's answers of its last test, and which tests are running."""
        now = timezone.now()
        items = site_commissioning(site=site, host=request.get_host(), now=now)
        answers = {key: check.details for key, check in latest_checks(site=site).items()}
        running = {(item.item, item.charger) for item in items if item.running}
        chargers = {c.charge_point_id: c for c in site.chargers.order_by("charge_point_id")}
        sections = [{"title": "Gray Logic", "key": Group.GRAY_LOGIC.value, "items": []}]
        by_charger = {}
        for cp, charger in chargers.items():
            by_charger[cp] = {
                "title": f"Charger {charger}",
                "key": cp,
                "charger": charger,
                "items": [],
                "running": {test.value: (TEST_ITEMS[test], cp) in running for test in CHARGER_TESTS},
            }
            sections.append(by_charger[cp])
        site_tests = [test for test in CommissioningTest if test not in CHARGER_TESTS]
        energy = {
            "title": "Energy",
            "key": Group.ENERGY.value,
            "items": [],
            "site_tests": True,
            "running": {test.value: (TEST_ITEMS[test], None) in running for test in site_tests},
        }
        sections.append(energy)
        for item in items:
            row = {"item": item, "answers": None if item.running else answers.get((item.item, item.charger))}
            if item.charger:
                by_charger[item.charger]["items"].append(row)
            elif item.group == Group.ENERGY:
                energy["items"].append(row)
            else:
                sections[0]["items"].append(row)
        ok = sum(1 for item in items if item.status == "ok")
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "site": site,
            "sections": sections,
            "checked_at": now,
            "ok_count": ok,
            "item_count": len(items),
            "can_run": self.has_change_permission(request, site),
            "running": bool(running),
            "title": f"Commissioning: {site}",
        }

    def commissioning_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        site = get_object_or_404(Site, pk=object_id)
        if not self.has_view_permission(request, site):
            raise PermissionDenied
        if request.method == "POST":
            if not self.has_change_permission(request, site):
                raise PermissionDenied
            self._start_test(request, site)
            return HttpResponseRedirect(reverse("admin:energy_site_commissioning", args=[site.pk]))
        context = self._commissioning_context(request, site)
        return TemplateResponse(request, "admin/energy/site/commissioning.html", context)

    def _start_test(self, request: HttpRequest, site: Site) -> None:
        """The test a button asked for, started as a job (energy/commissioning.py): the page
        answers at once and shows the result when the job has kept it."""
        try:
            test = CommissioningTest(request.POST.get("test", ""))
        except ValueError:
            raise Http404(f"no commissioning test {request.POST.get('test', '')!r}") from None
        charger = None
        if test in CHARGER_TESTS:
            charger_pk = request.POST.get("charger", "")
            charger = Charger.objects.filter(site=site, pk=charger_pk).first() if charger_pk.isdigit() else None
            if charger is None:
                raise Http404("no such charger on this site")
        title = TITLES[TEST_ITEMS[test]]
        of = f" of {charger.charge_point_id}" if charger else ""
        if start_test(site=site, test=test, charger=charger, requested_by=request.user.get_username()) is None:
            messages.warning(
                request, f"{title}{of}: a test is already running; this page shows its result when it ends."
            )
            return
        messages.info(
            request,
            f"{title}{of}: running. It waits for the charger's answers (at most {longest_wait_s():g} s); "
            "this page refreshes itself and shows the result when the test ends.",
        )

    def commissioning_report_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        site = get_object_or_404(Site, pk=object_id)
        if not self.has_view_permission(request, site):
            raise PermissionDenied
        context = self._commissioning_context(request, site)
        context["chargers"] = list(site.chargers.order_by("charge_point_id"))
        context["prepared_by"] = request.user.get_full_name() or request.user.get_username()
        return TemplateResponse(request, "admin/energy/site/commissioning_report.html", context)


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
