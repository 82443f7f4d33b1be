"""Chargers as the central system knows them: identity, credentials, live state, RFID tags.
What energy control decided for a charger is its ChargerControl, in energy/models.py."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models, transaction
from django.db.models import Q

from chargers.quirks import LimitProfile, limit_profile
from energy.models import ChargerControl

# RFC 3986 unreserved characters plus ':' — what fits in the /ocpp/<id> path unescaped.
charge_point_id_validator = RegexValidator(
    r"^[A-Za-z0-9._~:-]{1,48}$",
    "Up to 48 letters, digits or . _ ~ : - (the identity the charger puts in its URL).",
)

OCPP16 = "ocpp1.6"
OCPP201 = "ocpp2.0.1"
# The subprotocols this server speaks (a charger offering both gets the one it lists first).
PROTOCOL_CHOICES = [(OCPP16, "OCPP 1.6-J"), (OCPP201, "OCPP 2.0.1")]

CONNECTOR_STATUS_CHOICES = [
    (s, s)
    for s in (
        "Available",
        "Preparing",
        "Charging",
        "SuspendedEV",
        "SuspendedEVSE",
        "Finishing",
        "Reserved",
        "Unavailable",
        "Faulted",
        "Occupied",  # OCPP 2.0.1: a car or cable is in; TransactionEvent says whether it charges
    )
]


# Chargers with neither a password nor a password variable: anything presenting their id may connect.
WITHOUT_CREDENTIALS = Q(password_hash="", password_env="")


def heartbeat_interval_or_default(heartbeat_interval_s: int | None) -> int:
    """A charger's own heartbeat interval, or the server's when it has none (null or 0)."""
    return heartbeat_interval_s or settings.OCPP_HEARTBEAT_INTERVAL_S


class SecurityProfile(models.IntegerChoices):
    """OCPP security profiles (OCPP 2.0.1 part 2, A00; the 1.6 security whitepaper)."""

    BASIC_AUTH = 1, "1: HTTP Basic password"
    TLS_BASIC_AUTH = 2, "2: TLS and HTTP Basic password"
    TLS_CLIENT_CERTIFICATE = 3, "3: TLS and client certificate"


class Charger(models.Model):
    class Registration(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        PENDING = "pending", "Pending approval"

    charge_point_id = models.CharField(
        "OCPP identity", max_length=48, unique=True, validators=[charge_point_id_validator]
    )
    name = models.CharField(max_length=100, blank=True, help_text="What the household calls it.")
    location = models.CharField(max_length=100, blank=True)
    site = models.ForeignKey("energy.Site", on_delete=models.PROTECT, related_name="chargers")
    circuit = models.ForeignKey(
        "energy.Circuit", on_delete=models.SET_NULL, null=True, blank=True, related_name="chargers"
    )
    max_power_w = models.PositiveIntegerField(
        "max power (W)", default=7400, help_text="The most this charger can deliver, e.g. 7400 or 22000."
    )
    phases = models.PositiveSmallIntegerField(choices=[(1, "1 phase"), (3, "3 phases")], default=1)
    enabled = models.BooleanField(default=True, help_text="Disabled chargers are refused.")
    registration = models.CharField(max_length=10, choices=Registration.choices, default=Registration.ACCEPTED)
    protocol = models.CharField(
        max_length=10,
        choices=PROTOCOL_CHOICES,
        default=OCPP16,
        help_text="Used when the charger offers no WebSocket subprotocol.",
    )
    security_profile = models.PositiveSmallIntegerField(
        choices=SecurityProfile.choices,
        default=SecurityProfile.BASIC_AUTH,
        help_text="OCPP security profile the charger must connect with (2 and 3: TLS only).",
    )
    heartbeat_interval_s = models.PositiveIntegerField(
        "heartbeat interval (s)",
        null=True,
        blank=True,
        help_text="Empty: the server default (OCPP_HEARTBEAT_INTERVAL).",
    )

    # Credentials: HTTP Basic password, checked against password_env when set, else the hash.
    password_hash = models.CharField(max_length=200, blank=True, editable=False)
    password_env = models.CharField(
        "password environment variable",
        max_length=100,
        blank=True,
        help_text="Name of an environment variable holding the password (spec: password_env).",
    )
    accept_any_id_tag = models.BooleanField(
        "accept any ID tag", default=False, help_text="Authorize every RFID tag (homes without RFID cards)."
    )

    # From BootNotification.
    vendor = models.CharField(max_length=50, blank=True)  # 20 in OCPP 1.6, 50 in 2.0.1
    model = models.CharField(max_length=20, blank=True)
    serial_number = models.CharField(max_length=25, blank=True)
    charge_box_serial_number = models.CharField(max_length=25, blank=True)
    firmware_version = models.CharField(max_length=50, blank=True)
    iccid = models.CharField("ICCID", max_length=20, blank=True)
    imsi = models.CharField("IMSI", max_length=20, blank=True)
    meter_type = models.CharField(max_length=25, blank=True)
    meter_serial_number = models.CharField(max_length=25, blank=True)
    booted_at = models.DateTimeField("last boot", null=True, blank=True)

    # Live connection state.
    is_connected = models.BooleanField("connected", default=False)
    connected_at = models.DateTimeField(null=True, blank=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField("last message", null=True, blank=True, db_index=True)
    last_heartbeat_at = models.DateTimeField("last heartbeat", null=True, blank=True)
    remote_address = models.CharField(max_length=64, blank=True)
    connection_protocol = models.CharField(max_length=10, blank=True)
    # The channel of the consumer holding the socket, so a replaced connection's late
    # disconnect cannot mark the new one offline.
    connection_channel = models.CharField(max_length=200, blank=True, editable=False)

    # Connector 0: the charger as a whole.
    status = models.CharField(
        "charger status", max_length=20, blank=True, help_text="Connector 0: the charger as a whole."
    )
    error_code = models.CharField(max_length=30, blank=True)

    firmware_status = models.CharField(max_length=30, blank=True)
    firmware_status_at = models.DateTimeField("firmware status reported at", null=True, blank=True)
    diagnostics_status = models.CharField(max_length=30, blank=True)
    diagnostics_status_at = models.DateTimeField("diagnostics status reported at", null=True, blank=True)

    # Compatibility profile, read at boot (GetConfiguration); installers may override it.
    supported_feature_profiles = models.CharField(max_length=200, blank=True)
    charging_rate_units = models.CharField(
        max_length=20, blank=True, help_text="ChargingScheduleAllowedChargingRateUnit: Current, Power or both."
    )
    max_stack_level = models.PositiveSmallIntegerField(
        "max stack level", null=True, blank=True, help_text="ChargeProfileMaxStackLevel."
    )
    max_charging_profiles = models.PositiveSmallIntegerField(
        "max charging profiles", null=True, blank=True, help_text="MaxChargingProfilesInstalled."
    )
    meter_sample_interval_s = models.PositiveIntegerField(
        "meter sample interval (s)",
        null=True,
        blank=True,
        help_text="MeterValueSampleInterval as the charger reported it at boot.",
    )
    meter_measurands = models.CharField(
        "sampled measurands",
        max_length=300,
        blank=True,
        help_text="MeterValuesSampledData as the charger reported it at boot.",
    )
    number_of_connectors = models.PositiveSmallIntegerField(null=True, blank=True)
    max_periods_per_schedule = models.PositiveSmallIntegerField(
        "max periods per schedule", null=True, blank=True, help_text="OCPP 2.0.1 SmartChargingCtrlr.PeriodsPerSchedule."
    )
    configuration = models.JSONField(null=True, blank=True, help_text="The whole GetConfiguration answer.")
    probed_at = models.DateTimeField("configuration read at", null=True, blank=True)
    rate_unit_override = models.CharField(
        "limit unit override",
        max_length=1,
        blank=True,
        choices=[("A", "Amps"), ("W", "Watts")],
        help_text="Send limits in this unit whatever the probe found.",
    )
    max_stack_level_override = models.PositiveSmallIntegerField(
        "max stack level override",
        null=True,
        blank=True,
        help_text="Send profiles at most at this stack level whatever the probe found.",
    )

    # How energy control treats it; what control decided is its ChargerControl (charger.control).
    supply_phase = models.CharField(
        max_length=2,
        choices=[("L1", "L1"), ("L2", "L2"), ("L3", "L3")],
        default="L1",
        help_text="For a 1-phase charger: the supply phase it is wired to.",
    )
    priority = models.PositiveSmallIntegerField(default=0, help_text="Lower charges first (algorithm: priority).")
    min_current_a = models.FloatField(
        "minimum current (A)", default=6.0, help_text="Below this the car cannot charge (6 A for most cars)."
    )
    can_switch_phases = models.BooleanField(
        "can switch to 1 phase",
        default=False,
        help_text="A 3-phase charger that can charge on 1 phase when solar is short (numberPhases).",
    )

    # Known quirks (chargers/quirks.py) matched on vendor, model and firmware at boot, and what the
    # charger's own rejections taught energy control (a unit, stack level or purpose it refuses).
    quirks = models.JSONField(
        "known quirks", default=list, blank=True, editable=False, help_text="Registry entries matched at boot."
    )
    limit_fallbacks = models.JSONField(
        "profile fallbacks learned",
        default=dict,
        blank=True,
        editable=False,
        help_text="What energy control changed after the charger rejected or ignored a limit.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["charge_point_id"]
        constraints = [
            models.CheckConstraint(condition=Q(phases__in=[1, 3]), name="charger_phases_1_or_3"),
            models.CheckConstraint(condition=Q(max_power_w__gt=0), name="charger_max_power_positive"),
            models.CheckConstraint(condition=Q(security_profile__in=[1, 2, 3]), name="charger_security_profile_1_to_3"),
        ]

    def __str__(self) -> str:
        return self.name or self.charge_point_id

    def save(self, *args, **kwargs) -> None:
        """A new charger gets its control record with it: every charger has one (the migration
        made those of chargers created before)."""
        if not self._state.adding:
            super().save(*args, **kwargs)
            return
        with transaction.atomic():
            super().save(*args, **kwargs)
            ChargerControl.objects.create(charger=self)

    @property
    def accepts_anyone(self) -> bool:
        """No password and no password variable: the id in the URL is all a peer needs."""
        return not self.password_hash and not self.password_env

    @property
    def heartbeat_interval(self) -> int:
        return heartbeat_interval_or_default(self.heartbeat_interval_s)

    @property
    def limit_profile(self) -> LimitProfile:
        """What its limits go out with: probed, then known quirks, then learned fallbacks, then
        the installer's overrides (chargers/quirks.py)."""
        return limit_profile(
            charging_rate_units=self.charging_rate_units,
            max_stack_level=self.max_stack_level,
            quirk_ids=self.quirks or [],
            fallbacks=self.limit_fallbacks or {},
            rate_unit_override=self.rate_unit_override,
            max_stack_level_override=self.max_stack_level_override,
        )

    @property
    def limit_rate_unit(self) -> str:
        """Amps unless the charger says it takes watts (every smart charger takes amps), its
        quirks or rejections say otherwise, or the installer chose."""
        return self.limit_profile.rate_unit

    def stack_level(self, wanted: int, purpose: str = "") -> int:
        """The wanted stack level, clamped to what the charger accepts (a purpose sent as another
        goes at that one's level: chargers/quirks.py)."""
        return self.limit_profile.stack_level(wanted, purpose)

    def limit_purpose(self, purpose: str) -> str:
        """The purpose a limit goes as: its own, or the one the charger takes instead."""
        return self.limit_profile.purpose(purpose)


