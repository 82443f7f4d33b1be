"""Writes about chargers: connections, boot, status, RFID authorization, the event log.

The OCPP handlers and the admin call these; each is one short transaction.
"""

import datetime as dt
import logging
from dataclasses import asdict, dataclass, fields

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from chargers import device_model, events, quirks, selectors
from chargers.admission import RefusalCount, RefusalKind
from chargers.credentials import charger_password_hash
from chargers.device_notices import FAULTED, FaultChange, external_limit_ends, external_limit_w
from chargers.link import REMOTE_ID_TAG
from chargers.models import (
    DEVICE_VARIABLE_KEY,
    OCPP16,
    OCPP201,
    Charger,
    ChargerEvent,
    Connector,
    DeviceVariable,
    IdTag,
    charge_point_id_validator,
)
from chargers.profiles import ChargerProfile
from energy.models import ChargerControl, Site

logger = logging.getLogger(__name__)

SUPPORTED_SUBPROTOCOLS = (OCPP16, OCPP201)
# A pending charger retries BootNotification this often.
PENDING_BOOT_RETRY_S = 60
# A 2.0.1 station whose device model is being read boots again after this (unless the server
# triggers its boot as soon as the report is in).
DEVICE_MODEL_PENDING_S = 10
# Unknown chargers waiting for approval per site; beyond, more unknown ids are refused.
MAX_PENDING_CHARGERS_PER_SITE = 20


@dataclass(frozen=True)
class ConnectionDecision:
    accepted: bool
    reason: str
    charger_pk: int | None = None
    site_pk: int | None = None
    subprotocol: str | None = None
    # None when the charger offered no subprotocol: accept without echoing one.
    echo_subprotocol: bool = True
    refusal: RefusalKind | None = None


def charger_event_record(
    *,
    charge_point_id: str,
    kind: str,
    message: str,
    charger_pk: int | None = None,
    remote_address: str = "",
    payload: dict | list | None = None,
) -> None:
    """Installers read this log in the admin; it is also logged for the operator."""
    logger.info("charger %s %s: %s", charge_point_id, kind, message)
    if charger_pk is not None and not Charger.objects.filter(pk=charger_pk).exists():
        charger_pk = None  # deleted while connected: keep the event, by its id
    ChargerEvent.objects.create(
        charger_id=charger_pk,
        charge_point_id=charge_point_id[:100],
        remote_address=remote_address,
        kind=kind,
        message=message,
        payload=payload,
    )


def _choose_subprotocol(offered: list[str], configured: str, charge_point_id: str) -> tuple[str | None, bool, str]:
    """Return (protocol, echo it?, note). Of those offered, the first this server speaks and the
    identity may use: the charger lists them in its order of preference (RFC 6455 4.1)."""
    if not offered:
        if not identity_allowed(configured, charge_point_id):
            return None, False, f"no subprotocol offered, and {COLON_IN_201_IDENTITY}"
        return configured, False, f"no subprotocol offered; using the configured {configured}"
    for protocol in offered:
        if protocol in SUPPORTED_SUBPROTOCOLS and identity_allowed(protocol, charge_point_id):
            return protocol, True, ""
    if any(protocol in SUPPORTED_SUBPROTOCOLS for protocol in offered):
        return None, False, COLON_IN_201_IDENTITY
    return (
        None,
        False,
        (f"unsupported subprotocol {', '.join(offered)}; this server speaks {', '.join(SUPPORTED_SUBPROTOCOLS)}"),
    )


# OCPP 2.0.1 part 4: the identity is also the HTTP Basic user, which holds no colon (RFC 7617).
COLON_IN_201_IDENTITY = "an OCPP 2.0.1 identity holds no colon (OCPP 2.0.1 part 4)"


def identity_allowed(protocol: str, charge_point_id: str) -> bool:
    """Every id is up to 48 characters (charge_point_id_validator); 2.0.1's hold no colon."""
    return protocol != OCPP201 or ":" not in charge_point_id


