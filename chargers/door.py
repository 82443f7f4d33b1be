"""The door every OCPP handshake passes before the consumer accepts it: throttled failures
(chargers/admission.py), the password check in the database thread, refusals counted rather
than written one by one, and a database outage answered with a refusal, logged once per interval.

State is per server process: with several processes behind a load balancer each counts its
own failures, which still bounds a guesser to a few guesses a minute per process.
"""

import asyncio
import datetime as dt
import functools
import logging
import time
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.apps import apps
from django.conf import settings

from chargers.admission import (
    ANY_CHARGER_ID,
    RefusalCount,
    RefusalKind,
    RefusalTally,
    Throttle,
    Transport,
    Verdict,
    security_refusal,
)
from chargers.certificates import (
    CertificateRefused,
    certificate_from_pem,
    client_certificate_problem,
    forwarded_certificate_pem,
    server_ca_certificate,
    station_identities,
)
from chargers.credentials import charger_password_check, charger_password_hash
from chargers.models import Charger, SecurityProfile
from chargers.services import (
    ConnectionDecision,
    charge_point_id_valid,
    charger_door_lookup,
    charger_refusals_store,
    charger_register_pending,
    connection_decide,
    password_check_needed,
)
from graylogic.outages import DATABASE_ERRORS, OutageLog

logger = logging.getLogger(__name__)

# Refusal counts reach their rows this often (the first of each row at once).
STORE_INTERVAL_S = 5.0

database_outage = OutageLog(logger, "database (charger handshakes)")


