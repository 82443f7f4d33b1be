"""What the server saw of one charger, read for troubleshooting (energy/troubleshooting.py holds
the rules): its refusal and connection log, its connector, the starts and tags it refused, the
profiles it rejected and the power it drew. Every read is bounded to the last minutes or rows."""

import datetime as dt
import difflib
import re

from django.conf import settings
from django.utils import timezone

from chargers.admission import RefusalKind
from chargers.models import Charger, ChargerCommand, ChargerEvent, IdTag
from chargers.quirks import learned_in_words
from chargers.selectors import charger_main_connector
from chargers.services import charger_limit_fallback_next, id_tag_status
from energy.troubleshooting import (
    RECENT,
    RECONNECT_WINDOW,
    ChargerFacts,
    ConnectionFacts,
    Diagnosis,
    Disconnect,
    DisconnectCause,
    LimitFacts,
    Mismatch,
    PowerSample,
    PresentedTag,
    ProfileRejection,
    ReconnectFacts,
    Refusal,
    RefusalCause,
    StartAttempt,
    StartFacts,
    diagnose,
    limit_ignored_why,
)
from graylogic.datetimes import zone_named
from sessions.measurands import POWER_UNITS, in_base_unit, whole_meter_value
from sessions.selectors import POWER, charger_active_session

MAX_ROWS = 200  # of each log read
# A refused id this close to a charger's (difflib ratio) is taken as that charger's typo.
ALIKE_RATIO = 0.75
PROFILE_ACTIONS = ("SetChargingProfile",)
START_ACTIONS = ("RemoteStartTransaction", "RequestStartTransaction")

# The refusal log names each row's kind (chargers/admission.RefusalKind); troubleshooting's words for it.
REFUSAL_CAUSES = {
    RefusalKind.WRONG_PASSWORD: RefusalCause.WRONG_PASSWORD,
    RefusalKind.MISSING_CREDENTIALS: RefusalCause.MISSING_PASSWORD,
    RefusalKind.UNKNOWN_ID: RefusalCause.UNKNOWN_ID,
    RefusalKind.USER_MISMATCH: RefusalCause.USER_MISMATCH,
    RefusalKind.TLS_REQUIRED: RefusalCause.NO_TLS,
    RefusalKind.CERTIFICATE_REFUSED: RefusalCause.CERTIFICATE,
    RefusalKind.UNSUPPORTED_SUBPROTOCOL: RefusalCause.SUBPROTOCOL,
    RefusalKind.DISABLED: RefusalCause.DISABLED,
    RefusalKind.THROTTLED: RefusalCause.THROTTLED,
    RefusalKind.WRONG_PATH: RefusalCause.WRONG_PATH,
    RefusalKind.PENDING_CAP: RefusalCause.OTHER,
    RefusalKind.DATABASE_UNAVAILABLE: RefusalCause.OTHER,
}
CLOSE_CODE = re.compile(r"\(code (\d+|None)\)")


def refusal_cause(payload: dict | None) -> RefusalCause:
    """The cause of one refusal row, from the kind the door stored with it."""
    return REFUSAL_CAUSES.get((payload or {}).get("refusal"), RefusalCause.OTHER)


def ids_alike(presented: str, charge_point_id: str) -> bool:
    """A refused id that is probably this charger's, mistyped (case, a digit, a dash)."""
    if presented.casefold() == charge_point_id.casefold():
        return True
    return difflib.SequenceMatcher(None, presented.casefold(), charge_point_id.casefold()).ratio() >= ALIKE_RATIO


def disconnect_cause(kind: str, message: str) -> DisconnectCause:
    if kind == ChargerEvent.Kind.REPLACED:
        return DisconnectCause.REPLACED
    if kind == ChargerEvent.Kind.STALE:
        return DisconnectCause.SILENT
    match = CLOSE_CODE.search(message)
    code = match[1] if match else "None"
    if code == "4000":
        return DisconnectCause.REPLACED
    if code == "4003":
        return DisconnectCause.CLAIM_REJECTED
    if code in ("1011", "1013"):
        return DisconnectCause.SERVER
    if code in ("1006", "None"):
        return DisconnectCause.ABNORMAL
    return DisconnectCause.CLOSED