def charge_point_id_valid(charge_point_id: str) -> bool:
    return bool(charge_point_id_validator.regex.match(charge_point_id))


@dataclass(frozen=True)
class DoorLookup:
    """What a handshake needs from the database, read in one go."""

    charger: Charger | None
    # The site an unknown charger would wait at for approval, if any accepts unknown chargers.
    pending_site_pk: int | None


def charger_door_lookup(*, charge_point_id: str) -> DoorLookup:
    charger = Charger.objects.filter(charge_point_id=charge_point_id).first()
    site_pk = None
    if charger is None:
        site_pk = Site.objects.filter(accept_unknown_chargers=True).order_by("pk").values_list("pk", flat=True).first()
    return DoorLookup(charger, site_pk)


def password_check_needed(charger: Charger | None) -> bool:
    """Whether the answer depends on the password. Unknown and disabled ids get the same check
    as a password-protected one, so the time a refusal takes tells nothing about which exist;
    an enabled charger without credentials is let in anyway."""
    return charger is None or not charger.enabled or not charger.accepts_anyone


def connection_decide(
    *,
    charge_point_id: str,
    credentials: tuple[str, str] | None,
    offered_subprotocols: list[str],
    charger: Charger | None,
    password_right: bool,
) -> ConnectionDecision:
    """Whether this charger may connect, before the WebSocket handshake completes (no I/O: the
    door looks the charger up and checks the password off the database thread)."""

    def refuse(kind: RefusalKind, reason: str, charger_pk: int | None = None) -> ConnectionDecision:
        return ConnectionDecision(accepted=False, reason=reason, charger_pk=charger_pk, refusal=kind)

    if not charge_point_id_valid(charge_point_id):
        return refuse(RefusalKind.UNKNOWN_ID, "not a charger id (up to 48 letters, digits or . _ ~ : -)")
    if credentials is not None and credentials[0] != charge_point_id:
        return refuse(
            RefusalKind.USER_MISMATCH,
            f"HTTP Basic user {credentials[0][:48]!r} does not match the charger id in the URL",
        )
    if charger is None:
        return refuse(RefusalKind.UNKNOWN_ID, "unknown charger id")
    if not charger.enabled:
        return refuse(RefusalKind.DISABLED, "charger is disabled", charger.pk)
    if not charger.accepts_anyone:
        if credentials is None:
            return refuse(RefusalKind.MISSING_CREDENTIALS, "missing HTTP Basic credentials", charger.pk)
        if not password_right:
            return refuse(RefusalKind.WRONG_PASSWORD, "wrong password", charger.pk)

    protocol, echo, note = _choose_subprotocol(offered_subprotocols, charger.protocol, charge_point_id)
    if protocol is None:
        return refuse(RefusalKind.UNSUPPORTED_SUBPROTOCOL, note, charger.pk)
    message = "accepted" + (f" ({note})" if note else "")
    if charger.accepts_anyone:
        message += "; no credentials configured for this charger"
    return ConnectionDecision(
        accepted=True,
        reason=message,
        charger_pk=charger.pk,
        site_pk=charger.site_id,
        subprotocol=protocol,
        echo_subprotocol=echo,
    )


@dataclass(frozen=True)
class PendingRegistration:
    charger: Charger | None
    refusal: str = ""  # why there is none


