"""Troubleshooting that answers (issue 29): for each symptom of the spec, what the server saw of
one charger becomes one sentence saying what is wrong and one saying what fixes it.

Pure: the facts come in as plain values (energy/diagnosis.py reads them from the database), so
every case is table-tested without a server.
"""

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from energy.sources import LimitSource, source_label

# A charger that connects this many times within RECONNECT_WINDOW reconnects in a loop.
RECONNECT_LOOP_CONNECTIONS = 3
RECONNECT_WINDOW = dt.timedelta(minutes=10)
# Refusals, rejections and mismatches older than this are history, not today's problem.
RECENT = dt.timedelta(minutes=30)
# Measured power this far above the limit (the larger of the two) counts as not holding it:
# meters and the 230 V nominal voltage differ by a few per cent.
OVER_LIMIT_TOLERANCE = 0.1
OVER_LIMIT_MARGIN_W = 300
# How long the car must draw above the limit before the charger is said to ignore it (the
# default of settings.DIAGNOSIS_OVER_LIMIT_S); a charger ramps down within seconds.
OVER_LIMIT_FOR = dt.timedelta(minutes=1)


class Symptom(StrEnum):
    """The spec's troubleshooting list, in its order."""

    CONNECTION_REFUSED = "connection_refused"
    RECONNECT_LOOP = "connects_then_disconnects"
    WONT_START = "charging_wont_start"
    LIMIT_NOT_APPLIED = "power_limit_not_applied"


SYMPTOM_LABELS = {
    Symptom.CONNECTION_REFUSED: "Charger won't connect",
    Symptom.RECONNECT_LOOP: "Charger connects then disconnects",
    Symptom.WONT_START: "Charging won't start",
    Symptom.LIMIT_NOT_APPLIED: "Power limit not applied",
}


class Status(StrEnum):
    OK = "ok"
    PROBLEM = "problem"


class RefusalCause(StrEnum):
    """Why the server refused a charger's handshake, in the words troubleshooting needs."""

    WRONG_PATH = "wrong URL path"
    UNKNOWN_ID = "unknown id"
    USER_MISMATCH = "user differs from the id"
    MISSING_PASSWORD = "missing password"
    WRONG_PASSWORD = "wrong password"
    NO_TLS = "no TLS"
    CERTIFICATE = "certificate refused"
    SUBPROTOCOL = "wrong subprotocol"
    DISABLED = "disabled"
    THROTTLED = "throttled"
    OTHER = "other"


class DisconnectCause(StrEnum):
    """How a connection ended, as far as the server could tell."""

    REPLACED = "replaced"  # a new connection with the same id took over
    SILENT = "silent"  # no message for longer than its heartbeat allows
    ABNORMAL = "abnormal"  # the socket dropped without a close frame (1006): network or power
    SERVER = "server"  # the server closed it (1011, 1013: try again later)
    CLOSED = "closed"  # the charger closed it
    CLAIM_REJECTED = "claim rejected"  # the installer rejected a pending charger's claim of its id (4003)


@dataclass(frozen=True)
class Diagnosis:
    symptom: Symptom
    status: Status
    finding: str  # what is wrong (or that nothing is), one sentence
    fix: str  # what to do about it, one sentence; "" when nothing is wrong
    evidence: tuple[str, ...] = ()
    seen_at: dt.datetime | None = None  # when the newest evidence was seen
    homeowner: str = ""  # the finding in a homeowner's words; "" when it is none of theirs


def _ok(symptom: Symptom, finding: str, *, seen_at: dt.datetime | None = None) -> Diagnosis:
    return Diagnosis(symptom, Status.OK, finding, "", (), seen_at)


def _clock(at: dt.datetime, time_zone: dt.tzinfo) -> str:
    return at.astimezone(time_zone).strftime("%H:%M:%S")


def _minutes(span: dt.timedelta) -> int:
    return max(1, math.ceil(span.total_seconds() / 60))


def _kw(power_w: float) -> str:
    return f"{power_w / 1000:.1f} kW"


# --- 1. Charger won't connect --------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A counted row of the refusal log: `count` refusals of one cause in the minute from `at`."""

    at: dt.datetime
    cause: RefusalCause
    count: int
    message: str
    presented_id: str  # the id in the URL (for a wrong path: the path's last part)
    address: str


