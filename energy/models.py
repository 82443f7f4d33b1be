"""A site's electrical installation (fuse tree) and its tariffs."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/London).")


PHASE_CHOICES = [(1, "1 phase"), (3, "3 phases")]


class Site(models.Model):
    """A home or small site: one grid connection protected by a main fuse."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(
        max_length=64,
        default="Europe/London",
        validators=[validate_time_zone],
        help_text="Tariff periods and pages use this zone.",
    )
    circuit_limit_a = models.PositiveIntegerField(
        "main fuse (A)", default=63, help_text="Per-phase rating of the site's main fuse."
    )
    phases = models.PositiveSmallIntegerField(choices=PHASE_CHOICES, default=3)
    owners = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="sites")
    accept_unknown_chargers = models.BooleanField(
        default=False,
        help_text="Let chargers that are not configured connect as 'pending' until approved.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(circuit_limit_a__gt=0), name="site_main_fuse_positive"),
            models.CheckConstraint(condition=Q(phases__in=[1, 3]), name="site_phases_1_or_3"),
        ]

    def __str__(self) -> str:
        return self.name


class Circuit(models.Model):
    """A protected branch of the fuse tree; chargers hang on circuits."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="circuits")
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    name = models.CharField(max_length=100)
    max_current_a = models.PositiveIntegerField(help_text="Fuse rating per phase.")
    phases = models.PositiveSmallIntegerField(choices=PHASE_CHOICES, default=3)

    class Meta:
        ordering = ["site", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="circuit_name_unique_per_site"),
            models.CheckConstraint(condition=Q(max_current_a__gt=0), name="circuit_max_current_positive"),
            models.CheckConstraint(condition=Q(phases__in=[1, 3]), name="circuit_phases_1_or_3"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.max_current_a} A, {self.phases}p)"

    def clean(self) -> None:
        if self.parent_id and self.parent.site_id != self.site_id:
            raise ValidationError({"parent": "The parent circuit must be on the same site."})
        ancestor = self.parent
        while ancestor is not None:
            if ancestor.pk == self.pk:
                raise ValidationError({"parent": "A circuit cannot be its own ancestor."})
            ancestor = ancestor.parent


class Tariff(models.Model):
    """An electricity price plan made of time-of-use periods in the site's local time."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="tariffs")
    name = models.CharField(max_length=100)
    currency = models.CharField(max_length=3, default="GBP")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["site", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="tariff_name_unique_per_site"),
            models.UniqueConstraint(fields=["site"], condition=Q(is_active=True), name="one_active_tariff_per_site"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.site})"


class TariffPeriod(models.Model):
    """A daily window with one rate; a period without start and end covers all other times."""

    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="periods")
    name = models.CharField(max_length=50)
    start = models.TimeField(null=True, blank=True, help_text="Site-local, e.g. 00:00.")
    end = models.TimeField(null=True, blank=True, help_text="Site-local; may wrap past midnight.")
    rate_per_kwh = models.DecimalField(max_digits=8, decimal_places=4)
    priority = models.PositiveSmallIntegerField(default=2, help_text="1 = prefer, higher = avoid.")

    class Meta:
        ordering = ["tariff", "start"]
        constraints = [
            models.UniqueConstraint(fields=["tariff", "name"], name="period_name_unique_per_tariff"),
            models.CheckConstraint(
                condition=Q(start__isnull=True, end__isnull=True) | Q(start__isnull=False, end__isnull=False),
                name="period_start_and_end_both_or_neither",
            ),
            models.CheckConstraint(condition=Q(rate_per_kwh__gte=0), name="period_rate_not_negative"),
            models.UniqueConstraint(
                fields=["tariff"], condition=Q(start__isnull=True), name="one_default_period_per_tariff"
            ),
        ]

    def __str__(self) -> str:
        if self.start is None:
            return f"{self.name} (all other times)"
        return f"{self.name} ({self.start:%H:%M}-{self.end:%H:%M})"