class Connector(models.Model):
    """A charging outlet (connectorId >= 1); connector 0's status lives on Charger."""

    charger = models.ForeignKey(Charger, on_delete=models.CASCADE, related_name="connectors")
    connector_id = models.PositiveSmallIntegerField("connector ID")
    status = models.CharField(max_length=20, choices=CONNECTOR_STATUS_CHOICES, blank=True)
    error_code = models.CharField(max_length=30, blank=True)
    info = models.CharField(max_length=50, blank=True)
    vendor_id = models.CharField("vendor ID", max_length=255, blank=True)
    vendor_error_code = models.CharField(max_length=50, blank=True)
    status_at = models.DateTimeField("status reported at", null=True, blank=True, help_text="The charger's timestamp.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["charger", "connector_id"]
        constraints = [
            models.UniqueConstraint(fields=["charger", "connector_id"], name="connector_unique_per_charger"),
            models.CheckConstraint(condition=Q(connector_id__gte=1), name="connector_id_from_1"),
        ]

    def __str__(self) -> str:
        return f"{self.charger} #{self.connector_id}"


class IdTag(models.Model):
    """An RFID card or token. Tags a charger presents but nobody configured appear as Invalid."""

    class Status(models.TextChoices):
        ACCEPTED = "Accepted"
        BLOCKED = "Blocked"
        EXPIRED = "Expired"
        INVALID = "Invalid"

    # 20 characters in OCPP 1.6, an idToken of up to 36 in 2.0.1.
    id_tag = models.CharField("ID tag", max_length=36, unique=True)
    name = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACCEPTED)
    expiry_date = models.DateTimeField(null=True, blank=True)
    parent = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="id_tags",
    )
    last_seen_at = models.DateTimeField("last presented at", null=True, blank=True)
    last_seen_charger = models.ForeignKey(
        Charger,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="presented_id_tags",
        verbose_name="last presented to",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id_tag"]
        verbose_name = "ID tag"

    def __str__(self) -> str:
        return f"{self.id_tag} ({self.name})" if self.name else self.id_tag


class ChargerEvent(models.Model):
    """The connection and protocol log installers read when a charger misbehaves."""

    class Kind(models.TextChoices):
        CONNECTED = "connected"
        DISCONNECTED = "disconnected"
        REFUSED = "refused", "Connection refused"
        REPLACED = "replaced", "Replaced by a new connection"
        BOOT = "boot"
        PROTOCOL_ERROR = "protocol_error", "Protocol error"
        UNKNOWN_TRANSACTION = "unknown_transaction", "Unknown transaction"
        DATA_TRANSFER = "data_transfer", "Data transfer"
        STALE = "stale", "Marked offline (silent)"
        PROFILE_MISMATCH = "profile_mismatch", "Limit not held by the charger"
        SECURITY_EVENT = "security_event", "Security event"
        CLAIM_REJECTED = "claim_rejected", "Pending claim rejected"
        NOTIFY_EVENT = "notify_event", "Device event (OCPP 2.0.1)"
        EXTERNAL_LIMIT = "external_limit", "Charging limit set outside this server"
        CERTIFICATE = "certificate", "Certificate"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    charger = models.ForeignKey(Charger, on_delete=models.SET_NULL, null=True, blank=True, related_name="events")
    charge_point_id = models.CharField(max_length=100)
    remote_address = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    message = models.TextField()
    payload = models.JSONField(null=True, blank=True)
    # Refused handshakes are counted, not logged one by one: one row per address, charger id,
    # reason and minute (206 refusals a second had written a row each).
    count = models.PositiveIntegerField(
        default=1, help_text="How many times this happened within the minute from its time."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["charge_point_id", "-created_at"], name="event_by_charger_time")]
        constraints = [models.CheckConstraint(condition=Q(count__gte=1), name="charger_event_count_positive")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.charge_point_id} {self.kind}"