def _connection_facts(charger: Charger, now: dt.datetime) -> ConnectionFacts:
    refused = ChargerEvent.objects.filter(kind=ChargerEvent.Kind.REFUSED, created_at__gte=now - RECENT)
    fields = ("created_at", "message", "count", "charge_point_id", "remote_address", "payload")
    own = list(refused.filter(charger=charger).order_by("-created_at").values_list(*fields)[:MAX_ROWS])
    # Refusals before the id is known hold no charger: those of a look-alike id or from its
    # address are taken as its own (read apart, so that a scan's rows cannot crowd them out).
    strangers = [
        row
        for row in refused.filter(charger__isnull=True).order_by("-created_at").values_list(*fields)[:MAX_ROWS]
        if ids_alike(row[3], charger.charge_point_id) or (row[4] and row[4] == charger.remote_address)
    ]
    refusals = sorted(
        (
            Refusal(at, refusal_cause(payload), count, message, presented, address)
            for at, message, count, presented, address, payload in own + strangers
        ),
        key=lambda refusal: refusal.at,
        reverse=True,
    )
    return ConnectionFacts(
        charge_point_id=charger.charge_point_id,
        connected=charger.is_connected,
        last_connected_at=charger.connected_at,
        refusals=refusals,
    )


def _reconnect_facts(charger: Charger, now: dt.datetime) -> tuple[list[dt.datetime], list[Disconnect]]:
    kinds = (ChargerEvent.Kind.CONNECTED, ChargerEvent.Kind.DISCONNECTED, ChargerEvent.Kind.REPLACED)
    rows = list(
        charger.events.filter(kind__in=(*kinds, ChargerEvent.Kind.STALE), created_at__gte=now - RECONNECT_WINDOW)
        .order_by("-created_at")
        .values_list("created_at", "kind", "message")[:MAX_ROWS]
    )
    connections = [at for at, kind, _ in rows if kind == ChargerEvent.Kind.CONNECTED]
    disconnects = [
        Disconnect(at, disconnect_cause(kind, message), message)
        for at, kind, message in rows
        if kind != ChargerEvent.Kind.CONNECTED
    ]
    return connections, disconnects


