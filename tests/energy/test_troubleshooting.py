"""Troubleshooting's rules (energy/troubleshooting.py) as tables: each symptom of the spec, from
the facts the server saw to the sentence and fix it says. No database."""

import datetime as dt

import pytest

from energy.troubleshooting import (
    ConnectionFacts,
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
    Status,
    charging_wont_start,
    connection_refused,
    limit_ignored_why,
    limit_not_applied,
    over_limit_span,
    reconnect_loop,
)

NOW = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)


def ago(**delta) -> dt.datetime:
    return NOW - dt.timedelta(**delta)


def refusal(cause: RefusalCause, message: str, *, presented="GARAGE-1", minutes=1, count=1) -> Refusal:
    return Refusal(ago(minutes=minutes), cause, count, message, presented, "192.0.2.7")


# --- charger won't connect -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("refused", "finding", "fix"),
    [
        (
            refusal(RefusalCause.WRONG_PATH, "/ws/GARAGE-1 is not a charger's URL path, refused with 404 Not Found"),
            "wrong URL path (/ws/GARAGE-1)",
            "end in /ocpp/GARAGE-1",
        ),
        (
            refusal(RefusalCause.UNKNOWN_ID, "unknown charger id", presented="GARAGE_1"),
            "connects with the id GARAGE_1, which no charger here has",
            "identity (ChargePointId) to GARAGE-1",
        ),
        (refusal(RefusalCause.WRONG_PASSWORD, "wrong password"), "sends a wrong password", "Set the same password"),
        (
            refusal(RefusalCause.MISSING_PASSWORD, "missing HTTP Basic credentials"),
            "sends no password",
            "Set the password",
        ),
        (
            refusal(RefusalCause.NO_TLS, "security profile 2 needs TLS (wss://): refused on plain ws"),
            "without TLS (ws://)",
            "wss://",
        ),
        (
            refusal(RefusalCause.SUBPROTOCOL, "unsupported subprotocol ocpp1.5; this server speaks ocpp1.6, ocpp2.0.1"),
            "a protocol this server does not speak (unsupported subprotocol ocpp1.5",
            "OCPP 1.6-J (ocpp1.6)",
        ),
        (refusal(RefusalCause.DISABLED, "charger is disabled"), "disabled here", "Enable the charger"),
        (refusal(RefusalCause.CERTIFICATE, "client certificate refused: expired"), "expired", "Sign certificate"),
        (refusal(RefusalCause.THROTTLED, "too many failed handshakes"), "locked out", "lockout ends by itself"),
        (refusal(RefusalCause.USER_MISMATCH, "HTTP Basic user 'x'"), "Basic user is not its id", "GARAGE-1"),
    ],
)
def test_a_refusal_names_its_cause_and_fix(refused, finding, fix):
    facts = ConnectionFacts("GARAGE-1", connected=False, last_connected_at=None, refusals=[refused])
    diagnosis = connection_refused(facts, now=NOW)
    assert diagnosis.status is Status.PROBLEM
    assert diagnosis.finding.startswith("Connection refused once since 09:59:00: ")
    assert finding in diagnosis.finding
    assert fix in diagnosis.fix
    assert diagnosis.seen_at == refused.at
    assert diagnosis.homeowner


def test_the_newest_refusal_wins_and_its_rows_are_counted():
    facts = ConnectionFacts(
        "GARAGE-1",
        connected=False,
        last_connected_at=None,
        refusals=[
            refusal(RefusalCause.WRONG_PASSWORD, "wrong password", minutes=1, count=4),
            refusal(RefusalCause.SUBPROTOCOL, "unsupported subprotocol x", minutes=3),
            refusal(RefusalCause.WRONG_PASSWORD, "wrong password", minutes=5, count=2),
        ],
    )
    diagnosis = connection_refused(facts, now=NOW)
    assert diagnosis.finding == "Connection refused 6 times since 09:55:00: the charger sends a wrong password."
    assert len(diagnosis.evidence) == 3