def charger_register_pending(*, site_pk: int, charge_point_id: str, password_hash: str) -> PendingRegistration:
    """An unknown charger joins a site that accepts unknown chargers, pending approval, unless
    the site already has its fill of pending chargers (500 were created in 4.7 s). The password
    it presents now (hashed by the caller) is the one it must present from then on."""
    with transaction.atomic():
        # One registration at a time per site, so concurrent ones cannot pass the cap together.
        site = Site.objects.select_for_update().get(pk=site_pk)
        if Charger.objects.filter(charge_point_id=charge_point_id).exists():
            return PendingRegistration(None, "unknown charger id, registered by another connection a moment ago")
        if Charger.objects.filter(site=site, registration=Charger.Registration.PENDING).count() >= (
            MAX_PENDING_CHARGERS_PER_SITE
        ):
            return PendingRegistration(
                None,
                f"unknown charger id, and {MAX_PENDING_CHARGERS_PER_SITE} chargers already wait for approval "
                f"at {site}: approve or reject them in the admin",
            )
        charger = Charger.objects.create(
            charge_point_id=charge_point_id,
            site=site,
            name=charge_point_id,
            registration=Charger.Registration.PENDING,
            password_hash=password_hash,
        )
    return PendingRegistration(charger)


def charger_refusals_store(*, counts: list[RefusalCount]) -> None:
    """Refused handshakes as the installer reads them: one row per address, charger id, kind and
    minute with how many there were (chargers/admission.py), updated as more arrive."""
    for count in counts:
        counted = count.count
        if count.event_pk is None:
            charger_pk = count.charger_pk
            if charger_pk is not None and not Charger.objects.filter(pk=charger_pk).exists():
                charger_pk = None  # deleted since: keep the row, by its id
            logger.info("charger %s refused from %s: %s", count.charge_point_id, count.address, count.message)
            count.event_pk = ChargerEvent.objects.create(
                charger_id=charger_pk,
                charge_point_id=count.charge_point_id[:100],
                remote_address=count.address[:64],
                kind=ChargerEvent.Kind.REFUSED,
                message=count.message,
                payload={"refusal": str(count.kind)},
                count=counted,
            ).pk
        elif not ChargerEvent.objects.filter(pk=count.event_pk).update(count=counted):
            count.event_pk = None  # its row was pruned meanwhile: written again next time
            continue
        count.stored = counted


def charger_mark_connected(
    *, charger_pk: int, channel_name: str, remote_address: str, protocol: str, note: str
) -> None:
    now = timezone.now()
    Charger.objects.filter(pk=charger_pk).update(
        is_connected=True,
        connected_at=now,
        last_seen_at=now,
        remote_address=remote_address,
        connection_protocol=protocol,
        connection_channel=channel_name,
    )
    charge_point_id = Charger.objects.filter(pk=charger_pk).values_list("charge_point_id", flat=True).first()
    if charge_point_id is None:
        return
    charger_event_record(
        charge_point_id=charge_point_id,
        charger_pk=charger_pk,
        kind=ChargerEvent.Kind.CONNECTED,
        message=note,
        remote_address=remote_address,
    )


def charger_mark_disconnected(*, charger_pk: int, channel_name: str, code: int | None, remote_address: str) -> None:
    """Only the connection that currently owns the charger may mark it offline."""
    updated = Charger.objects.filter(pk=charger_pk, connection_channel=channel_name).update(
        is_connected=False, disconnected_at=timezone.now(), connection_channel=""
    )
    charge_point_id = Charger.objects.filter(pk=charger_pk).values_list("charge_point_id", flat=True).first()
    if charge_point_id is None:  # the installer deleted it while it was connected
        return
    message = f"closed (code {code})" if updated else f"old connection closed (code {code}); a newer one is live"
    charger_event_record(
        charge_point_id=charge_point_id,
        charger_pk=charger_pk,
        kind=ChargerEvent.Kind.DISCONNECTED,
        message=message,
        remote_address=remote_address,
    )


def chargers_touch(charger_pks: list[int]) -> None:
    """Chargers were heard from just now (batched: see chargers/ocpp/writes.py)."""
    Charger.objects.filter(pk__in=set(charger_pks)).update(last_seen_at=timezone.now())