@dataclass
class Door:
    """What the door keeps for the process (ChargersConfig.ready())."""

    throttle: Throttle = field(default_factory=Throttle)
    tally: RefusalTally = field(default_factory=RefusalTally)
    # Bound to the running event loop on first use (tests run several loops in one process).
    loop: asyncio.AbstractEventLoop | None = None
    store_lock: asyncio.Lock | None = None
    storer: asyncio.Task | None = None
    # Wrong-path refusals being counted (the loop keeps only a weak reference to a task).
    path_refusals: set[asyncio.Task] = field(default_factory=set)

    def bind(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self.loop is not loop or self.store_lock is None:
            self.loop, self.store_lock, self.storer = loop, asyncio.Lock(), None
        return self.store_lock


def _door() -> Door:
    return apps.get_app_config("chargers").door


async def charger_admit(
    *,
    charge_point_id: str,
    credentials: tuple[str, str] | None,
    offered_subprotocols: list[str],
    remote_address: str,
    transport: Transport,
) -> ConnectionDecision:
    """Whether this handshake may become a charger's connection; refusals are counted."""
    now = time.monotonic()
    verdict = _door().throttle.verdict(address=remote_address, charge_point_id=charge_point_id, now=now)
    if verdict is not Verdict.OPEN:
        whom = "from this address" if verdict is Verdict.ADDRESS_LOCKED else "from this address for this id"
        reason = f"too many failed handshakes {whom}: refused without checking the password"
        shown_id = ANY_CHARGER_ID if verdict is Verdict.ADDRESS_LOCKED else charge_point_id
        await _count(RefusalKind.THROTTLED, reason, address=remote_address, charge_point_id=shown_id, now=now)
        return ConnectionDecision(accepted=False, reason=reason, refusal=RefusalKind.THROTTLED)
    try:
        decision = await _decide(
            charge_point_id=charge_point_id,
            credentials=credentials,
            offered_subprotocols=offered_subprotocols,
            transport=transport,
        )
    except DATABASE_ERRORS as error:
        database_outage.failed(error)
        return ConnectionDecision(
            accepted=False, reason="database unavailable", refusal=RefusalKind.DATABASE_UNAVAILABLE
        )
    database_outage.recovered()
    if decision.accepted:
        _door().throttle.succeeded(address=remote_address, charge_point_id=charge_point_id)
        return decision
    if decision.refusal.is_failure:
        for lockout in _door().throttle.failed(address=remote_address, charge_point_id=charge_point_id, now=now):
            logger.warning(
                "charger handshakes from %s (%s) %s: refused without a password check for %.0f s",
                lockout.address,
                _printable(lockout.charge_point_id),
                "failed too often for this id" if lockout.verdict is Verdict.PAIR_LOCKED else "failed too often",
                lockout.lockout_s,
            )
    await _count(
        decision.refusal,
        decision.reason,
        address=remote_address,
        charge_point_id=charge_point_id,
        charger_pk=decision.charger_pk,
        now=now,
    )
    return decision


def charger_path_refused(*, path: str, refusal: str) -> None:
    """A WebSocket handshake at a path no charger is at (chargers/routing.py), counted like the
    others so that troubleshooting can tell the installer the charger's URL is wrong. Its last
    part is taken as the id the charger meant. Called in the server's event loop, which the
    gate does not wait for."""
    presented = path.rstrip("/").rpartition("/")[2] or path
    message = f"{path} is not a charger's URL path, refused with {refusal}: chargers connect at /ocpp/<id>"
    counting = _count(
        RefusalKind.WRONG_PATH, message, address="", charge_point_id=presented[:100], now=time.monotonic()
    )
    tasks = _door().path_refusals
    task = asyncio.get_running_loop().create_task(counting)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _decide(
    *, charge_point_id: str, credentials: tuple[str, str] | None, offered_subprotocols: list[str], transport: Transport
) -> ConnectionDecision:
    """One read in the database thread; the password hash (15 ms) in a thread of its own, so
    guesses do not hold up every charger's writes. Then the charger's security profile: TLS for
    2 and 3, and for 3 a client certificate from our CA naming it, which stands in for the
    password when the station sends none (A00: profile 3 authenticates by certificate)."""
    decide = functools.partial(
        connection_decide,
        charge_point_id=charge_point_id,
        credentials=credentials,
        offered_subprotocols=offered_subprotocols,
    )
    if not charge_point_id_valid(charge_point_id) or (credentials is not None and credentials[0] != charge_point_id):
        return decide(charger=None, password_right=False)  # refused whether the id exists or not
    lookup = await database_sync_to_async(charger_door_lookup)(charge_point_id=charge_point_id)
    charger, password_right = lookup.charger, False
    if password_check_needed(charger):
        password_right = await _off_the_database_thread(charger_password_check)(
            password=credentials[1] if credentials else None,
            password_hash=charger.password_hash if charger else "",
            password_env=charger.password_env if charger else "",
        )
    if charger is None and lookup.pending_site_pk is not None:
        password_hash = await _off_the_database_thread(charger_password_hash)(credentials[1]) if credentials else ""
        registration = await database_sync_to_async(charger_register_pending)(
            site_pk=lookup.pending_site_pk, charge_point_id=charge_point_id, password_hash=password_hash
        )
        if registration.charger is None:
            return ConnectionDecision(accepted=False, reason=registration.refusal, refusal=RefusalKind.PENDING_CAP)
        charger, password_right = registration.charger, True
    if charger is None or not charger.enabled or charger.security_profile == SecurityProfile.BASIC_AUTH:
        return decide(charger=charger, password_right=password_right)
    certificate_problem = None
    if charger.security_profile == SecurityProfile.TLS_CLIENT_CERTIFICATE:
        certificate_problem = await _off_the_database_thread(_certificate_problem)(charger=charger, transport=transport)
        if certificate_problem is None and credentials is None:
            decide = functools.partial(decide, credentials=(charge_point_id, ""))
            password_right = True
    decision = decide(charger=charger, password_right=password_right)
    if not decision.accepted and decision.refusal not in (RefusalKind.MISSING_CREDENTIALS, RefusalKind.WRONG_PASSWORD):
        return decision
    refusal = security_refusal(
        tls_required=True,
        certificate_required=charger.security_profile == SecurityProfile.TLS_CLIENT_CERTIFICATE,
        tls=transport.tls,
        certificate_problem=certificate_problem,
    )
    if refusal is None:
        return decision
    kind, reason = refusal
    return ConnectionDecision(accepted=False, reason=reason, charger_pk=charger.pk, refusal=kind)


def _certificate_problem(*, charger: Charger, transport: Transport) -> str | None:
    """Why the client certificate the proxy forwarded does not admit this charger, or None."""
    if not transport.client_certificate_header:
        return "none presented (profile 3 connects through a TLS proxy that forwards it, docs/security.md)"
    try:
        certificate = certificate_from_pem(forwarded_certificate_pem(transport.client_certificate_header))
    except CertificateRefused as error:
        return str(error)
    try:
        ca_certificate = server_ca_certificate()
    except (OSError, ValueError) as error:  # unreadable, or not made yet on a read-only install
        logger.error("the CA in %s cannot be read or made: %s", settings.OCPP_CA_DIR, error)
        return "this server's CA cannot be read (the server log says why)"
    return client_certificate_problem(
        certificate,
        ca_certificate=ca_certificate,
        identities=station_identities(charge_point_id=charger.charge_point_id, serial_number=charger.serial_number),
        organization=settings.OCPP_CERTIFICATE_ORGANIZATION,
        now=dt.datetime.now(dt.UTC),
    )


def _off_the_database_thread(function):
    return sync_to_async(function, thread_sensitive=False)


async def _count(
    kind: RefusalKind, message: str, *, address: str, charge_point_id: str, now: float, charger_pk: int | None = None
) -> None:
    """The first refusal of its row is written at once, so the installer sees it; the count
    follows every few seconds."""
    door = _door()
    door.bind()
    count = door.tally.add(
        address=address,
        charge_point_id=_printable(charge_point_id),
        kind=kind,
        message=_printable(message),
        charger_pk=charger_pk,
        now=now,
    )
    if count.event_pk is None and count.count == 1:
        await _store([count])
    if door.storer is None or door.storer.done():
        door.storer = asyncio.get_running_loop().create_task(_store_until_done())


async def _store(counts: list[RefusalCount]) -> None:
    async with _door().bind():
        counts = [count for count in counts if count.unstored]
        if not counts:
            return
        try:
            await database_sync_to_async(charger_refusals_store)(counts=counts)
        except DATABASE_ERRORS as error:
            database_outage.failed(error)  # the counts stay, for the next attempt


async def _store_until_done() -> None:
    door = _door()
    while door.tally.counts:
        await asyncio.sleep(STORE_INTERVAL_S)
        await _store(door.tally.unstored())
        door.tally.forget_stored(now=time.monotonic())


def _printable(text: str) -> str:
    """Ids and paths come from the URL: `%00` is a NUL, which PostgreSQL cannot store."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