@pytest.mark.parametrize(
    ("last_connected_at", "refusals", "finding"),
    [
        (None, [], "No refused connections in the last 30 minutes."),
        (None, [refusal(RefusalCause.WRONG_PASSWORD, "wrong password", minutes=31)], "No refused connections"),
        (ago(seconds=10), [refusal(RefusalCause.WRONG_PASSWORD, "wrong password")], "Connected since 09:59:50"),
    ],
)
def test_no_recent_refusal_or_a_connection_since_is_ok(last_connected_at, refusals, finding):
    facts = ConnectionFacts("GARAGE-1", connected=True, last_connected_at=last_connected_at, refusals=refusals)
    diagnosis = connection_refused(facts, now=NOW)
    assert (diagnosis.status, diagnosis.fix) == (Status.OK, "")
    assert diagnosis.finding.startswith(finding)


# --- connects then disconnects -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cause", "likely"),
    [
        (DisconnectCause.CLOSED, "the charger closes the connection itself"),
        (DisconnectCause.ABNORMAL, "drops without a goodbye"),
        (DisconnectCause.REPLACED, "another device connects with the same id"),
        (DisconnectCause.SILENT, "silent for longer than its heartbeat (300 s)"),
        (DisconnectCause.SERVER, "the server closes it"),
        (DisconnectCause.CLAIM_REJECTED, "the installer rejected its claim of this id"),
    ],
)
def test_a_reconnect_loop_counts_its_connections_and_names_the_likely_cause(cause, likely):
    connections = [ago(minutes=4), ago(minutes=3), ago(minutes=2), ago(minutes=1), ago(seconds=10)]
    disconnects = [Disconnect(at + dt.timedelta(seconds=5), cause, "closed") for at in connections[:-1]]
    diagnosis = reconnect_loop(ReconnectFacts(connections, disconnects, 300), now=NOW)
    assert diagnosis.status is Status.PROBLEM
    assert diagnosis.finding.startswith("The charger reconnects in a loop: 5 connections in 4 minutes; likely cause: ")
    assert likely in diagnosis.finding
    assert diagnosis.fix
    assert diagnosis.seen_at == connections[-1]


@pytest.mark.parametrize(
    "connections",
    [[], [ago(minutes=1), ago(minutes=2)], [ago(minutes=11), ago(minutes=12), ago(minutes=13), ago(minutes=1)]],
)
def test_fewer_than_three_connections_in_ten_minutes_is_no_loop(connections):
    diagnosis = reconnect_loop(ReconnectFacts(connections, [], 300), now=NOW)
    assert diagnosis.status is Status.OK
    assert "no loop" in diagnosis.finding


# --- charging won't start ------------------------------------------------------------------------


def start(**overrides) -> StartFacts:
    fields = {
        "connected": True,
        "connector_status": "Preparing",
        "connector_error": "NoError",
        "session_running": False,
        "last_session_at": ago(hours=2),
        "remote_start": None,
        "tag": None,
        "limit_w": None,
        "limit_source": "",
        "limit_reason": "",
    }
    return StartFacts(**(fields | overrides))


