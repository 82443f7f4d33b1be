"""A site's electrical installation (fuse tree) and its tariffs, and what energy control keeps per
charger: the limit in force, what the charger holds of each limit, and every decision."""

import datetime as dt
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from energy.sources import LABELS, MODE_LABELS, ChargeMode, CheckStatus, LimitSource, source_label
from graylogic.datetimes import zone_named


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/London).")


PHASE_CHOICES = [(1, "1 phase"), (3, "3 phases")]
SUPPLY_PHASE_CHOICES = [("L1", "L1"), ("L2", "L2"), ("L3", "L3")]
ALGORITHM_CHOICES = [("proportional", "Proportional"), ("priority", "Priority"), ("round_robin", "Round robin")]


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

    # Load balancing (spec: load_balancing).
    load_balancing_enabled = models.BooleanField("load balancing", default=True)
    algorithm = models.CharField(max_length=20, choices=ALGORITHM_CHOICES, default="proportional")
    min_interval_s = models.PositiveIntegerField(
        "minimum time between rebalances (s)",
        default=10,
        help_text="Rebalance at most this often (spec: rebalance.min_interval_seconds).",
    )
    meter_timeout_s = models.PositiveIntegerField(
        "meter timeout (s)",
        default=120,
        help_text="A main meter silent this long makes every charger fall back to the fail-safe current.",
    )
    failsafe_current_a = models.FloatField(
        "fail-safe current (A)",
        default=6.0,
        help_text="Per-charger current while the main meter is silent (0 stops charging).",
    )
    last_rebalanced_at = models.DateTimeField("last rebalance", null=True, blank=True, editable=False)
    feed_in_per_kwh = models.DecimalField(
        "feed-in rate per kWh",
        max_digits=8,
        decimal_places=4,
        default=0,
        help_text="What an exported kWh earns: the planner weighs it against charging from the sun.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(circuit_limit_a__gt=0), name="site_main_fuse_positive"),
            models.CheckConstraint(condition=Q(phases__in=[1, 3]), name="site_phases_1_or_3"),
            models.CheckConstraint(
                condition=Q(feed_in_per_kwh__gte=-100, feed_in_per_kwh__lte=100), name="site_feed_in_in_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The site's time zone, for tariff periods, schedules and the times pages show."""
        return zone_named(self.time_zone)


class Circuit(models.Model):
    """A protected branch of the fuse tree; chargers hang on circuits."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="circuits")
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    name = models.CharField(max_length=100)
    max_current_a = models.PositiveIntegerField("fuse rating (A)", help_text="Per phase.")
    phases = models.PositiveSmallIntegerField(choices=PHASE_CHOICES, default=3)
    supply_phase = models.CharField(
        max_length=2, choices=SUPPLY_PHASE_CHOICES, default="L1", help_text="For a 1-phase circuit: which phase."
    )

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
    rate_per_kwh = models.DecimalField("rate per kWh", max_digits=8, decimal_places=4)
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


class SolarCharging(models.Model):
    """Spec: solar_charging. One per site; the hysteresis state is kept here between runs."""

    class Mode(models.TextChoices):
        SOLAR_ONLY = "solar_only", "Solar only"
        SOLAR_PRIORITY = "solar_priority", "Solar priority (grid minimum)"
        MIXED = "mixed", "Mixed (solar + grid top-up)"

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="solar_charging")
    enabled = models.BooleanField(default=False)
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.SOLAR_ONLY)
    min_surplus_w = models.PositiveIntegerField(
        "minimum surplus (W)", default=1400, help_text="Start solar charging above this export (1400 W is about 6 A)."
    )
    allow_grid_minimum_w = models.PositiveIntegerField(
        "grid minimum (W)", default=1400, help_text="Solar priority: what the grid may add to keep the car charging."
    )
    max_grid_w = models.PositiveIntegerField(
        "grid top-up at most (W)", default=3000, help_text="Mixed: the most the grid may add to the surplus."
    )
    update_interval_s = models.PositiveIntegerField("update interval (s)", default=60)
    window_s = models.PositiveIntegerField("smoothing window (s)", default=300)
    start_delay_s = models.PositiveIntegerField(
        "start delay (s)", default=60, help_text="The surplus must last this long before charging starts."
    )
    stop_delay_s = models.PositiveIntegerField(
        "stop delay (s)", default=300, help_text="The surplus must be short this long before charging stops."
    )

    is_charging = models.BooleanField("charging on solar", default=False, editable=False)
    above_since = models.DateTimeField("surplus enough since", null=True, blank=True, editable=False)
    below_since = models.DateTimeField("surplus short since", null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"Solar charging at {self.site} ({self.get_mode_display()})"


class TimeOfUse(models.Model):
    """Spec: tou_charging. The site's tariff periods come from its active Tariff."""

    class TargetMode(models.TextChoices):
        TIME = "time", "Ready by a time"
        ENERGY = "energy", "Energy by a time"
        SOC = "soc", "State of charge by a time"

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="time_of_use")
    enabled = models.BooleanField(default=False)
    avoid_peak = models.BooleanField(default=True)
    prefer_off_peak = models.BooleanField(default=True)
    ready_by = models.TimeField(default=dt.time(7, 0), help_text="Site-local time.")
    target_mode = models.CharField(max_length=10, choices=TargetMode.choices, default=TargetMode.TIME)
    target_energy_wh = models.PositiveIntegerField("target energy (Wh)", null=True, blank=True)
    target_soc_percent = models.PositiveSmallIntegerField("target state of charge (%)", null=True, blank=True)
    battery_capacity_wh = models.PositiveIntegerField("battery capacity (Wh)", null=True, blank=True)

    class Meta:
        verbose_name = "time-of-use charging"
        verbose_name_plural = "time-of-use charging"
        constraints = [
            models.CheckConstraint(
                condition=Q(target_soc_percent__isnull=True) | Q(target_soc_percent__lte=100),
                name="tou_target_soc_percent",
            )
        ]

    def __str__(self) -> str:
        return f"Time of use at {self.site} (ready by {self.ready_by:%H:%M})"


class GridResponse(models.Model):
    """Spec: grid_response. The level comes from the API, the admin or MQTT."""

    class Level(models.TextChoices):
        NORMAL = "normal"
        MODERATE = "moderate"
        HIGH = "high"

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="grid_response")
    enabled = models.BooleanField(default=False)
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.NORMAL)
    level_source = models.CharField("level set by", max_length=50, blank=True)
    level_set_at = models.DateTimeField("level set at", null=True, blank=True)
    moderate_limit_percent = models.PositiveSmallIntegerField(
        "limit at moderate (%)", default=50, help_text="Of each charger's maximum."
    )
    high_limit_percent = models.PositiveSmallIntegerField(
        "limit at high (%)", default=0, help_text="Of each charger's maximum; 0 pauses charging."
    )
    frequency_response_enabled = models.BooleanField("frequency response", default=False)
    low_frequency_hz = models.FloatField("low frequency (Hz)", default=49.5)
    high_frequency_hz = models.FloatField("high frequency (Hz)", default=50.5)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(moderate_limit_percent__lte=100), name="grid_moderate_percent"),
            models.CheckConstraint(condition=Q(high_limit_percent__lte=100), name="grid_high_percent"),
        ]

    def __str__(self) -> str:
        return f"Grid response at {self.site}: {self.level}"


