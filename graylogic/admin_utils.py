"""Admin building blocks for tables that only grow: meter samples and the charger event log."""

from functools import cached_property

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Max
from django.forms.models import BaseInlineFormSet


class EstimatedCountPaginator(Paginator):
    """COUNT(*) over millions of meter samples takes seconds on every changelist page. Without
    a filter, the highest id stands in for the row count: the primary key index answers it at
    once, and ids only grow, so it overestimates by the deleted rows at most (the last pages
    may come out short). Filtered lists are counted exactly: they are what people page through."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if queryset.query.where:
            return queryset.count()
        return queryset.aggregate(highest=Max("pk"))["highest"] or 0


class RecentRowsFormSet(BaseInlineFormSet):
    """Shows the first `limit` rows of the inline's ordering (newest first for logs), so a
    charger with years of history still opens at once."""

    limit = 20

    def get_queryset(self):
        if not hasattr(self, "_limited_queryset"):
            self._limited_queryset = super().get_queryset()[: self.limit]
        return self._limited_queryset


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Rows the chargers write: evidence of what happened, never edited by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyTabularInline(admin.TabularInline):
    """Rows the chargers write, shown beside the object they belong to."""

    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        # Also covers non-editable fields (auto_now), which a form cannot hold.
        return self.fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def recent_rows_formset(limit: int) -> type[RecentRowsFormSet]:
    return type(f"Recent{limit}RowsFormSet", (RecentRowsFormSet,), {"limit": limit})
