"""The commissioning checklist's rules, table by table, without a database."""

import datetime as dt

import pytest

from energy.checklist import (
    RUNNING_MARGIN_S,
    ChargerFacts,
    HeldLimit,
    Item,
    KeptResult,
    ServerFacts,
    SiteFacts,
    central_system_url,
    fuse_verdict,
    limit_at_w,
    limit_verdict,
    longest_test_wait_s,
    measurands_missing,
    plan_ahead,
    plan_verdict,
    schedule_limits_w,
    site_checklist,
    start_stop_verdict,
    still_running,
)
from energy.sources import CheckStatus

NOW = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)
TEST_WAIT_S = 100
OK, FAILED, NOT_YET = CheckStatus.OK, CheckStatus.FAILED, CheckStatus.NOT_YET
URL = "ws://bridge.local:9000/ocpp/drive"
SERVER = ServerFacts(enabled_chargers=1, chargers=1, port=9000, tls_checked_at=NOW)
BOOTED = ChargerFacts(
    charge_point_id="drive",
    url=URL,
    is_connected=True,
    connected_at=NOW - dt.timedelta(minutes=5),
    booted_at=NOW - dt.timedelta(minutes=5),
    vendor="Wallbox",
    model="Pulsar",
    firmware_version="5.1",
    protocol="ocpp1.6",
    remote_address="10.0.0.7",
    statuses="connector 1: Available",
    status_seen_at=NOW - dt.timedelta(minutes=4),
    measurands=("Current.Import", "Energy.Active.Import.Register", "Power.Active.Import"),
    meter_seen_at=NOW - dt.timedelta(minutes=1),
    probed_at=NOW - dt.timedelta(minutes=5),
    profile="feature profiles Core,SmartCharging",
)


def checklist(server=SERVER, **site) -> dict[str, object]:
    facts = SiteFacts(name="Home", meter_timeout_s=60, now=NOW, longest_test_wait_s=TEST_WAIT_S, **site)
    return {item.id: item for item in site_checklist(server=server, site=facts)}


def test_a_new_charger_has_every_charger_item_not_yet_with_the_url_to_type_in():
    fresh = ChargerFacts(charge_point_id="drive", url=URL)
    items = checklist(chargers=(fresh,))
    charger_items = {key: item for key, item in items.items() if item.charger == "drive"}
    assert {item.status for item in charger_items.values()} == {NOT_YET}
    assert len(charger_items) == 7
    assert URL in items["central_system_url/drive"].evidence
    assert URL in items["central_system_url/drive"].next_step
    assert all(item.next_step for item in charger_items.values())
    assert all(item.seen_at is None for item in charger_items.values())


def test_a_booted_charger_ticks_its_live_items_with_evidence_and_the_time_seen():
    items = checklist(chargers=(BOOTED,))
    assert items["connected/drive"].status == OK
    assert items["connected/drive"].evidence == "Wallbox Pulsar, firmware 5.1 booted over ocpp1.6 from 10.0.0.7"
    assert items["connected/drive"].seen_at == BOOTED.booted_at
    assert (items["status_updates/drive"].status, items["status_updates/drive"].seen_at) == (OK, BOOTED.status_seen_at)
    assert items["meter_values/drive"].status == OK
    assert items["compatibility_profile/drive"].status == OK
    assert items["central_system_url/drive"].status == OK
    assert items["connected/drive"].next_step == ""
    # The tests are not run by being connected.
    assert items["remote_start_stop/drive"].status == NOT_YET
    assert "plug a car in" in items["remote_start_stop/drive"].next_step


@pytest.mark.parametrize(
    ("overrides", "status", "words"),
    [
        ({"is_connected": False}, FAILED, "offline now"),
        ({"booted_at": None}, NOT_YET, "no BootNotification yet"),
        ({"is_connected": False, "booted_at": None, "connected_at": None}, NOT_YET, "never connected"),
    ],
)
def test_connection_states(overrides, status, words):
    facts = ChargerFacts(**{**BOOTED.__dict__, **overrides})
    item = checklist(chargers=(facts,))["connected/drive"]
    assert (item.status, words in item.evidence, bool(item.next_step)) == (status, True, True)