def chargers_mark_stale(*, now: dt.datetime | None = None) -> int:
    """Mark offline every charger silent for longer than heartbeat interval + reconnect timeout.
    A charger's socket may be held by another process, so silence is the only fair test."""
    now = now or timezone.now()
    marked = 0
    for charger in selectors.chargers_silent_too_long(now).only("pk", "charge_point_id", "heartbeat_interval_s"):
        allowed_s = selectors.silence_allowed_s(charger.heartbeat_interval_s)
        with transaction.atomic():
            if Charger.objects.filter(pk=charger.pk, is_connected=True).update(
                is_connected=False, disconnected_at=now, connection_channel=""
            ):
                charger_event_record(
                    charge_point_id=charger.charge_point_id,
                    charger_pk=charger.pk,
                    kind=ChargerEvent.Kind.STALE,
                    message=f"nothing received for more than {allowed_s} s",
                )
                marked += 1
                transaction.on_commit(lambda pk=charger.pk: events.charger_changed(charger_pk=pk))
    return marked


@dataclass(frozen=True)
class BootResult:
    status: str  # Accepted | Pending | Rejected
    interval_s: int
    # Pending because the station's device model is read first (OCPP 2.0.1 B02).
    reads_device_model: bool = False


def charger_boot(*, charger_pk: int, boot_info: dict[str, str]) -> BootResult:
    """Store what the charger says about itself and tell it whether it is registered."""
    charger = Charger.objects.get(pk=charger_pk)
    firmware_before = charger.firmware_version
    for field, value in boot_info.items():
        setattr(charger, field, value or "")
    charger.booted_at = timezone.now()
    charger.last_seen_at = charger.booted_at
    matched = quirks.quirks_for(charger.vendor, charger.model, charger.firmware_version)
    charger.quirks = [quirk.id for quirk in matched]
    # New firmware may take what the old one refused: it starts again from its probe and quirks.
    forgotten = bool(charger.limit_fallbacks) and firmware_before not in ("", charger.firmware_version)
    if forgotten:
        charger.limit_fallbacks = {}
    charger.save(update_fields=[*boot_info, "booted_at", "last_seen_at", "quirks", "limit_fallbacks"])
    if not charger.enabled:
        result = BootResult("Rejected", PENDING_BOOT_RETRY_S)
    elif charger.registration == Charger.Registration.PENDING:
        result = BootResult("Pending", PENDING_BOOT_RETRY_S)
    else:
        result = _device_model_boot(charger) or BootResult("Accepted", charger.heartbeat_interval)
    described = " ".join(v for v in (boot_info.get("vendor"), boot_info.get("model")) if v)
    charger_event_record(
        charge_point_id=charger.charge_point_id,
        charger_pk=charger.pk,
        kind=ChargerEvent.Kind.BOOT,
        message=f"{described} firmware {boot_info.get('firmware_version') or '?'}: {result.status}"
        + (" (its device model is read first)" if result.reads_device_model else "")
        + "".join(f" Known quirk: {quirk.sentence}" for quirk in matched)
        + (" New firmware: the profile fallbacks learned before are forgotten." if forgotten else ""),
        remote_address=charger.remote_address,
        payload={"quirks": charger.quirks} if matched else None,
    )
    return result