def _start_facts(charger: Charger, now: dt.datetime) -> StartFacts:
    connector = charger_main_connector(charger=charger)
    control = charger.control
    session = charger_active_session(charger=charger)
    last_session_at = (
        charger.charging_sessions.exclude(stop_reason="DeAuthorized")
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    command = (
        charger.commands.filter(action__in=START_ACTIONS, created_at__gte=now - RECENT)
        .order_by("-created_at")
        .values_list("created_at", "outcome", "response")
        .first()
    )
    attempt = None
    if command is not None:
        at, outcome, response = command
        answered = outcome == ChargerCommand.Outcome.ANSWERED and isinstance(response, dict)
        attempt = StartAttempt(at, str(response.get("status", "")) if answered else "", outcome)
    tag = (
        IdTag.objects.filter(last_seen_charger=charger, last_seen_at__gte=now - RECENT)
        .select_related("parent")
        .order_by("-last_seen_at")
        .first()
    )
    return StartFacts(
        connected=charger.is_connected,
        connector_status=connector.status if connector else "",
        connector_error=connector.error_code if connector else "",
        session_running=session is not None,
        last_session_at=last_session_at,
        remote_start=attempt,
        tag=None
        if tag is None
        else PresentedTag(
            tag.last_seen_at, tag.id_tag, id_tag_status(tag, accepts_any=charger.accept_any_id_tag, now=now)
        ),
        limit_w=control.limit_w,
        limit_source=control.limit_source,
        limit_reason=control.limit_reason,
    )


def _profile_sent(payload: dict) -> tuple[str, str]:
    """The purpose and unit of a SetChargingProfile, OCPP 1.6 or 2.0.1."""
    profile = payload.get("csChargingProfiles") or payload.get("chargingProfile") or {}
    schedule = profile.get("chargingSchedule") or {}
    if isinstance(schedule, list):
        schedule = schedule[0] if schedule else {}
    return str(profile.get("chargingProfilePurpose", "profile")), str(schedule.get("chargingRateUnit", ""))


def _limit_facts(charger: Charger, now: dt.datetime) -> LimitFacts:
    control = charger.control
    since = now - RECENT
    commands = list(
        charger.commands.filter(action__in=PROFILE_ACTIONS, created_at__gte=since)
        .order_by("-created_at")
        .values_list("created_at", "payload", "outcome", "response")[:MAX_ROWS]
    )
    accepted = [
        at
        for at, _, outcome, response in commands
        if outcome == ChargerCommand.Outcome.ANSWERED and (response or {}).get("status") == "Accepted"
    ]
    refused = [c for c in commands if c[0] not in accepted]
    rejection = None
    if refused:
        at, payload, outcome, response = refused[0]
        purpose, unit = _profile_sent(payload)
        answer = (response or {}).get("status") or outcome
        info = (response or {}).get("statusInfo") or {}
        reason = " ".join(str(info.get(k, "")) for k in ("reasonCode", "additionalInfo")).strip()
        decided_w = (
            charger.limit_decisions.filter(decided_at__lte=at + dt.timedelta(seconds=30))
            .order_by("-decided_at")
            .values_list("limit_w", flat=True)
            .first()
        )
        rejection = ProfileRejection(at, purpose, decided_w or 0, unit, str(answer), reason)
    mismatch = (
        charger.events.filter(kind=ChargerEvent.Kind.PROFILE_MISMATCH, created_at__gte=since)
        .order_by("-created_at")
        .values_list("created_at", "message")
        .first()
    )
    limit_since = (
        charger.limit_decisions.filter(limit_w=control.limit_w)
        .order_by("-decided_at")
        .values_list("decided_at", flat=True)
        .first()
        if control.limit_w is not None
        else None
    )
    return LimitFacts(
        limit_w=control.limit_w,
        limit_since=limit_since,
        last_accepted_at=accepted[0] if accepted else None,
        rejection=rejection,
        mismatch=Mismatch(*mismatch) if mismatch else None,
        samples=_power_samples(charger, now),
        fallbacks=tuple(learned_in_words(charger.limit_fallbacks if isinstance(charger.limit_fallbacks, dict) else {})),
    )


def _power_samples(charger: Charger, now: dt.datetime) -> list[PowerSample]:
    """The running session's power over the last minutes, one value per sample time."""
    session = charger_active_session(charger=charger)
    if session is None:
        return []
    rows = list(
        session.samples.filter(measurand=POWER, value__isnull=False, unit__in=POWER_UNITS, timestamp__gte=now - RECENT)
        .order_by("-timestamp")
        .values_list("timestamp", "value", "unit", "phase", "location")[:MAX_ROWS]
    )
    by_time: dict[dt.datetime, list[tuple[float, str, str]]] = {}
    for at, value, unit, phase, location in rows:
        by_time.setdefault(at, []).append((in_base_unit(value, unit), phase, location))
    samples = []
    for at in sorted(by_time):
        power_w = whole_meter_value(by_time[at])
        if power_w is not None:
            samples.append(PowerSample(at, power_w))
    return samples


def over_limit_for() -> dt.timedelta:
    """How long a car may draw above its limit before the charger is said to ignore it."""
    return dt.timedelta(seconds=settings.DIAGNOSIS_OVER_LIMIT_S)


def charger_facts(*, charger: Charger, now: dt.datetime) -> ChargerFacts:
    connections, disconnects = _reconnect_facts(charger, now)
    return ChargerFacts(
        connection=_connection_facts(charger, now),
        reconnects=ReconnectFacts(connections, disconnects, charger.heartbeat_interval),
        start=_start_facts(charger, now),
        limit=_limit_facts(charger, now),
    )


def charger_diagnose(*, charger: Charger, now: dt.datetime | None = None) -> list[Diagnosis]:
    """Each symptom's finding for one charger, from what the server saw of it."""
    now = now or timezone.now()
    charger = Charger.objects.select_related("control", "site").get(pk=charger.pk)  # as it is now
    return diagnose(
        charger_facts(charger=charger, now=now),
        now=now,
        over_limit_for=over_limit_for(),
        time_zone=zone_named(charger.site.time_zone),
    )


def chargers_limit_ignored_step(*, now: dt.datetime | None = None) -> dict[str, str | None]:
    """Where 'measured power above the limit' is acted on: each charging charger whose car drew
    above its accepted limit for longer than DIAGNOSIS_OVER_LIMIT_S steps to its compatibility
    profile's next fallback (chargers.services.charger_limit_fallback_next), once per stretch.
    Returns what changed per charger id (None: it started again from its configuration)."""
    now = now or timezone.now()
    changed = {}
    charging = (
        Charger.objects.filter(is_connected=True, control__limit_w__isnull=False, charging_sessions__stopped_at=None)
        .select_related("control")
        .distinct()
    )
    for charger in charging:
        steps = (charger.limit_fallbacks or {}).get("steps") or [{}]
        last_step_at = steps[-1].get("at")
        why = limit_ignored_why(
            _limit_facts(charger, now),
            last_step_at=dt.datetime.fromisoformat(last_step_at) if last_step_at else None,
            over_limit_for=over_limit_for(),
        )
        if why is not None:
            changed[charger.charge_point_id] = charger_limit_fallback_next(charger_pk=charger.pk, why=why)
    return changed