@pytest.mark.parametrize(
    ("facts", "status", "finding", "homeowner"),
    [
        (start(connected=False), Status.PROBLEM, "The charger is offline", "offline"),
        (
            start(connector_status="Faulted", connector_error="GroundFailure"),
            Status.PROBLEM,
            "The connector is Faulted (GroundFailure)",
            "a fault (GroundFailure)",
        ),
        (start(connector_status="Unavailable"), Status.PROBLEM, "The connector is Unavailable", "out of service"),
        (
            start(tag=PresentedTag(ago(minutes=1), "STRANGER", "Invalid")),
            Status.PROBLEM,
            "asked to start with tag STRANGER at 09:59:00 and it was refused: the tag is Invalid here",
            "start tag STRANGER was refused",
        ),
        (
            start(remote_start=StartAttempt(ago(minutes=1), "Rejected", "answered")),
            Status.PROBLEM,
            "The charger refused the start: it answered Rejected to RemoteStartTransaction at 09:59:00",
            "the charger refused to start charging",
        ),
        (
            start(remote_start=StartAttempt(ago(minutes=1), "", "timeout")),
            Status.PROBLEM,
            "did not answer the start sent at 09:59:00 (timeout)",
            "did not answer",
        ),
        (
            start(limit_w=0, limit_source="manual", limit_reason="a manual limit of 0 W pauses charging"),
            Status.PROBLEM,
            "A 0 A limit is in force (manual limit): a manual limit of 0 W pauses charging.",
            "",
        ),
        (
            start(connector_status="Available", remote_start=StartAttempt(ago(minutes=1), "Accepted", "answered")),
            Status.PROBLEM,
            "took the start at 09:59:00 but no car is plugged in",
            "No car is plugged in",
        ),
        (start(connector_status="Available"), Status.OK, "No car is plugged in (connector Available)", ""),
        (start(), Status.PROBLEM, "A car is plugged in but no session started", "present your card"),
        (start(connector_status="Charging", session_running=True), Status.OK, "A session is running.", ""),
        (start(connector_status="SuspendedEV"), Status.OK, "The connector is SuspendedEV", ""),
        (
            start(connector_status="Finishing"),
            Status.PROBLEM,
            "The connector is Finishing: the last session ended",
            "unplug the car",
        ),
        (start(connector_status="Reserved"), Status.PROBLEM, "starts only for the reservation's tag", "reserved"),
    ],
)
def test_charging_wont_start_says_what_is_in_the_way(facts, status, finding, homeowner):
    diagnosis = charging_wont_start(facts, now=NOW)
    assert diagnosis.status is status
    assert finding in diagnosis.finding
    assert homeowner in diagnosis.homeowner
    assert bool(diagnosis.fix) == (status is Status.PROBLEM)


@pytest.mark.parametrize(
    "facts",
    [
        # An accepted tag, a refusal from before the last session, a stale refusal.
        start(tag=PresentedTag(ago(minutes=1), "RFID1", "Accepted")),
        start(tag=PresentedTag(ago(hours=3), "STRANGER", "Invalid"), last_session_at=ago(hours=2)),
        start(remote_start=StartAttempt(ago(minutes=40), "Rejected", "answered"), last_session_at=None),
    ],
)
def test_old_or_accepted_starts_are_not_the_problem(facts):
    diagnosis = charging_wont_start(facts, now=NOW)
    assert "refused" not in diagnosis.finding


def test_an_idle_zero_limit_is_no_problem():
    facts = start(connector_status="Available", limit_w=0, limit_source="idle")
    assert charging_wont_start(facts, now=NOW).status is Status.OK


# --- power limit not applied -----------------------------------------------------------------------


def limit(**overrides) -> LimitFacts:
    fields = {
        "limit_w": 11040,
        "limit_since": ago(minutes=5),
        "last_accepted_at": ago(minutes=5),
        "rejection": None,
        "mismatch": None,
        "samples": [],
    }
    return LimitFacts(**(fields | overrides))


def samples(*power_w: float, every_s: int = 20) -> list[PowerSample]:
    return [PowerSample(ago(seconds=every_s * (len(power_w) - 1 - i)), p) for i, p in enumerate(power_w)]


REJECTED = ProfileRejection(ago(minutes=1), "ChargePointMaxProfile", 11040, "W", "Rejected", "")