def charger_limit_fallback_next(
    *, charger_pk: int, why: str, purpose: str = quirks.CHARGER_MAX, now: dt.datetime | None = None
) -> str | None:
    """The charger refused a limit, or did not hold it (measured power above it for over a
    minute): its limits go out with the next fallback (chargers/quirks.next_fallback) from the
    next control run on; when all were tried, it starts again from its configuration and known
    quirks. Returns what changed in words, or None when it started again or nothing can change.
    Energy control calls it on a refusal; troubleshooting when the measured power stays above."""
    now = now or timezone.now()
    with transaction.atomic():
        charger = Charger.objects.select_for_update().get(pk=charger_pk)
        learned = charger.limit_fallbacks or {}
        fallback = quirks.next_fallback(
            learned,
            purpose=purpose,
            profile=charger.limit_profile,
            charging_rate_units=charger.charging_rate_units,
            unit_fixed=bool(charger.rate_unit_override),
            stack_fixed=charger.max_stack_level_override is not None,
        )
        if fallback is None and not learned:
            return None  # nothing to try that the installer did not fix
        if fallback is None:
            # Every fallback refused too: a refusal that taught a wrong one (a transaction that
            # had just ended) must not keep the charger from the limits it took before.
            charger.limit_fallbacks = {}
            message = f"{why}: every fallback was tried; its limits go out again as its configuration says."
        else:
            steps = [*learned.get("steps", []), {"at": now.isoformat(), "why": why, "change": fallback.change}]
            charger.limit_fallbacks = {**fallback.learned, "steps": steps}
            message = f"{why}: from now on {fallback.change}."
        charger.save(update_fields=["limit_fallbacks"])
    charger_event_record(
        charge_point_id=charger.charge_point_id,
        charger_pk=charger.pk,
        kind=ChargerEvent.Kind.PROFILE_MISMATCH,
        message=message,
        payload={"limit_fallbacks": charger.limit_fallbacks},
    )
    return fallback.change if fallback else None


def charger_limit_fallbacks_forget(*, charger_pk: int) -> None:
    """An installer who fixed the charger (firmware, settings) lets it start from its probe and
    known quirks again."""
    Charger.objects.filter(pk=charger_pk).update(limit_fallbacks={})


def chargers_heartbeat(charger_pks: list[int]) -> None:
    """Chargers sent a Heartbeat within the last second (batched: see chargers/ocpp/writes.py)."""
    now = timezone.now()
    Charger.objects.filter(pk__in=set(charger_pks)).update(last_heartbeat_at=now, last_seen_at=now)


def connector_status_update(
    *,
    charger_pk: int,
    connector_id: int,
    status: str,
    error_code: str,
    info: str = "",
    vendor_id: str = "",
    vendor_error_code: str = "",
    timestamp: dt.datetime | None = None,
) -> bool:
    """Connector 0 is the charger itself. An older notification never overwrites a newer one.
    True when a connector's status changed (energy control then rebalances)."""
    if connector_id == 0:
        Charger.objects.filter(pk=charger_pk).update(status=status, error_code=error_code)
        return False
    values = {
        "status": status,
        "error_code": error_code,
        "info": info,
        "vendor_id": vendor_id,
        "vendor_error_code": vendor_error_code,
        "status_at": timestamp or timezone.now(),
    }
    with transaction.atomic():
        connector, created = Connector.objects.select_for_update().get_or_create(
            charger_id=charger_pk, connector_id=connector_id, defaults=values
        )
        if created:
            return True
        if connector.status_at and values["status_at"] < connector.status_at:
            return False
        changed = connector.status != status
        for field, value in values.items():
            setattr(connector, field, value)
        connector.save()
        return changed


# The status an EVSE has while one of its connectors is in use (OCPP 2.0.1 ConnectorStatusEnumType).
OCCUPIED = "Occupied"
AVAILABLE = "Available"


def evse_status_update(
    *, charger_pk: int, evse_id: int, connector_id: int, status: str, timestamp: dt.datetime | None
) -> bool:
    """An OCPP 2.0.1 StatusNotification, per connector of an EVSE. A Connector row is an EVSE:
    row n is EVSE n (an EVSE charges one car at a time, as a 1.6 connector does, and 2.0.1's
    transactions, limits and remote starts address EVSEs), so two EVSEs are never merged; EVSE 0 is the station, like
    1.6's connector 0. The row's `info` names the EVSE's connector that reported ("connector 2").
    An EVSE charges through one connector at a time and its others then report Unavailable: while
    one is Occupied, the others' reports leave the row as it is. True when the row's status changed."""
    reported_by = f"connector {connector_id}"
    if evse_id != 0:
        row = Connector.objects.filter(charger_id=charger_pk, connector_id=evse_id).values("status", "info").first()
        in_use_by_another = row is not None and row["status"] == OCCUPIED and row["info"] != reported_by
        if in_use_by_another and status != OCCUPIED:
            return False
    return connector_status_update(
        charger_pk=charger_pk, connector_id=evse_id, status=status, error_code="", info=reported_by, timestamp=timestamp
    )