# The most a price per kWh may be, either way (dynamic tariffs go negative): beyond it a posted
# price is a unit error, refused before it can steer a car or cost a session.
PRICE_PER_KWH_LIMIT = 100
# The most a site's panels may be forecast to make (W): beyond it a forecast is a unit error.
SOLAR_FORECAST_MAX_W = 1_000_000


class PriceSlot(models.Model):
    """One slot of a dynamic tariff (15 minutes or an hour), posted over the API or MQTT. Where
    slots cover an instant they set its price; elsewhere the active tariff's periods do."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="price_slots")
    start = models.DateTimeField()
    end = models.DateTimeField()
    price_per_kwh = models.DecimalField("price per kWh", max_digits=8, decimal_places=4)
    source = models.CharField(max_length=50, blank=True)
    received_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["site", "start"]
        constraints = [
            models.UniqueConstraint(fields=["site", "start"], name="price_slot_unique_start"),
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="price_slot_ends_after_start"),
            models.CheckConstraint(
                condition=Q(price_per_kwh__gte=-PRICE_PER_KWH_LIMIT, price_per_kwh__lte=PRICE_PER_KWH_LIMIT),
                name="price_slot_price_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site} {self.start:%Y-%m-%d %H:%M}: {self.price_per_kwh}/kWh"


class SolarForecastSlot(models.Model):
    """The site's solar production forecast for one slot (15 minutes), posted over the API or MQTT."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="solar_forecast")
    start = models.DateTimeField()
    end = models.DateTimeField()
    solar_w = models.FloatField("solar (W)")
    source = models.CharField(max_length=50, blank=True)
    received_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["site", "start"]
        constraints = [
            models.UniqueConstraint(fields=["site", "start"], name="solar_forecast_unique_start"),
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="solar_forecast_ends_after_start"),
            models.CheckConstraint(
                condition=Q(solar_w__gte=0, solar_w__lte=SOLAR_FORECAST_MAX_W), name="solar_forecast_in_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site} {self.start:%Y-%m-%d %H:%M}: {self.solar_w:,.0f} W forecast"


# How far ahead of the server's clock a reading may be dated (meters' clocks drift a little). A
# reading from further ahead would stay "the newest" until its date and blind energy control,
# fail-safe included, so it is refused, and never taken as current if one is stored.
READING_MAX_AHEAD = dt.timedelta(minutes=5)


class EnergyReading(models.Model):
    """What the site's meters say at an instant. Any field may be missing."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="energy_readings")
    measured_at = models.DateTimeField()
    grid_w = models.FloatField("grid (W)", null=True, blank=True, help_text="Import positive, export negative.")
    solar_w = models.FloatField("solar (W)", null=True, blank=True)
    house_w = models.FloatField("house (W)", null=True, blank=True, help_text="Total consumption, chargers included.")
    grid_l1_a = models.FloatField("grid L1 (A)", null=True, blank=True)
    grid_l2_a = models.FloatField("grid L2 (A)", null=True, blank=True)
    grid_l3_a = models.FloatField("grid L3 (A)", null=True, blank=True)
    frequency_hz = models.FloatField("frequency (Hz)", null=True, blank=True)
    source = models.CharField(max_length=50, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-measured_at"]
        indexes = [models.Index(fields=["site", "-measured_at"], name="reading_by_site_time")]

    def __str__(self) -> str:
        return f"{self.site} at {self.measured_at:%Y-%m-%d %H:%M:%S}"


# LimitSource as database choices: the same values, labelled in the words pages use.
LimitSourceChoice = models.TextChoices(
    "LimitSourceChoice", [(source.name, (source.value, LABELS[source])) for source in LimitSource]
)


# The most energy a target or a battery may hold (Wh): beyond any car's battery, a unit error.
MAX_TARGET_ENERGY_WH = 500_000


class ChargerControl(models.Model):
    """Energy control's record of one charger (evcc's loadpoint): the limit in force and why, a
    person's cap, and what the charger holds of each limit, so that a run sends only changes.
    The charger's own settings (phases, priority, minimum current) stay on the Charger."""

    charger = models.OneToOneField(
        "chargers.Charger", on_delete=models.CASCADE, primary_key=True, related_name="control"
    )

    # The limit in force and what set it (spec: current_limit_w, current_limit_source).
    limit_w = models.PositiveIntegerField("limit in force (W)", null=True, blank=True)
    limit_source = models.CharField("limit set by", max_length=20, blank=True, choices=LimitSourceChoice.choices)
    limit_reason = models.CharField("why this limit", max_length=200, blank=True)
    active_phases = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    paused_since = models.DateTimeField(null=True, blank=True, editable=False)
    # The last decision's current: what an offline charger may still draw on its last profile.
    decision_current_a = models.FloatField("decided current (A)", null=True, blank=True, editable=False)

    manual_limit_w = models.PositiveIntegerField("manual limit (W)", null=True, blank=True)
    manual_limit_reason = models.CharField("why the manual limit", max_length=200, blank=True)
    manual_limit_expires_at = models.DateTimeField("manual limit ends at", null=True, blank=True)
    # A limit set on the charger outside this server (OCPP 2.0.1 NotifyChargingLimit), until
    # cleared (ClearedChargingLimit) or its schedule ends.
    external_limit_w = models.PositiveIntegerField("limit set on the charger (W)", null=True, blank=True)
    external_limit_source = models.CharField(
        "set by", max_length=10, blank=True, help_text="chargingLimitSource: EMS, SO, CSO or Other."
    )
    external_limit_expires_at = models.DateTimeField("limit set on the charger ends at", null=True, blank=True)

    # The owner's mode and target (issue 28): set on the Now page, over the API or MQTT.
    mode = models.CharField(
        max_length=10, choices=[(m.value, MODE_LABELS[m]) for m in ChargeMode], default=ChargeMode.SMART
    )
    target_ready_by = models.TimeField("ready by", null=True, blank=True, help_text="Site-local time.")
    target_energy_wh = models.PositiveIntegerField("energy to add (Wh)", null=True, blank=True)
    target_soc_percent = models.PositiveSmallIntegerField("state of charge wanted (%)", null=True, blank=True)
    battery_capacity_wh = models.PositiveIntegerField("battery size (Wh)", null=True, blank=True)
    target_set_at = models.DateTimeField("target set at", null=True, blank=True)
    target_set_by = models.CharField("target set by", max_length=50, blank=True)
    # The planner's last plan for this charger: [[slot start (Unix s), power (W)], ...], in words,
    # and what it costs.
    plan = models.JSONField("plan", null=True, blank=True, editable=False)
    plan_summary = models.CharField("plan in words", max_length=300, blank=True, editable=False)
    plan_cost = models.FloatField("plan's cost", null=True, blank=True, editable=False)
    plan_made_at = models.DateTimeField("plan made at", null=True, blank=True, editable=False)

    # What the charger last accepted of each limit (null: it holds none).
    protection_w = models.PositiveIntegerField(
        "fuse limit held (W)", null=True, blank=True, editable=False, help_text="ChargePointMaxProfile."
    )
    solar_w = models.PositiveIntegerField(
        "solar limit held (W)", null=True, blank=True, editable=False, help_text="TxProfile."
    )
    solar_transaction_id = models.IntegerField("solar limit's transaction", null=True, blank=True, editable=False)
    # TxDefaultProfile: [[start (Unix seconds), limit (W)], ...] and when the plan ends.
    tou_periods = models.JSONField("time-of-use plan held", null=True, blank=True, editable=False)
    tou_end_s = models.FloatField("time-of-use plan ends (Unix s)", null=True, blank=True, editable=False)
    # The charger booted since its plan was sent: it may hold it or not (cleared, or sent again).
    tou_unknown = models.BooleanField("time-of-use plan unknown", default=False, editable=False)

    class Meta:
        verbose_name = "charger control"
        constraints = [
            models.CheckConstraint(
                condition=Q(mode__in=[m.value for m in ChargeMode]), name="charger_control_mode_known"
            ),
            models.CheckConstraint(
                condition=Q(target_energy_wh__isnull=True) | Q(target_energy_wh__lte=MAX_TARGET_ENERGY_WH),
                name="charger_control_target_energy_in_range",
            ),
            models.CheckConstraint(
                condition=Q(target_soc_percent__isnull=True) | Q(target_soc_percent__lte=100),
                name="charger_control_target_soc_percent",
            ),
            models.CheckConstraint(
                condition=Q(battery_capacity_wh__isnull=True) | Q(battery_capacity_wh__lte=MAX_TARGET_ENERGY_WH),
                name="charger_control_battery_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Control of charger {self.charger_id}"


class LimitDecision(models.Model):
    """One decision of the energy controller for a charger, with its inputs: the timeline that
    answers "why is my car charging at 2.3 kW" and "why isn't it charging"."""

    charger = models.ForeignKey("chargers.Charger", on_delete=models.CASCADE, related_name="limit_decisions")
    decided_at = models.DateTimeField(auto_now_add=True, db_index=True)
    limit_w = models.PositiveIntegerField("limit (W)")
    current_a = models.FloatField("current (A)")
    phases = models.PositiveSmallIntegerField()
    source = models.CharField("set by", max_length=20, choices=LimitSourceChoice.choices)
    reason = models.CharField(max_length=300)
    inputs = models.JSONField(default=dict)
    outcome = models.CharField(max_length=30, blank=True, help_text="What the charger said to the profile.")

    class Meta:
        ordering = ["-decided_at", "-id"]
        # Every control run reads each charger's latest decision.
        indexes = [models.Index(fields=["charger", "-decided_at", "-id"], name="decision_latest_by_charger")]

    def __str__(self) -> str:
        return f"{self.charger}: {self.limit_w:,} W, {source_label(self.source)}"


CHECK_STATUS_CHOICES = [
    (CheckStatus.OK.value, "ok"),
    (CheckStatus.FAILED.value, "failed"),
    (CheckStatus.NOT_YET.value, "not yet"),
]


class CommissioningCheck(models.Model):
    """The result of one commissioning test the installer ran (start/stop, a test limit, load
    balancing, the plan against the charger's schedule): the checklist's items that cannot be
    read from live data alone keep their last result here, with the charger's answers."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="commissioning_checks")
    charger = models.ForeignKey(
        "chargers.Charger", on_delete=models.CASCADE, null=True, blank=True, related_name="commissioning_checks"
    )
    item = models.CharField("checklist item", max_length=50)
    status = models.CharField(max_length=10, choices=CHECK_STATUS_CHOICES)
    evidence = models.TextField(blank=True)
    details = models.JSONField(null=True, blank=True, help_text="The charger's answers and what was measured.")
    seen_at = models.DateTimeField(db_index=True)
    requested_by = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-seen_at", "-id"]
        indexes = [models.Index(fields=["site", "item", "-seen_at"], name="commissioning_latest")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in CheckStatus]), name="commissioning_check_status_known"
            )
        ]

    def __str__(self) -> str:
        return f"{self.site}: {self.item} {self.status}"
