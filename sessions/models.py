"""Charging sessions (OCPP transactions) and the meter samples chargers report."""

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


class ChargingSession(models.Model):
    """One charge of a car. Under OCPP 1.6 the primary key is the transactionId, which the
    central system allocates. Under OCPP 2.0.1 the station allocates a string transactionId
    (up to 36 characters, a UUID on most stations): it is kept in charger_transaction_id,
    unique per charger, and the primary key stays our own integer for pages, the API and
    samples. The 2.0.1 fields (sessions/ledger.py) stay empty for 1.6 sessions."""

    transaction_id = models.AutoField("transaction ID", primary_key=True)
    charger = models.ForeignKey("chargers.Charger", on_delete=models.PROTECT, related_name="charging_sessions")
    connector_id = models.PositiveSmallIntegerField("connector ID")
    id_tag = models.CharField("ID tag", max_length=36, blank=True)  # 20 in OCPP 1.6, 36 in 2.0.1
    id_tag_ref = models.ForeignKey(
        "chargers.IdTag",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="charging_sessions",
        verbose_name="ID tag record",
    )
    reservation_id = models.IntegerField("reservation ID", null=True, blank=True)
    started_at = models.DateTimeField(
        help_text="The charger's timestamp; when the server received the start if that was off its clock."
    )
    # Null when a 2.0.1 station sent no energy register with its start.
    meter_start_wh = models.BigIntegerField("meter at start (Wh)", null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    meter_stop_wh = models.BigIntegerField("meter at stop (Wh)", null=True, blank=True)
    energy_wh = models.BigIntegerField("energy (Wh)", null=True, blank=True)
    stop_reason = models.CharField(max_length=30, blank=True)
    stop_id_tag = models.CharField("ID tag that stopped it", max_length=36, blank=True)
    # Final figures, computed when the session stops (sessions/billing.py); null while it runs
    # (pages and the API then compute them on read) and when unknown (no tariff, no readings).
    cost = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    cost_currency = models.CharField("currency", max_length=3, blank=True, help_text="The site tariff's currency.")
    solar_percent = models.FloatField(
        "solar share (%)", null=True, blank=True, help_text="Energy covered by the site's solar surplus."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # A charger whose clock reset (1970) or ran ahead still charges: its timestamp is kept here,
    # and the server's receive time used for cost and control (docs/charger-data.md).
    charger_started_at = models.DateTimeField(
        "charger's start time (off its clock)",
        null=True,
        blank=True,
        help_text="Set when the charger's start timestamp was not believable; started_at is then the server's.",
    )
    charger_stopped_at = models.DateTimeField(
        "charger's stop time (off its clock)",
        null=True,
        blank=True,
        help_text="Set when the charger's stop timestamp was not believable; stopped_at is then the server's.",
    )
    # OCPP 2.0.1 (sessions/ledger.py): the station's id and what its newest TransactionEvent said.
    charger_transaction_id = models.CharField(
        "station's transaction ID", max_length=36, blank=True, help_text="OCPP 2.0.1: allocated by the station."
    )
    last_seq_no = models.PositiveIntegerField("newest event's seqNo", null=True, blank=True)
    ended_seq_no = models.PositiveIntegerField("Ended event's seqNo", null=True, blank=True)
    start_unseen = models.BooleanField(
        "start not seen",
        default=False,
        help_text="Made by an Updated or Ended for a transaction never seen: started_at is that event's time.",
    )
    offline_events = models.BooleanField(
        "events sent offline", default=False, help_text="Some of its events were queued while the station was offline."
    )
    trigger_reason = models.CharField("newest trigger reason", max_length=30, blank=True)
    charging_state = models.CharField(max_length=20, blank=True)
    number_of_phases_used = models.PositiveSmallIntegerField("phases used", null=True, blank=True)
    remote_start_id = models.IntegerField("remote start ID", null=True, blank=True)
    # What the car asked for (OCPP 2.0.1 NotifyEVChargingNeeds): energy control's target for it.
    ev_departure_at = models.DateTimeField("car's departure time", null=True, blank=True)
    ev_energy_wh = models.PositiveIntegerField("energy the car asked for (Wh)", null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # A charger back from offline replays StartTransaction: same start, same session.
            models.UniqueConstraint(fields=["charger", "connector_id", "started_at"], name="session_unique_start"),
            # The same for a start off the charger's clock, which started_at cannot recognise.
            models.UniqueConstraint(
                fields=["charger", "connector_id", "charger_started_at", "meter_start_wh"],
                name="session_unique_charger_start",
            ),
            # One session per 2.0.1 transaction, however often its events are replayed.
            models.UniqueConstraint(
                fields=["charger", "charger_transaction_id"],
                condition=~Q(charger_transaction_id=""),
                name="session_unique_charger_transaction",
            ),
            models.CheckConstraint(condition=Q(connector_id__gte=1), name="session_connector_from_1"),
            models.CheckConstraint(
                condition=Q(stopped_at__isnull=True) | Q(stopped_at__gte=models.F("started_at")),
                name="session_stops_after_start",
            ),
        ]
        indexes = [models.Index(fields=["charger", "stopped_at"], name="session_by_charger_open")]

    def __str__(self) -> str:
        return f"Session {self.transaction_id} on {self.charger_id}#{self.connector_id}"

    @property
    def is_active(self) -> bool:
        return self.stopped_at is None

    @property
    def id_at_charger(self) -> int | str:
        """The transactionId the charger knows: ours under OCPP 1.6, the station's under 2.0.1."""
        return self.charger_transaction_id or self.transaction_id

    @property
    def charger_clock_off(self) -> bool:
        """The charger's start or stop time was replaced by the server's receive time."""
        return self.charger_started_at is not None or self.charger_stopped_at is not None


class MeterSample(models.Model):
    """One sampled value; a MeterValues message holds many. Samples are never merged or dropped.

    The hot path inserts thousands a second, and each index costs every insert: the foreign
    keys have none of their own, the unique constraint (charger first) and
    sample_by_session_time (session first) serve their lookups."""

    charger = models.ForeignKey(
        "chargers.Charger", on_delete=models.CASCADE, related_name="meter_samples", db_index=False
    )
    connector_id = models.PositiveSmallIntegerField("connector ID")
    session = models.ForeignKey(
        ChargingSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="samples", db_index=False
    )
    # What the charger said, kept even when no session with that id is known (yet).
    reported_transaction_id = models.IntegerField("reported transaction ID", null=True, blank=True)
    timestamp = models.DateTimeField()
    measurand = models.CharField(max_length=50, default="Energy.Active.Import.Register")
    phase = models.CharField(max_length=10, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    context = models.CharField(max_length=30, blank=True)
    location = models.CharField(max_length=10, blank=True)
    value = models.FloatField(null=True, blank=True)
    signed_data = models.TextField(blank=True, help_text="Format SignedData: the value as sent.")

    class Meta:
        ordering = ["timestamp", "id"]
        constraints = [
            # Replayed MeterValues must not double samples.
            models.UniqueConstraint(
                fields=["charger", "connector_id", "timestamp", "measurand", "phase", "location", "context"],
                name="meter_sample_unique",
            ),
        ]
        indexes = [models.Index(fields=["session", "timestamp"], name="sample_by_session_time")]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.measurand} {self.value} {self.unit}"


class RejectedSample(models.Model):
    """A sampled value outside physics or the charger's clock, kept for the installer and apart
    from MeterSample, so that nothing reading samples (control, accounting, charts, MQTT) can
    use it. The bounds and the clock window are in docs/charger-data.md."""

    class Reason(models.TextChoices):
        OUT_OF_RANGE = "out_of_range", "Outside physical bounds"
        NOT_A_NUMBER = "not_a_number", "Not a number"
        CLOCK = "clock", "Timestamp off the server's clock"

    charger = models.ForeignKey(
        "chargers.Charger", on_delete=models.CASCADE, related_name="rejected_samples", db_index=False
    )
    connector_id = models.PositiveSmallIntegerField("connector ID")
    reported_transaction_id = models.IntegerField("reported transaction ID", null=True, blank=True)
    timestamp = models.DateTimeField(help_text="The charger's timestamp.")
    measurand = models.CharField(max_length=50)
    phase = models.CharField(max_length=10, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    context = models.CharField(max_length=30, blank=True)
    location = models.CharField(max_length=10, blank=True)
    value_text = models.CharField("value as sent", max_length=100, help_text="Cut at 100 characters.")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            # A replayed MeterValues does not double what it had rejected.
            models.UniqueConstraint(
                fields=["charger", "connector_id", "timestamp", "measurand", "phase", "location", "context"],
                name="rejected_sample_unique",
            ),
        ]
        indexes = [models.Index(fields=["received_at"], name="rejected_sample_by_received")]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.measurand} {self.value_text!r} {self.unit} ({self.reason})"


class MeterSampleAggregate(models.Model):
    """Raw samples of one 15-minute bucket, kept for ever once the raw ones are pruned (after
    the retention's raw-sample days), so that old sessions keep their chart. One row per charger,
    connector, session, measurand, phase, unit and location; the context is not kept."""

    charger = models.ForeignKey(
        "chargers.Charger", on_delete=models.CASCADE, related_name="sample_aggregates", db_index=False
    )
    connector_id = models.PositiveSmallIntegerField("connector ID")
    session = models.ForeignKey(
        ChargingSession, on_delete=models.CASCADE, null=True, blank=True, related_name="sample_aggregates"
    )
    bucket_start = models.DateTimeField(help_text="The 15 minutes from this instant (UTC).")
    measurand = models.CharField(max_length=50)
    phase = models.CharField(max_length=10, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    location = models.CharField(max_length=10, blank=True)
    sample_count = models.PositiveIntegerField("samples")
    value_mean = models.FloatField("mean")
    value_min = models.FloatField("minimum")
    value_max = models.FloatField("maximum")
    first_at = models.DateTimeField("first sample at")
    first_value = models.FloatField("first value")
    last_at = models.DateTimeField("last sample at")
    last_value = models.FloatField("last value")

    class Meta:
        ordering = ["bucket_start", "id"]
        verbose_name = "meter sample aggregate (15 minutes)"
        verbose_name_plural = "meter sample aggregates (15 minutes)"
        constraints = [
            # Re-running the pruning job never doubles an aggregate: it merges into this row.
            models.UniqueConstraint(
                fields=["charger", "connector_id", "bucket_start", "measurand", "phase", "unit", "location", "session"],
                condition=Q(session__isnull=False),
                name="sample_aggregate_unique",
            ),
            models.UniqueConstraint(
                fields=["charger", "connector_id", "bucket_start", "measurand", "phase", "unit", "location"],
                condition=Q(session__isnull=True),
                name="sample_aggregate_unique_no_session",
            ),
            models.CheckConstraint(condition=Q(sample_count__gte=1), name="sample_aggregate_count_from_1"),
            models.CheckConstraint(condition=Q(value_min__lte=models.F("value_max")), name="sample_aggregate_min_max"),
            models.CheckConstraint(condition=Q(first_at__lte=models.F("last_at")), name="sample_aggregate_first_last"),
        ]
        # The pruning job merges into a connector's stored buckets: the partial unique indexes
        # cannot serve a lookup that spans sessions and none.
        indexes = [models.Index(fields=["charger", "connector_id", "bucket_start"], name="aggregate_by_connector_time")]

    def __str__(self) -> str:
        return f"{self.bucket_start:%Y-%m-%d %H:%M} {self.measurand} mean {self.value_mean:g} {self.unit}"


AT_LEAST_A_DAY = MinValueValidator(1)


class Retention(models.Model):
    """How long each growing table keeps its rows; one row, made with the defaults on first use
    and edited in the admin. Empty means kept for ever. The pruning job runs hourly."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    meter_samples_days = models.PositiveIntegerField(
        "raw meter samples (days)",
        null=True,
        blank=True,
        validators=[AT_LEAST_A_DAY],
        default=90,
        help_text="Then only their 15-minute aggregates remain (kept for ever): charts of old sessions still work.",
    )
    energy_readings_days = models.PositiveIntegerField(
        "site energy readings (days)",
        null=True,
        blank=True,
        validators=[AT_LEAST_A_DAY],
        default=90,
        help_text="Each site's newest older reading, and those a running session needs, are kept.",
    )
    limit_decisions_days = models.PositiveIntegerField(
        "limit decisions (days)",
        null=True,
        blank=True,
        validators=[AT_LEAST_A_DAY],
        default=180,
        help_text="Each charger's decision in force at that age is kept.",
    )
    charger_events_days = models.PositiveIntegerField(
        "charger events (days)", null=True, blank=True, validators=[AT_LEAST_A_DAY], default=180
    )
    charger_commands_days = models.PositiveIntegerField(
        "command log (days)", null=True, blank=True, validators=[AT_LEAST_A_DAY], default=180
    )
    rejected_samples_days = models.PositiveIntegerField(
        "rejected samples (days)", null=True, blank=True, validators=[AT_LEAST_A_DAY], default=180
    )
    last_run_at = models.DateTimeField("last pruned at", null=True, blank=True, editable=False)
    last_run_summary = models.CharField("last run", max_length=300, blank=True, editable=False)

    class Meta:
        verbose_name = "retention"
        verbose_name_plural = "retention"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="retention_single_row"),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": 1}),
                    name=f"retention_{field}_from_1",
                )
                for field in (
                    "meter_samples_days",
                    "energy_readings_days",
                    "limit_decisions_days",
                    "charger_events_days",
                    "charger_commands_days",
                    "rejected_samples_days",
                )
            ),
        ]

    def __str__(self) -> str:
        return "Retention"

    @classmethod
    def current(cls) -> "Retention":
        """The one row, made with the defaults on first use."""
        return cls.objects.get_or_create(pk=1)[0]