# The fields that name one attribute of a station's device model.
DEVICE_VARIABLE_KEY = (
    "charger",
    "component",
    "component_instance",
    "evse_id",
    "connector_id",
    "variable",
    "variable_instance",
    "attribute_type",
)


class DeviceVariable(models.Model):
    """One attribute of one variable of an OCPP 2.0.1 station's device model, as its NotifyReport
    told it (OCPP 2.0.1 part 1, device model). evse_id and connector_id are 0 where the
    component is not on an EVSE or connector."""

    class AttributeType(models.TextChoices):
        ACTUAL = "Actual"
        TARGET = "Target"
        MIN_SET = "MinSet"
        MAX_SET = "MaxSet"

    class Mutability(models.TextChoices):
        READ_ONLY = "ReadOnly"
        WRITE_ONLY = "WriteOnly"
        READ_WRITE = "ReadWrite"

    charger = models.ForeignKey(Charger, on_delete=models.CASCADE, related_name="device_variables")
    component = models.CharField(max_length=50)
    component_instance = models.CharField(max_length=50, blank=True)
    evse_id = models.PositiveIntegerField("EVSE ID", default=0)
    connector_id = models.PositiveIntegerField("connector ID", default=0)
    variable = models.CharField(max_length=50)
    variable_instance = models.CharField(max_length=50, blank=True)
    attribute_type = models.CharField(max_length=10, choices=AttributeType.choices, default=AttributeType.ACTUAL)
    value = models.TextField(blank=True)  # attributeValue: up to 2500 characters
    mutability = models.CharField(max_length=10, choices=Mutability.choices, default=Mutability.READ_WRITE)
    persistent = models.BooleanField(default=False)
    constant = models.BooleanField(default=False)
    data_type = models.CharField(max_length=20, blank=True)
    unit = models.CharField(max_length=16, blank=True)
    values_list = models.TextField("allowed values", blank=True)
    reported_at = models.DateTimeField()

    class Meta:
        ordering = ["charger", "component", "component_instance", "evse_id", "connector_id", "variable"]
        constraints = [
            models.UniqueConstraint(
                fields=list(DEVICE_VARIABLE_KEY),
                name="device_variable_unique_attribute",
            )
        ]

    def __str__(self) -> str:
        return f"{self.component}.{self.variable} = {self.value}"