@dataclass(frozen=True)
class ConnectionFacts:
    charge_point_id: str
    connected: bool
    last_connected_at: dt.datetime | None
    refusals: Sequence[Refusal]  # of this charger, and unknown ids that look like it (newest first)


REFUSAL_WORDS: dict[RefusalCause, tuple[str, str]] = {
    RefusalCause.WRONG_PATH: (
        "the charger connects to the wrong URL path ({path})",
        "Set the charger's central system URL to end in /ocpp/{id} (ws://… or wss://…, this server's address).",
    ),
    RefusalCause.UNKNOWN_ID: (
        "the charger connects with the id {presented}, which no charger here has",
        "Set the charger's identity (ChargePointId) to {id}, or change this charger's OCPP identity to {presented}.",
    ),
    RefusalCause.USER_MISMATCH: (
        "the charger's HTTP Basic user is not its id in the URL",
        "Set the charger's Basic authentication user to its id, {id}.",
    ),
    RefusalCause.MISSING_PASSWORD: (
        "the charger sends no password, and this charger needs one",
        "Set the password on the charger (AuthorizationKey / Basic auth) to the one set here, or set a new one here.",
    ),
    RefusalCause.WRONG_PASSWORD: (
        "the charger sends a wrong password",
        "Set the same password on the charger (AuthorizationKey / Basic auth) and here (Set password in the admin).",
    ),
    RefusalCause.NO_TLS: (
        "the charger connects without TLS (ws://) but its security profile needs TLS",
        "Use a wss:// URL on the charger, or lower its security profile here to 1.",
    ),
    RefusalCause.CERTIFICATE: (
        "the charger's client certificate is refused: {message}",
        "Have the charger sign a certificate from this server's CA (Sign certificate), or use security profile 2.",
    ),
    RefusalCause.SUBPROTOCOL: (
        "the charger asks for a protocol this server does not speak ({message})",
        "Set the charger to OCPP 1.6-J (ocpp1.6) or OCPP 2.0.1 (ocpp2.0.1) over WebSocket.",
    ),
    RefusalCause.DISABLED: (
        "this charger is disabled here",
        "Enable the charger in the admin.",
    ),
    RefusalCause.THROTTLED: (
        "it failed too often from its address and is locked out for a while",
        "Fix the cause of the earlier refusals (usually the password); the lockout ends by itself.",
    ),
    RefusalCause.OTHER: ("{message}", "Read the charger's event log in the admin."),
}


def connection_refused(facts: ConnectionFacts, *, now: dt.datetime, time_zone: dt.tzinfo = dt.UTC) -> Diagnosis:
    """The newest refusal says why, unless the charger connected since."""
    symptom = Symptom.CONNECTION_REFUSED
    recent = [r for r in facts.refusals if now - r.at <= RECENT]
    if not recent:
        return _ok(symptom, "No refused connections in the last 30 minutes.")
    newest = max(recent, key=lambda r: r.at)
    if facts.last_connected_at is not None and facts.last_connected_at > newest.at:
        return _ok(
            symptom,
            f"Connected since {_clock(facts.last_connected_at, time_zone)}; the last refusal before it: "
            f"{newest.cause.value}.",
            seen_at=facts.last_connected_at,
        )
    same = [r for r in recent if r.cause is newest.cause]
    count = sum(r.count for r in same)
    what, fix = REFUSAL_WORDS[newest.cause]
    words = {"path": newest.presented_id, "id": facts.charge_point_id, "presented": newest.presented_id}
    words.update(message=newest.message)
    if newest.cause is RefusalCause.WRONG_PATH:
        words["path"] = newest.message.partition(" ")[0] or newest.presented_id
    times = "once" if count == 1 else f"{count} times"
    return Diagnosis(
        symptom,
        Status.PROBLEM,
        f"Connection refused {times} since {_clock(min(r.at for r in same), time_zone)}: {what.format(**words)}.",
        fix.format(**words),
        tuple(f"{_clock(r.at, time_zone)} from {r.address}: {r.message} (×{r.count})" for r in recent[:5]),
        newest.at,
        "The charger cannot connect to the server: ask your installer to check its settings.",
    )


# --- 2. Charger connects then disconnects --------------------------------------------------------


@dataclass(frozen=True)
class Disconnect:
    at: dt.datetime
    cause: DisconnectCause
    message: str


@dataclass(frozen=True)
class ReconnectFacts:
    connections: Sequence[dt.datetime]  # when each accepted connection began
    disconnects: Sequence[Disconnect]
    heartbeat_interval_s: int