@pytest.mark.parametrize(
    ("measurands", "missing"),
    [
        (("Energy.Active.Import.Register", "Power.Active.Import"), ""),
        (("Energy.Active.Import.Register", "Current.Import"), ""),
        (("Energy.Active.Import.Register",), "Power.Active.Import or Current.Import"),
        (("Power.Active.Import",), "Energy.Active.Import.Register"),
        ((), "Energy.Active.Import.Register and Power.Active.Import or Current.Import"),
    ],
)
def test_meter_values_need_the_register_and_the_draw(measurands, missing):
    assert measurands_missing(measurands) == missing
    item = checklist(chargers=(ChargerFacts(**{**BOOTED.__dict__, "measurands": measurands}),))["meter_values/drive"]
    assert item.status == (FAILED if missing else OK)


@pytest.mark.parametrize(
    ("server", "status", "words"),
    [
        (SERVER, NOT_YET, "TLS_CERT_FILE"),
        (
            ServerFacts(1, 1, 9000, tls_cert_file="/etc/gl.pem", tls_cert_expires_at=NOW + dt.timedelta(days=90)),
            OK,
            "valid until 2027-03-06",
        ),
        (
            ServerFacts(1, 1, 9000, tls_cert_file="/etc/gl.pem", tls_cert_expires_at=NOW - dt.timedelta(days=1)),
            FAILED,
            "expired on 2026-12-05",
        ),
        (ServerFacts(1, 1, 9000, tls_cert_file="/etc/gl.pem", tls_cert_problem="No such file"), FAILED, "No such file"),
        (ServerFacts(1, 1, 9000, tls_proxies=("10.0.0.1",)), OK, "proxy 10.0.0.1"),
    ],
)
def test_tls(server, status, words):
    item = checklist(server=server, chargers=(BOOTED,))["tls_configured"]
    assert item.status == status
    assert words in item.evidence + item.next_step


def test_a_charger_open_to_anyone_fails_the_credentials_item_naming_it():
    open_one = ChargerFacts(charge_point_id="shed", url="ws://x/ocpp/shed", accepts_anyone=True)
    items = checklist(chargers=(BOOTED, open_one))
    assert items["credentials_set"].status == FAILED
    assert "shed" in items["credentials_set"].evidence and "drive" not in items["credentials_set"].evidence
    assert checklist(chargers=(BOOTED,))["credentials_set"].status == OK


@pytest.mark.parametrize(
    ("server", "status"),
    [(SERVER, OK), (ServerFacts(0, 1, 9000), FAILED), (ServerFacts(0, 0, 9000), NOT_YET)],
)
def test_bridge_enabled(server, status):
    assert checklist(server=server)["bridge_enabled"].status == status


@pytest.mark.parametrize(("age_s", "status"), [(None, NOT_YET), (30, OK), (60, OK), (61, FAILED), (3600, FAILED)])
def test_solar_data_must_be_newer_than_the_meter_timeout(age_s, status):
    at = None if age_s is None else NOW - dt.timedelta(seconds=age_s)
    item = checklist(solar_w=2500.0 if at else None, solar_measured_at=at)["solar_data"]
    assert item.status == status
    assert item.seen_at == at


def test_a_kept_test_result_shows_with_who_ran_it_and_a_failed_one_says_what_next():
    ran = NOW - dt.timedelta(minutes=2)
    results = {Item.REMOTE_START_STOP: KeptResult(FAILED, "RemoteStart answered Rejected", ran, "installer")}
    items = checklist(chargers=(ChargerFacts(**{**BOOTED.__dict__, "results": results}),))
    item = items["remote_start_stop/drive"]
    assert (item.status, item.seen_at) == (FAILED, ran)
    assert item.evidence == "RemoteStart answered Rejected (run by installer)"
    assert "run the test again" in item.next_step
    site_results = {Item.LOAD_BALANCING: KeptResult(OK, "within the fuse", ran)}
    assert checklist(results=site_results)["load_balancing"].status == OK


