"""Charging sessions (OCPP transactions) and the meter samples chargers report."""

from django.db import models
from django.db.models import Q


class ChargingSession(models.Model):
    # The primary key is the OCPP transactionId: the central system allocates it.
    transaction_id = models.AutoField("transaction ID", primary_key=True)
    charger = models.ForeignKey("chargers.Charger", on_delete=models.PROTECT, related_name="charging_sessions")
    connector_id = models.PositiveSmallIntegerField("connector ID")
    id_tag = models.CharField("ID tag", max_length=20, blank=True)
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
    meter_start_wh = models.BigIntegerField("meter at start (Wh)")
    stopped_at = models.DateTimeField(null=True, blank=True)
    meter_stop_wh = models.BigIntegerField("meter at stop (Wh)", null=True, blank=True)
    energy_wh = models.BigIntegerField("energy (Wh)", null=True, blank=True)
    stop_reason = models.CharField(max_length=30, blank=True)
    stop_id_tag = models.CharField("ID tag that stopped it", max_length=20, blank=True)
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