def evse_fault_update(*, charger_pk: int, fault: FaultChange, timestamp: dt.datetime) -> bool:
    """A fault an OCPP 2.0.1 station told in a NotifyEvent (chargers/device_notices.py) on the
    EVSE's row, as a 1.6 StatusNotification Faulted with its error code is stored. Its end puts
    back what the station said the EVSE is, else Occupied while a session runs there (the car
    still charges) and Available otherwise; an EVSE no longer Faulted is left as it is. True when
    the row's status changed."""
    if fault.faulted:
        return connector_status_update(
            charger_pk=charger_pk,
            connector_id=fault.evse_id,
            status=FAULTED,
            error_code=fault.error_code,
            info=fault.info,
            vendor_error_code=fault.vendor_error_code,
            timestamp=timestamp,
        )
    if fault.evse_id == 0:
        now_status = Charger.objects.filter(pk=charger_pk).values_list("status", flat=True).first()
    else:
        now_status = (
            Connector.objects.filter(charger_id=charger_pk, connector_id=fault.evse_id)
            .values_list("status", flat=True)
            .first()
        )
    if now_status != FAULTED:
        return False
    running = (
        Charger(pk=charger_pk).charging_sessions.filter(connector_id=fault.evse_id, stopped_at__isnull=True).exists()
    )
    return connector_status_update(
        charger_pk=charger_pk,
        connector_id=fault.evse_id,
        status=fault.status or (OCCUPIED if running else AVAILABLE),
        error_code="",
        timestamp=timestamp,
    )


def charger_external_limit_record(
    *, charger_pk: int, source: str, schedule: dict, start: dt.datetime, now: dt.datetime
) -> int | None:
    """A limit set on the station outside this server (NotifyChargingLimit): energy control counts
    it (as the station obeys it) until it is cleared or its schedule ends. At most the charger's
    rating is kept: more limits nothing. The watts kept, or None when the schedule sets no
    physical limit (then nothing is kept)."""
    phases, max_power_w = Charger.objects.values_list("phases", "max_power_w").get(pk=charger_pk)
    limit_w = external_limit_w(schedule=schedule, start=start, now=now, phases=phases)
    if limit_w is None:
        return None
    kept_w = min(round(limit_w), max_power_w)
    ChargerControl.objects.filter(charger_id=charger_pk).update(
        external_limit_w=kept_w,
        external_limit_source=source,
        external_limit_expires_at=external_limit_ends(schedule=schedule, start=start),
    )
    return kept_w


def charger_external_limit_clear(*, charger_pk: int, source: str) -> bool:
    """ClearedChargingLimit: the limit that source set is gone. False when none of its was kept."""
    cleared = ChargerControl.objects.filter(charger_id=charger_pk, external_limit_source=source).update(
        external_limit_w=None, external_limit_source="", external_limit_expires_at=None
    )
    return cleared > 0


def id_tag_info(*, charger_pk: int, id_tag: str, now: dt.datetime | None = None) -> dict:
    """The OCPP idTagInfo for a presented tag. Unknown tags are remembered as Invalid so the
    installer can accept them in the admin with one click.

    Our own remote-start tag comes back in Authorize and StartTransaction: it is always Accepted
    and never stored, or every Start would end DeAuthorized and the tag would be listed as unknown."""
    if id_tag == REMOTE_ID_TAG:
        return {"status": IdTag.Status.ACCEPTED}
    now = now or timezone.now()
    tag, _ = IdTag.objects.get_or_create(id_tag=id_tag, defaults={"status": IdTag.Status.INVALID})
    IdTag.objects.filter(pk=tag.pk).update(last_seen_at=now, last_seen_charger_id=charger_pk)

    status = id_tag_status(tag, accepts_any=False, now=now)
    if status != IdTag.Status.ACCEPTED and Charger.objects.filter(pk=charger_pk, accept_any_id_tag=True).exists():
        status = IdTag.Status.ACCEPTED

    info: dict = {"status": status}
    if tag.expiry_date:
        info["expiry_date"] = tag.expiry_date.isoformat()
    if tag.parent is not None:
        info["parent_id_tag"] = tag.parent.id_tag
    return info