@pytest.mark.parametrize(
    ("age_s", "running"),
    [
        (0, True),
        (TEST_WAIT_S, True),
        (TEST_WAIT_S + RUNNING_MARGIN_S, True),
        (TEST_WAIT_S + RUNNING_MARGIN_S + 1, False),
    ],
)
def test_a_running_test_runs_until_its_longest_wait_and_the_margin_then_reads_as_did_not_finish(age_s, running):
    started = NOW - dt.timedelta(seconds=age_s)
    kept = KeptResult(NOT_YET, "running since 09:58:00 (requested by installer)", started, "installer", running=True)
    assert still_running(kept, now=NOW, longest_wait_s=TEST_WAIT_S) is running

    item = checklist(chargers=(ChargerFacts(**{**BOOTED.__dict__, "results": {Item.POWER_LIMITS: kept}}),))[
        "power_limits/drive"
    ]
    assert (item.running, item.seen_at) == (running, started)
    if running:
        assert (item.status, item.evidence) == (NOT_YET, kept.evidence)
        assert "the page shows the result" in item.next_step
    else:
        assert item.status == FAILED
        assert item.evidence == f"did not finish: {kept.evidence}, no result within {TEST_WAIT_S + RUNNING_MARGIN_S} s"
        assert "press 'Test a power limit' again" in item.next_step


def test_a_finished_test_is_not_running_however_young_and_a_site_test_runs_too():
    finished = KeptResult(OK, "within the fuse", NOW, "installer")
    assert not still_running(finished, now=NOW, longest_wait_s=TEST_WAIT_S)
    running = KeptResult(NOT_YET, "running since 10:00:00 (requested by installer)", NOW, "installer", running=True)
    items = checklist(results={Item.LOAD_BALANCING: running, Item.TOU_SCHEDULE: finished})
    assert items["load_balancing"].running and items["load_balancing"].status == NOT_YET
    assert not items["tou_schedule"].running and items["tou_schedule"].status == OK


@pytest.mark.parametrize(
    ("transaction_wait_s", "limit_wait_s", "command_timeout_s", "longest_s"),
    [(30, 60, 10, 100), (45, 60, 10, 130), (30, 120, 5, 140), (0, 0, 0, 0)],
)
def test_the_longest_test_wait_is_a_start_stops_two_waits_or_the_limit_wait_and_four_commands(
    transaction_wait_s, limit_wait_s, command_timeout_s, longest_s
):
    assert (
        longest_test_wait_s(
            transaction_wait_s=transaction_wait_s, limit_wait_s=limit_wait_s, command_timeout_s=command_timeout_s
        )
        == longest_s
    )


@pytest.mark.parametrize(
    ("answers", "status", "words"),
    [
        (("Accepted", True, "Accepted", True), OK, "RemoteStop answered Accepted and the transaction ended"),
        (("Rejected", False, "", False), FAILED, "RemoteStart answered Rejected"),
        (("Accepted", False, "", False), FAILED, "no transaction began within 30 s"),
        (("Accepted", True, "Rejected", False), FAILED, "RemoteStop answered Rejected"),
        (("Accepted", True, "Accepted", False), FAILED, "did not end within 30 s"),
        (("", False, "", False), FAILED, "RemoteStart got no answer: drive is offline"),
        (("Accepted", True, "", False), FAILED, "a transaction began; RemoteStop got no answer: drive is offline"),
    ],
)
def test_start_stop_verdict(answers, status, words):
    start, started, stop, stopped = answers
    verdict = start_stop_verdict(
        start_answer=start,
        start_failure="" if start else "drive is offline",
        transaction_started=started,
        stop_answer=stop,
        stop_failure="" if stop else "drive is offline",
        transaction_stopped=stopped,
        wait_s=30,
    )
    assert verdict.status == status
    assert words in verdict.evidence