LOOP_CAUSES = {
    DisconnectCause.REPLACED: (
        "another device connects with the same id and each takes the other's place",
        "Give each charger its own id; switch off the old charger or test tool that still uses this one.",
    ),
    DisconnectCause.SILENT: (
        "it goes silent for longer than its heartbeat ({heartbeat} s) allows",
        "Check the charger's network (Wi-Fi signal, mobile data) and its HeartbeatInterval.",
    ),
    DisconnectCause.ABNORMAL: (
        "the connection drops without a goodbye (network or power)",
        "Check the charger's network link and power supply; a firewall or proxy idle timeout shorter than the "
        "heartbeat also cuts it.",
    ),
    DisconnectCause.SERVER: (
        "the server closes it (it asked it to try again later)",
        "Check the server's health (/healthz) and log: its database or channel layer is failing.",
    ),
    DisconnectCause.CLAIM_REJECTED: (
        "the installer rejected its claim of this id while it waited for approval",
        "Approve the charger in the admin if it is yours, or give the other device its own id.",
    ),
    DisconnectCause.CLOSED: (
        "the charger closes the connection itself",
        "Read the charger's own log: it closes after a rejected boot or a configuration it cannot take; "
        "a firmware update may help.",
    ),
}


def reconnect_loop(facts: ReconnectFacts, *, now: dt.datetime) -> Diagnosis:
    """Three connections within ten minutes is a loop; the most frequent way they ended is its likely cause."""
    symptom = Symptom.RECONNECT_LOOP
    recent = sorted(at for at in facts.connections if now - at <= RECONNECT_WINDOW)
    if len(recent) < RECONNECT_LOOP_CONNECTIONS:
        return _ok(symptom, f"{len(recent)} connection(s) in the last {_minutes(RECONNECT_WINDOW)} minutes: no loop.")
    minutes = _minutes(recent[-1] - recent[0])
    ends = [d for d in facts.disconnects if d.at >= recent[0]]
    counts = {cause: sum(1 for d in ends if d.cause is cause) for cause in DisconnectCause}
    cause = max(DisconnectCause, key=lambda c: counts[c]) if ends else DisconnectCause.ABNORMAL
    why, fix = LOOP_CAUSES[cause]
    why = why.format(heartbeat=facts.heartbeat_interval_s)
    return Diagnosis(
        symptom,
        Status.PROBLEM,
        f"The charger reconnects in a loop: {len(recent)} connections in {minutes} minute{'s' * (minutes != 1)}; "
        f"likely cause: {why}.",
        fix,
        tuple(f"{d.at:%H:%M:%S} {d.message}" for d in ends[:5]),
        recent[-1],
        "The charger keeps losing its connection to the server: ask your installer to check its network.",
    )


# --- 3. Charging won't start -------------------------------------------------------------------


@dataclass(frozen=True)
class StartAttempt:
    """The newest remote start the server sent: the charger's answer ("" when it gave none)."""

    at: dt.datetime
    answer: str  # "Accepted", "Rejected", or "" (offline, timeout, error)
    outcome: str  # the command's outcome: answered, timeout, offline...


@dataclass(frozen=True)
class PresentedTag:
    """The newest tag presented at this charger, and whether it is accepted here."""

    at: dt.datetime
    id_tag: str
    status: str  # Accepted, Invalid, Blocked, Expired


@dataclass(frozen=True)
class StartFacts:
    connected: bool
    connector_status: str  # "" when unknown
    connector_error: str
    session_running: bool
    last_session_at: dt.datetime | None  # the newest session that was not refused
    remote_start: StartAttempt | None
    tag: PresentedTag | None
    limit_w: int | None
    limit_source: str
    limit_reason: str


ZERO_LIMIT_FIXES = {
    LimitSource.MANUAL: "Clear the manual limit (admin, API or the app).",
    LimitSource.MODE: "Set the charger's mode to Now, Solar or Smart on the Now page.",
    LimitSource.SOLAR: "Wait for enough sun, or set the mode to Now.",
    LimitSource.PLAN: "Wait for the planned hours, or set the mode to Now.",
    LimitSource.TOU: "Wait for the cheap hours, or set the mode to Now.",
    LimitSource.FAILSAFE: "Check the site's meter feed (energy readings): control holds chargers at the fail-safe "
    "while it is silent.",
    LimitSource.GRID: "Wait for the grid operator's signal to end.",
    LimitSource.EXTERNAL: "Clear the limit set on the charger by the other system (EMS).",
    LimitSource.CIRCUIT: "Lower other loads on the circuit, or check the fuse rating set here.",
}
STARTED = {"Charging", "SuspendedEV", "SuspendedEVSE", "Finishing"}
PLUGGED = {"Preparing", "Occupied", "SuspendedEV", "SuspendedEVSE"}