def id_tag_status(tag: IdTag, *, accepts_any: bool, now: dt.datetime) -> str:
    """What a presented tag is answered (troubleshooting reads it too): its own status, Expired
    past its expiry date, Blocked with its group (parent) tag; accepted by a charger that
    accepts any tag."""
    status = tag.status
    if status == IdTag.Status.ACCEPTED and tag.expiry_date and tag.expiry_date <= now:
        status = IdTag.Status.EXPIRED
    if status == IdTag.Status.ACCEPTED and tag.parent is not None and tag.parent.status == IdTag.Status.BLOCKED:
        # Blocking a group (parent) tag blocks its members.
        status = IdTag.Status.BLOCKED
    return IdTag.Status.ACCEPTED if accepts_any else status


def charger_firmware_status(*, charger_pk: int, status: str) -> None:
    Charger.objects.filter(pk=charger_pk).update(firmware_status=status, firmware_status_at=timezone.now())


def charger_diagnostics_status(*, charger_pk: int, status: str) -> None:
    Charger.objects.filter(pk=charger_pk).update(diagnostics_status=status, diagnostics_status_at=timezone.now())


def charger_approve(*, charger: Charger) -> None:
    """A pending charger becomes a regular one; its next BootNotification is Accepted."""
    charger.registration = Charger.Registration.ACCEPTED
    charger.save(update_fields=["registration"])


def charger_reject_claim(*, charger: Charger, rejected_by: str) -> bool:
    """A pending charger the installer does not recognise (anyone may claim an id first on a
    site that accepts unknown chargers): it is deleted, which frees the id for the real charger,
    and the log keeps where the claim came from. False when the charger was not pending."""
    if charger.registration != Charger.Registration.PENDING:
        return False
    came_from = charger.remote_address or "an unknown address"
    with transaction.atomic():
        charger.delete()  # ProtectedError (it has sessions) leaves everything as it was
        charger_event_record(
            charge_point_id=charger.charge_point_id,
            kind=ChargerEvent.Kind.CLAIM_REJECTED,
            message=f"the pending claim of this id from {came_from} was rejected by {rejected_by}; the id is free",
            remote_address=charger.remote_address,
        )
    return True


def charger_set_password(*, charger: Charger, password: str) -> None:
    charger.password_hash = charger_password_hash(password) if password else ""
    charger.save(update_fields=["password_hash"])


def chargers_reset_connections() -> None:
    """At start of the embedded server: no socket survives a restart."""
    Charger.objects.filter(is_connected=True).update(
        is_connected=False, disconnected_at=timezone.now(), connection_channel=""
    )


def charger_store_profile(*, charger_pk: int, profile: ChargerProfile, configuration: list[dict]) -> None:
    """Keep what the compatibility probe learned; installer overrides live in other fields."""
    learned = asdict(profile)
    # Only the boot's metering set-up needs it, and `configuration` keeps it anyway.
    del learned["meter_measurands_max_length"]
    Charger.objects.filter(pk=charger_pk).update(**learned, configuration=configuration, probed_at=timezone.now())


def id_tags_set_status(*, id_tags: QuerySet[IdTag], status: str) -> int:
    """Tags chargers present unannounced arrive as Invalid; installers accept or block them in bulk."""
    return id_tags.update(status=status)