@pytest.mark.parametrize(
    ("schedule_w", "measured_w", "status", "words"),
    [
        (4140, 4140, OK, "followed: 4,140 W"),
        (4140, 4500, OK, "followed"),  # within 10 % and 100 W
        (4140, 22080, FAILED, "stayed above it: 22,080 W"),
        (4140, None, FAILED, "no power was measured"),
        (22080, 4140, FAILED, "holds 22,080 W"),
        (None, 4140, FAILED, "holds no limit"),
    ],
)
def test_limit_verdict(schedule_w, measured_w, status, words):
    verdict = limit_verdict(test_limit_w=4140, schedule_limit_w=schedule_w, measured_w=measured_w, wait_s=60)
    assert (verdict.status, words in verdict.evidence) == (status, True), verdict.evidence


def test_a_composite_schedule_reads_as_watts_from_its_start():
    schedule = {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}, {"startPeriod": 600, "limit": 6}],
    }
    limits = schedule_limits_w(schedule, phases=3)
    assert limits == [(0, 11040.0), (600, 4140.0)]
    assert [limit_at_w(limits, s) for s in (0, 599, 600, 9999)] == [11040.0, 11040.0, 4140.0, 4140.0]
    assert schedule_limits_w(
        {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7000}]}, phases=1
    ) == [(0, 7000.0)]


@pytest.mark.parametrize(
    ("held", "status", "words"),
    [
        ([HeldLimit("a", 7360, 11040, 3), HeldLimit("b", 7360, 11040, 3)], OK, "at most 21.3 A on L1, fuse 25 A"),
        ([HeldLimit("a", 11040, 11040, 3), HeldLimit("b", 11040, 11040, 3)], FAILED, "32.0 A on L1"),
        # 1-phase chargers on different phases share nothing.
        ([HeldLimit("a", 5520, 7360, 1, "L1"), HeldLimit("b", 5520, 7360, 1, "L2")], OK, "24.0 A"),
        ([HeldLimit("a", None, 22080, 3), HeldLimit("b", 0, 11040, 3)], FAILED, "a holds no limit (its maximum)"),
        ([], NOT_YET, "no charger is connected"),
    ],
)
def test_fuse_verdict(held, status, words):
    verdict = fuse_verdict(held=held, fuse_a=25)
    assert (verdict.status, words in verdict.evidence) == (status, True), verdict.evidence


def test_plan_verdict_compares_the_schedule_at_each_planned_period():
    start = NOW.timestamp()
    plan = [(start, 0.0), (start + 3600, 11040.0)]
    assert plan_verdict(charge_point_id="a", plan=plan, schedule=[(start, 0.0), (start + 3600, 11040.0)]).status == OK
    # Lower than the plan (a fuse limit) still follows it.
    assert plan_verdict(charge_point_id="a", plan=plan, schedule=[(start, 0.0), (start + 3600, 7360.0)]).status == OK
    wrong = plan_verdict(charge_point_id="a", plan=plan, schedule=[(start, 11040.0)])
    assert wrong.status == FAILED
    assert "10:00 UTC plan 0 W, holds 11,040 W" in wrong.evidence
    assert plan_verdict(charge_point_id="a", plan=[], schedule=[]).status == NOT_YET


@pytest.mark.parametrize(
    ("periods", "ahead"),
    [
        ([[0, 0], [100, 7360]], [(50, 0.0), (100, 7360.0)]),  # the period begun starts now
        ([[0, 0], [40, 7360]], [(50, 7360.0)]),  # one that ended before now is gone
        ([[60, 0], [300, 7360]], [(60, 0.0)]),  # one from the end on is not read
        ([], []),
    ],
)
def test_the_plan_ahead_is_what_a_schedule_read_now_can_be_compared_with(periods, ahead):
    assert plan_ahead(periods, now_s=50, end_s=200) == ahead


@pytest.mark.parametrize(
    ("tls", "tls_required", "url"),
    [
        (False, False, "ws://bridge.local:9000/ocpp/drive"),
        (True, False, "wss://bridge.local:9000/ocpp/drive"),
        (False, True, "wss://bridge.local:9000/ocpp/drive"),  # profile 2 or 3: TLS only
    ],
)
def test_the_url_to_type_into_the_charger(tls, tls_required, url):
    assert (
        central_system_url(charge_point_id="drive", host="bridge.local:9000", tls=tls, tls_required=tls_required) == url
    )