def charging_wont_start(facts: StartFacts, *, now: dt.datetime, time_zone: dt.tzinfo = dt.UTC) -> Diagnosis:
    """The first thing in the way, in the order a person would check: the charger, a refusal, the limit, the car."""
    symptom = Symptom.WONT_START
    status = facts.connector_status
    zero = facts.limit_w == 0 and facts.limit_source not in ("", LimitSource.IDLE)
    if not facts.connected:
        return Diagnosis(
            symptom,
            Status.PROBLEM,
            "The charger is offline, so nothing can start.",
            "Check the charger's power and network; 'Charger won't connect' says why it is refused, if it is.",
            homeowner="The charger is offline: it is not connected to the server.",
        )
    if status in ("Faulted", "Unavailable"):
        code = f" ({facts.connector_error})" if facts.connector_error not in ("", "NoError") else ""
        return Diagnosis(
            symptom,
            Status.PROBLEM,
            f"The connector is {status}{code}: it cannot start a session.",
            "Clear the fault at the charger (or reset it); an Unavailable connector is made Available with Change "
            "availability.",
            homeowner=f"The charger reports {'a fault' if status == 'Faulted' else 'it is out of service'}{code}.",
        )
    if facts.session_running and not zero:
        return _ok(symptom, "A session is running.")
    since = facts.last_session_at
    tag = facts.tag
    if tag is not None and tag.status != "Accepted" and now - tag.at <= RECENT and (since is None or tag.at >= since):
        return Diagnosis(
            symptom,
            Status.PROBLEM,
            f"The charger asked to start with tag {tag.id_tag} at {_clock(tag.at, time_zone)} and it was refused: "
            f"the tag is {tag.status} here.",
            "Accept the tag in the admin (ID tags), or set the charger to accept any ID tag.",
            (f"{_clock(tag.at, time_zone)} tag {tag.id_tag}: {tag.status}",),
            tag.at,
            f"Your car is plugged in but the start tag {tag.id_tag} was refused: it is not accepted here "
            "(ask your installer to add it).",
        )
    attempt = facts.remote_start
    if attempt is not None and now - attempt.at <= RECENT and (since is None or attempt.at >= since):
        if attempt.answer == "Rejected":
            return Diagnosis(
                symptom,
                Status.PROBLEM,
                f"The charger refused the start: it answered Rejected to RemoteStartTransaction at "
                f"{_clock(attempt.at, time_zone)} (connector {status or 'status unknown'}).",
                "Check the charger is not reserved, locked or set to authorize remote starts itself "
                "(AuthorizeRemoteTxRequests); try its RFID card to see whether it starts at all.",
                (f"{_clock(attempt.at, time_zone)} RemoteStartTransaction: Rejected",),
                attempt.at,
                "Your car is plugged in but the charger refused to start charging.",
            )
        if attempt.answer != "Accepted":
            return Diagnosis(
                symptom,
                Status.PROBLEM,
                f"The charger did not answer the start sent at {_clock(attempt.at, time_zone)} ({attempt.outcome}).",
                "Check the charger's connection; send the start again once it is online.",
                (f"{_clock(attempt.at, time_zone)} RemoteStartTransaction: {attempt.outcome}",),
                attempt.at,
                "The charger did not answer when it was told to start.",
            )
    if zero and status in PLUGGED | {"Charging"}:
        label = source_label(facts.limit_source)
        why = facts.limit_reason or label
        try:
            fix = ZERO_LIMIT_FIXES[LimitSource(facts.limit_source)]
        except (KeyError, ValueError):
            fix = "Read 'Why this limit' on the charger's admin page."
        return Diagnosis(
            symptom,
            Status.PROBLEM,
            f"A 0 A limit is in force ({label}): {why}.",
            fix,
        )  # the Now page says the limit's own sentence already
    if status == "Available":
        if attempt is not None and attempt.answer == "Accepted" and now - attempt.at <= RECENT:
            return Diagnosis(
                symptom,
                Status.PROBLEM,
                f"The charger took the start at {_clock(attempt.at, time_zone)} but no car is plugged in "
                "(connector Available).",
                "Plug the car in; a charger waits only a short while (ConnectionTimeOut) for the car after a start.",
                seen_at=attempt.at,
                homeowner="No car is plugged in: plug it in and start again.",
            )
        return _ok(symptom, "No car is plugged in (connector Available): nothing to start.")
    if status == "Preparing":
        return Diagnosis(
            symptom,
            Status.PROBLEM,
            "A car is plugged in but no session started: no tag was presented and no start was sent.",
            "Present an accepted RFID tag, start it from the app or the API, or set the charger to accept any ID tag.",
            homeowner="Your car is plugged in and waiting to start: present your card, or start it in the app.",
        )
    if status == "Finishing" and not facts.session_running:
        return Diagnosis(
            symptom,
            Status.PROBLEM,
            "The connector is Finishing: the last session ended, and a new one starts only once the car is unplugged.",
            "Unplug the car and plug it in again (or start it again with its tag).",
            homeowner="Charging has finished: unplug the car, or plug it in again to restart.",
        )
    if status == "Reserved":
        return Diagnosis(
            symptom,
            Status.PROBLEM,
            "The connector is Reserved: it starts only for the reservation's tag.",
            "Present the reservation's tag, or cancel the reservation (Cancel reservation).",
            homeowner="The charger is reserved.",
        )
    if status in STARTED or facts.session_running:
        return _ok(symptom, f"The connector is {status}: charging started.")
    return _ok(symptom, f"The connector is {status or 'not reported yet'}.")