@pytest.mark.parametrize(
    ("facts", "status", "finding"),
    [
        (
            limit(rejection=REJECTED, last_accepted_at=None),
            Status.PROBLEM,
            "The charger rejected the profile: ChargePointMaxProfile of 11040 W sent in W at 09:59:00 was answered "
            "Rejected.",
        ),
        (
            limit(
                rejection=ProfileRejection(ago(minutes=1), "TxProfile", 7000, "A", "Rejected", "UnsupportedRateUnit")
            ),
            Status.PROBLEM,
            "TxProfile of 7000 W sent in A at 09:59:00 was answered Rejected (UnsupportedRateUnit).",
        ),
        # Accepted since (a fallback the charger took): no longer the problem.
        (limit(rejection=REJECTED, last_accepted_at=ago(seconds=30)), Status.OK, "holds the limit sent (11040 W)"),
        (
            limit(mismatch=Mismatch(ago(minutes=1), "the charger holds 32 A where 16 A was sent: sending it again")),
            Status.PROBLEM,
            "composite schedule differs from what was sent: the charger holds 32 A where 16 A was sent",
        ),
        (
            limit(samples=samples(9000, 22080, 22080, 22080, 22080)),
            Status.PROBLEM,
            "The measured power stayed above the limit: up to 22.1 kW for 60 s where 11.0 kW is in force",
        ),
        # Above for less than a minute, back under it, within the tolerance, before the limit held.
        (limit(samples=samples(22080, 22080, 22080)), Status.OK, "holds the limit"),
        (limit(samples=samples(22080, 22080, 22080, 22080, 10000)), Status.OK, "holds the limit"),
        (limit(samples=samples(12000, 12000, 12000, 12000, 12000)), Status.OK, "holds the limit"),
        (limit(samples=samples(22080, 22080, 22080, 22080, 22080), limit_since=ago(seconds=30)), Status.OK, "holds"),
        (limit(limit_w=None, limit_since=None), Status.OK, "No limit is in force yet."),
    ],
)
def test_a_limit_not_applied_is_a_rejection_a_mismatch_or_power_above_it(facts, status, finding):
    diagnosis = limit_not_applied(facts, now=NOW)
    assert diagnosis.status is status
    assert finding in diagnosis.finding
    if status is Status.PROBLEM:
        assert "fallbacks" in diagnosis.fix or "sends it again" in diagnosis.fix
        assert diagnosis.homeowner


def test_the_time_above_the_limit_is_a_parameter():
    facts = limit(samples=samples(22080, 22080, every_s=3))
    assert limit_not_applied(facts, now=NOW).status is Status.OK
    diagnosis = limit_not_applied(facts, now=NOW, over_limit_for=dt.timedelta(seconds=2))
    assert diagnosis.status is Status.PROBLEM
    assert "for 3 s" in diagnosis.finding
    assert over_limit_span(facts.samples, limit_w=11040, since=None) == (dt.timedelta(seconds=3), 22080)


@pytest.mark.parametrize(
    ("facts", "last_step_at", "why"),
    [
        (limit(samples=samples(9000, 22080, 22080, 22080, 22080)), None, "measured power up to 22.1 kW above the "
         "11.0 kW limit it accepted for 60 s"),
        # A step before this stretch above the limit began: due again.
        (limit(samples=samples(9000, 22080, 22080, 22080, 22080)), ago(minutes=2), "for 60 s"),
        # Stepped during this stretch: waits for a limit sent with it.
        (limit(samples=samples(9000, 22080, 22080, 22080, 22080)), ago(seconds=30), None),
        (limit(samples=samples(22080, 22080, 22080)), None, None),
        (limit(limit_w=None, samples=samples(22080, 22080, 22080, 22080, 22080)), None, None),
    ],
)  # fmt: skip
def test_the_next_fallback_is_due_once_per_stretch_above_the_limit(facts, last_step_at, why):
    found = limit_ignored_why(facts, last_step_at=last_step_at)
    assert found == why if why is None else why in found


def test_a_limit_held_after_a_fallback_says_which():
    learned = "2026-12-06 09:58 UTC: ChargePointMaxProfile Rejected, so limits in amps"
    facts = limit(rejection=REJECTED, last_accepted_at=ago(seconds=30), fallbacks=(learned,))
    diagnosis = limit_not_applied(facts, now=NOW)
    assert diagnosis.status is Status.OK
    assert diagnosis.finding == f"The charger holds the limit sent (11040 W), with the fallback it taught ({learned})."
    assert diagnosis.evidence == (f"fallback learned: {learned}",)