def _device_model_boot(charger: Charger) -> BootResult | None:
    """An accepted 2.0.1 station is Pending while its device model is read (first boot, new
    firmware); None: accept it now."""
    if charger.connection_protocol != OCPP201:
        return None
    now = timezone.now()
    step = device_model.boot_step(
        configuration=charger.configuration,
        firmware_version=charger.firmware_version,
        now=now,
        wait_s=settings.OCPP_DEVICE_MODEL_WAIT_S,
    )
    if step == device_model.BootStep.ACCEPT:
        return None
    if step == device_model.BootStep.GIVE_UP:
        charger.configuration = device_model.given_up(
            firmware_version=charger.firmware_version,
            reason=f"no complete report within {settings.OCPP_DEVICE_MODEL_WAIT_S} s",
        )
        charger.save(update_fields=["configuration"])
        return None
    charger.configuration = device_model.read_requested(
        charger.configuration, firmware_version=charger.firmware_version, now=now
    )
    charger.save(update_fields=["configuration"])
    return BootResult("Pending", DEVICE_MODEL_PENDING_S, reads_device_model=True)


VARIABLE_FIELDS = tuple(field.name for field in fields(device_model.VariableRow))


def device_variables_store(*, charger_pk: int, rows: list[device_model.VariableRow], replace: bool) -> None:
    """One NotifyReport part: its attributes added or updated; the first part of a full report
    the server asked for replaces what the charger had (variables gone with a firmware go)."""
    now = timezone.now()
    unique = {row.key: row for row in rows}  # a report naming an attribute twice: its last word
    with transaction.atomic():
        if replace:
            DeviceVariable.objects.filter(charger_id=charger_pk).delete()
        DeviceVariable.objects.bulk_create(
            [DeviceVariable(charger_id=charger_pk, reported_at=now, **asdict(row)) for row in unique.values()],
            update_conflicts=True,
            unique_fields=DEVICE_VARIABLE_KEY,
            update_fields=[*(f for f in VARIABLE_FIELDS if f not in DEVICE_VARIABLE_KEY), "reported_at"],
        )


def device_model_rows(*, charger_pk: int) -> list[device_model.VariableRow]:
    """The station's device model as the pure rules read it."""
    values = DeviceVariable.objects.filter(charger_id=charger_pk).order_by("pk").values(*VARIABLE_FIELDS)
    return [device_model.VariableRow(**row) for row in values]


def device_model_read(*, charger_pk: int) -> ChargerProfile:
    """The whole report is in: the compatibility profile read from it, as 1.6's probe keeps its
    own (overrides stay the installer's, and so does can_switch_phases: Phases3to1 is shown)."""
    rows = device_model_rows(charger_pk=charger_pk)
    firmware_version = Charger.objects.values_list("firmware_version", flat=True).get(pk=charger_pk)
    profile = device_model.profile_from_device_model(rows)
    charger_store_profile(
        charger_pk=charger_pk,
        profile=profile,
        configuration=device_model.summary(rows, firmware_version=firmware_version, base_report="Accepted"),
    )
    return profile


def device_model_unread(*, charger_pk: int, reason: str) -> None:
    """The station would not or could not report: it is accepted at its next boot with the
    profile it had."""
    charger = Charger.objects.get(pk=charger_pk)
    charger.configuration = device_model.given_up(firmware_version=charger.firmware_version, reason=reason)
    charger.save(update_fields=["configuration"])


def device_variable_set(*, charger_pk: int, change: device_model.VariableChange) -> None:
    """A SetVariables the station accepted: its value from now on (so the next boot sends
    nothing again); its answer is in the command log."""
    DeviceVariable.objects.update_or_create(
        charger_id=charger_pk,
        component=change.component,
        component_instance="",
        evse_id=0,
        connector_id=0,
        variable=change.variable,
        variable_instance="",
        attribute_type=DeviceVariable.AttributeType.ACTUAL,
        defaults={"value": change.value, "reported_at": timezone.now()},
    )