# --- 4. Power limit not applied ----------------------------------------------------------------


@dataclass(frozen=True)
class ProfileRejection:
    """The newest profile the charger did not accept, and what was sent."""

    at: dt.datetime
    purpose: str  # ChargePointMaxProfile, TxProfile, TxDefaultProfile
    limit_w: int
    unit: str  # "A" or "W", as sent; "" when unknown
    answer: str  # Rejected, NotSupported, or the command's outcome
    reason: str  # the charger's own reason (2.0.1 statusInfo), "" when it gave none


@dataclass(frozen=True)
class Mismatch:
    """The charger's composite schedule differed from what was sent (energy/services.py)."""

    at: dt.datetime
    message: str


@dataclass(frozen=True)
class PowerSample:
    at: dt.datetime
    power_w: float


@dataclass(frozen=True)
class LimitFacts:
    limit_w: int | None  # the limit in force (the charger accepted it); None without one
    limit_since: dt.datetime | None  # when the charger accepted it
    last_accepted_at: dt.datetime | None  # the newest profile the charger accepted
    rejection: ProfileRejection | None
    mismatch: Mismatch | None
    samples: Sequence[PowerSample]  # the running session's power, oldest first
    fallbacks: Sequence[str] = ()  # what energy control changed after rejections (compatibility profile)


def over_limit_span(
    samples: Sequence[PowerSample], *, limit_w: int, since: dt.datetime | None
) -> tuple[dt.timedelta, float] | None:
    """How long the newest samples have stayed above the limit, and the most they drew; None
    when the newest sample holds it. Samples before the limit was accepted do not count."""
    allowed_w = limit_w + max(limit_w * OVER_LIMIT_TOLERANCE, OVER_LIMIT_MARGIN_W)
    counted = [s for s in samples if since is None or s.at >= since]
    if not counted or counted[-1].power_w <= allowed_w:
        return None
    run: list[PowerSample] = []
    for sample in reversed(counted):
        if sample.power_w <= allowed_w:
            break
        run.append(sample)
    return run[0].at - run[-1].at, max(s.power_w for s in run)