class Certificate(models.Model):
    """A certificate this server issued to a charger (SignCertificate) or installed on one
    (InstallCertificate), kept so installers see what expires when."""

    class Kind(models.TextChoices):
        CHARGING_STATION = "ChargingStationCertificate", "Charging station certificate"
        CSMS_ROOT = "CSMSRootCertificate", "CSMS root certificate"
        MANUFACTURER_ROOT = "ManufacturerRootCertificate", "Manufacturer root certificate"
        V2G = "V2GCertificate", "V2G certificate"

    charger = models.ForeignKey(Charger, on_delete=models.CASCADE, related_name="certificates")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    serial_number = models.CharField(max_length=64)
    subject = models.CharField(max_length=300)
    issuer = models.CharField(max_length=300)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField("expires")
    fingerprint_sha256 = models.CharField("SHA-256 fingerprint", max_length=64)
    pem = models.TextField("PEM")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["not_after"]
        constraints = [
            models.UniqueConstraint(
                fields=["charger", "kind", "fingerprint_sha256"], name="certificate_unique_per_charger"
            ),
            models.CheckConstraint(condition=Q(not_after__gt=models.F("not_before")), name="certificate_valid_span"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.subject} (expires {self.not_after:%Y-%m-%d})"


# requested_by of the calls a connection makes on its own, which the admin looks up.
PROBE_REQUESTED_BY = "compatibility probe"
HELD_LIMIT_CHECK_REQUESTED_BY = "check of the limits it holds"


class ChargerCommand(models.Model):
    """Every call the central system made to a charger, who asked, and what came of it."""

    class Outcome(models.TextChoices):
        ANSWERED = "answered"
        OFFLINE = "offline"
        TIMEOUT = "timeout"
        CALL_ERROR = "call_error", "CALLERROR"
        NOT_SUPPORTED = "not_supported", "Not supported by this charger"
        INVALID = "invalid", "Invalid request"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    charger = models.ForeignKey(Charger, on_delete=models.CASCADE, related_name="commands")
    action = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    requested_by = models.CharField(max_length=100)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    response = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    latency_ms = models.PositiveIntegerField("answered in (ms)", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} to {self.charger_id}: {self.outcome}"