def limit_not_applied(
    facts: LimitFacts, *, now: dt.datetime, over_limit_for: dt.timedelta = OVER_LIMIT_FOR, time_zone: dt.tzinfo = dt.UTC
) -> Diagnosis:
    """A rejected profile, a schedule that differs from it, or a car drawing above it too long."""
    symptom = Symptom.LIMIT_NOT_APPLIED
    fallbacks = tuple(f"fallback learned: {f}" for f in facts.fallbacks)
    rejection = facts.rejection
    accepted = facts.last_accepted_at
    if rejection is not None and now - rejection.at <= RECENT and (accepted is None or rejection.at > accepted):
        unit = f" in {rejection.unit}" if rejection.unit else ""
        because = f" ({rejection.reason})" if rejection.reason else ""
        return Diagnosis(
            symptom,
            Status.PROBLEM,
            f"The charger rejected the profile: {rejection.purpose} of {rejection.limit_w} W sent{unit} at "
            f"{_clock(rejection.at, time_zone)} was answered {rejection.answer}{because}.",
            "Energy control tries the compatibility profile's fallbacks (the other unit, a lower stack level, "
            "another purpose); if none is taken, set the limit unit or stack level override on the charger's page, "
            "or update its firmware.",
            (f"{_clock(rejection.at, time_zone)} {rejection.purpose}{unit}: {rejection.answer}", *fallbacks),
            rejection.at,
            "The charger does not take the power limit the server sends: ask your installer to check it.",
        )
    mismatch = facts.mismatch
    if mismatch is not None and now - mismatch.at <= RECENT and (accepted is None or mismatch.at >= accepted):
        return Diagnosis(
            symptom,
            Status.PROBLEM,
            f"The charger's composite schedule differs from what was sent: {mismatch.message}.",
            "Energy control sends it again; if it keeps differing, check the stack level and the other profiles "
            "the charger holds (Get composite schedule, Clear charging profile).",
            (f"{_clock(mismatch.at, time_zone)} {mismatch.message}", *fallbacks),
            mismatch.at,
            "The charger does not hold the power limit the server sent.",
        )
    if facts.limit_w is None:
        return _ok(symptom, "No limit is in force yet.")
    over = over_limit_span(facts.samples, limit_w=facts.limit_w, since=facts.limit_since)
    if over is not None and over[0] >= over_limit_for:
        span, most_w = over
        seconds = round(span.total_seconds())
        return Diagnosis(
            symptom,
            Status.PROBLEM,
            f"The measured power stayed above the limit: up to {_kw(most_w)} for {seconds} s where "
            f"{_kw(facts.limit_w)} is in force (the charger accepted the limit but does not apply it).",
            "Energy control tries the compatibility profile's fallbacks (another unit or purpose); if the power stays "
            "above, the charger ignores limits: update its firmware or report it to its maker.",
            (
                f"{_clock(facts.samples[-1].at, time_zone)} {round(most_w)} W measured, limit {facts.limit_w} W",
                *fallbacks,
            ),
            facts.samples[-1].at,
            f"The charger does not apply the power limit: the car draws {_kw(most_w)} where "
            f"{_kw(facts.limit_w)} is allowed.",
        )
    held = f"The charger holds the limit sent ({facts.limit_w} W)"
    if facts.fallbacks:
        held += f", with the fallback it taught ({facts.fallbacks[-1]})"
    return Diagnosis(symptom, Status.OK, f"{held}.", "", fallbacks, facts.limit_since)


def limit_ignored_why(
    facts: LimitFacts, *, last_step_at: dt.datetime | None, over_limit_for: dt.timedelta = OVER_LIMIT_FOR
) -> str | None:
    """Why the compatibility profile's next fallback is due (measured power above an accepted
    limit for longer than over_limit_for), or None. Once per stretch above the limit: a step
    taken during this stretch waits for a limit sent with it."""
    if facts.limit_w is None:
        return None
    over = over_limit_span(facts.samples, limit_w=facts.limit_w, since=facts.limit_since)
    if over is None or over[0] < over_limit_for:
        return None
    span, most_w = over
    if last_step_at is not None and last_step_at >= facts.samples[-1].at - span:
        return None
    return (
        f"measured power up to {_kw(most_w)} above the {_kw(facts.limit_w)} limit it accepted "
        f"for {round(span.total_seconds())} s"
    )


# --- all together ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChargerFacts:
    connection: ConnectionFacts
    reconnects: ReconnectFacts
    start: StartFacts
    limit: LimitFacts


def diagnose(
    facts: ChargerFacts,
    *,
    now: dt.datetime,
    over_limit_for: dt.timedelta = OVER_LIMIT_FOR,
    time_zone: dt.tzinfo = dt.UTC,
) -> list[Diagnosis]:
    """One finding per symptom, in the spec's order."""
    return [
        connection_refused(facts.connection, now=now, time_zone=time_zone),
        reconnect_loop(facts.reconnects, now=now),
        charging_wont_start(facts.start, now=now, time_zone=time_zone),
        limit_not_applied(facts.limit, now=now, over_limit_for=over_limit_for, time_zone=time_zone),
    ]
