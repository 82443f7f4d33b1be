"""Commissioning a site: the checklist's facts read from the database, and the tests the
installer's buttons run against the real chargers (a remote start and stop, a test limit, load
balancing, the time-of-use plan against the charger's schedule). Each test keeps its result,
with the charger's answers, as a CommissioningCheck; the rules are energy/checklist.py's.

A button starts its test as a job (energy/jobs.py) and answers at once: a test waits for the
charger longer than a request may take behind a proxy. The job is bounded: a start/stop waits at
most COMMISSIONING_TRANSACTION_WAIT_S for each transaction change, a limit test at most
COMMISSIONING_LIMIT_WAIT_S for the measured power to follow. Meanwhile the test's row says it is
running (details {"running": true}); the job keeps the result in a row of its own."""

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable

from cryptography import x509
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chargers.commands import ChargerRejected, CommandFailed
from chargers.failures import failure_sentence
from chargers.link import (
    charger_call_sync,
    composite_schedule_answer,
    composite_schedule_read_call,
    meter_values_request_call,
)
from chargers.models import OCPP201, Charger, SecurityProfile
from energy.allocation import NOMINAL_VOLTAGE_V
from energy.checklist import (
    TEST_ITEMS,
    ChargerFacts,
    ChecklistItem,
    CommissioningTest,
    HeldLimit,
    Item,
    KeptResult,
    ServerFacts,
    SiteFacts,
    Verdict,
    central_system_url,
    fuse_verdict,
    limit_at_w,
    limit_verdict,
    longest_test_wait_s,
    plan_ahead,
    plan_verdict,
    power_follows,
    schedule_limits_w,
    site_checklist,
    start_stop_verdict,
    still_running,
)
from energy.jobs import jobs
from energy.models import CommissioningCheck, EnergyReading, Site
from energy.remote import charger_clear_limit, charger_remote_start, charger_remote_stop, charger_set_limit
from energy.services import site_control_run
from energy.sources import CheckStatus
from sessions.models import ChargingSession, MeterSample
from sessions.selectors import charger_active_session, session_power_w

logger = logging.getLogger(__name__)

# The job that runs a test (energy/tasks.py), named as Celery names it: energy control does not
# import the entry points.
TEST_TASK = "energy.tasks.commissioning_test"
POLL_S = 1.0
# How far ahead the time-of-use check reads the charger's schedule ("the next hours").
TOU_HORIZON_S = 6 * 3600
# Meter values within this long of the newest are "what the charger sends now".
MEASURANDS_WINDOW = dt.timedelta(minutes=15)


def tls_configured() -> bool:
    return bool(settings.TLS_CERT_FILE or settings.OCPP_TRUSTED_PROXIES)


def server_facts(*, site: Site, now: dt.datetime) -> ServerFacts:
    expires, problem = None, ""
    if settings.TLS_CERT_FILE:
        try:
            with open(settings.TLS_CERT_FILE, "rb") as pem:
                expires = x509.load_pem_x509_certificate(pem.read()).not_valid_after_utc
        except (OSError, ValueError) as error:
            problem = str(error) or type(error).__name__
    chargers = site.chargers.all()
    return ServerFacts(
        enabled_chargers=chargers.filter(enabled=True).count(),
        chargers=chargers.count(),
        port=settings.PORT,
        tls_cert_file=settings.TLS_CERT_FILE,
        tls_cert_expires_at=expires,
        tls_cert_problem=problem,
        tls_proxies=tuple(settings.OCPP_TRUSTED_PROXIES),
        tls_checked_at=now,
    )


def latest_checks(*, site: Site) -> dict[tuple[Item, str | None], CommissioningCheck]:
    """The newest kept result of each tested item, by item and charger id (None: the site's)."""
    latest: dict[tuple[Item, str | None], CommissioningCheck] = {}
    checks = CommissioningCheck.objects.filter(site=site).select_related("charger").order_by("-seen_at", "-id")
    for check in checks:
        latest.setdefault((Item(check.item), check.charger.charge_point_id if check.charger else None), check)
    return latest


def _kept(check: CommissioningCheck) -> KeptResult:
    running = bool(check.details.get("running"))
    return KeptResult(CheckStatus(check.status), check.evidence, check.seen_at, check.requested_by, running)


def _results(
    latest: dict[tuple[Item, str | None], CommissioningCheck], charger_id: str | None
) -> dict[Item, KeptResult]:
    return {item: _kept(check) for (item, of), check in latest.items() if of == charger_id}


def longest_wait_s() -> float:
    """The longest a test's job waits, with this server's settings."""
    return longest_test_wait_s(
        transaction_wait_s=settings.COMMISSIONING_TRANSACTION_WAIT_S,
        limit_wait_s=settings.COMMISSIONING_LIMIT_WAIT_S,
        command_timeout_s=settings.OCPP_COMMAND_TIMEOUT_S,
    )


def _profile_words(charger: Charger) -> str:
    parts = [
        f"feature profiles {charger.supported_feature_profiles or 'not reported'}",
        f"limits in {charger.charging_rate_units or 'an unreported unit'} (sent in {charger.limit_rate_unit})",
    ]
    if charger.max_stack_level is not None:
        parts.append(f"stack levels up to {charger.max_stack_level}")
    if charger.meter_sample_interval_s == 0:
        parts.append("no periodic meter samples")
    elif charger.meter_sample_interval_s is not None:
        parts.append(f"samples every {charger.meter_sample_interval_s} s")
    return ", ".join(parts)


def charger_facts(*, charger: Charger, host: str, results: dict[Item, KeptResult]) -> ChargerFacts:
    connectors = list(charger.connectors.exclude(status=""))
    statuses = "; ".join(f"connector {c.connector_id}: {c.status}" for c in connectors)
    if charger.status:
        statuses = f"charger: {charger.status}" + (f"; {statuses}" if statuses else "")
    status_seen = max((c.updated_at for c in connectors), default=None)
    # Per outlet (and 0, the charger's own meter): the newest sample is then one step down
    # the (charger, connector, timestamp) index, not a scan of the charger's history.
    outlets = {0, *charger.connectors.values_list("connector_id", flat=True)}
    newest = {}
    for outlet in outlets:
        at = (
            MeterSample.objects.filter(charger=charger, connector_id=outlet)
            .order_by("-timestamp")
            .values_list("timestamp", flat=True)
            .first()
        )
        if at is not None:
            newest[outlet] = at
    meter_seen = max(newest.values(), default=None)
    measurands: set[str] = set()
    for outlet, at in newest.items():
        recent = MeterSample.objects.filter(charger=charger, connector_id=outlet, timestamp__gte=at - MEASURANDS_WINDOW)
        measurands.update(recent.values_list("measurand", flat=True))
    return ChargerFacts(
        charge_point_id=charger.charge_point_id,
        url=central_system_url(
            charge_point_id=charger.charge_point_id,
            host=host,
            tls=tls_configured(),
            tls_required=charger.security_profile != SecurityProfile.BASIC_AUTH,
        ),
        enabled=charger.enabled,
        # Profile 3 without a password still needs its client certificate: not open.
        accepts_anyone=charger.accepts_anyone and charger.security_profile != SecurityProfile.TLS_CLIENT_CERTIFICATE,
        is_connected=charger.is_connected,
        connected_at=charger.connected_at,
        booted_at=charger.booted_at,
        vendor=charger.vendor,
        model=charger.model,
        firmware_version=charger.firmware_version,
        protocol=charger.connection_protocol,
        remote_address=charger.remote_address,
        statuses=statuses,
        status_seen_at=status_seen,
        measurands=tuple(sorted(measurands)),
        meter_seen_at=meter_seen,
        probed_at=charger.probed_at,
        profile=_profile_words(charger),
        results=results,
    )


def site_commissioning(*, site: Site, host: str, now: dt.datetime | None = None) -> list[ChecklistItem]:
    """The site's checklist as of now; `host` is how the installer reaches this server."""
    now = now or timezone.now()
    latest = latest_checks(site=site)
    solar = (
        EnergyReading.objects.filter(site=site, solar_w__isnull=False).order_by("-measured_at").only("solar_w").first()
    )
    facts = SiteFacts(
        name=site.name,
        meter_timeout_s=site.meter_timeout_s,
        now=now,
        longest_test_wait_s=longest_wait_s(),
        solar_w=solar.solar_w if solar else None,
        solar_measured_at=solar.measured_at if solar else None,
        chargers=tuple(
            charger_facts(charger=c, host=host, results=_results(latest, c.charge_point_id))
            for c in site.chargers.order_by("charge_point_id")
        ),
        results=_results(latest, None),
    )
    return site_checklist(server=server_facts(site=site, now=now), site=facts)


def _keep(
    *, site: Site, charger: Charger | None, item: Item, verdict: Verdict, details: dict, requested_by: str
) -> CommissioningCheck:
    return CommissioningCheck.objects.create(
        site=site,
        charger=charger,
        item=item.value,
        status=verdict.status.value,
        evidence=verdict.evidence,
        details=details,
        seen_at=timezone.now(),
        requested_by=requested_by[:100],
    )


def _failed(charger: Charger, failure: CommandFailed) -> str:
    return failure_sentence(
        charge_point_id=charger.charge_point_id, failure=failure, timeout_s=settings.OCPP_COMMAND_TIMEOUT_S
    )


def _wait(condition: Callable[[], object], wait_s: float) -> object:
    """condition() once it is truthy, or its last value after wait_s."""
    deadline = time.monotonic() + wait_s
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(POLL_S)


# A 1.6 connector in a transaction: the charger has the answer to its StartTransaction (its
# transaction id) once it reports one of these, and only then can it match a RemoteStop to it.
IN_TRANSACTION = ("Charging", "SuspendedEV", "SuspendedEVSE")


def _transaction_running(charger: Charger, *, since: dt.datetime):
    """The session a remote start began, once the charger knows its transaction id: at once in
    2.0.1 (the station names it), after its connector reports charging or suspended in 1.6."""
    session = charger.charging_sessions.filter(created_at__gte=since).first()
    if session is None or (charger.connection_protocol or charger.protocol) == OCPP201:
        return session
    connector = charger.connectors.filter(connector_id=session.connector_id).first()
    return session if connector is not None and connector.status in IN_TRANSACTION else None


def start_stop_test(*, charger: Charger, requested_by: str) -> CommissioningCheck:
    """A real RemoteStart, then RemoteStop of the transaction it began, with the charger's answers."""
    wait_s = settings.COMMISSIONING_TRANSACTION_WAIT_S
    who = f"commissioning test by {requested_by}"
    details: dict = {}
    answers = {"start": "", "stop": ""}
    failures = {"start": "", "stop": ""}
    started = stopped = False
    asked_at = timezone.now()

    def ask(step: str, request: Callable[[], dict]) -> bool:
        try:
            details[step] = request()
            answers[step] = details[step].get("status", "")
        except ChargerRejected as rejection:
            details[f"{step}_error"] = _failed(charger, rejection)
            answers[step] = rejection.code or "Rejected"
        except CommandFailed as failure:
            details[f"{step}_error"] = failures[step] = _failed(charger, failure)
        return answers[step] == "Accepted"

    if ask("start", lambda: charger_remote_start(charger=charger, requested_by=who)):
        session = _wait(lambda: _transaction_running(charger, since=asked_at), wait_s)
        started = session is not None
        if started:
            details["transaction"] = session.transaction_id
            if ask("stop", lambda: charger_remote_stop(charger=charger, requested_by=who)):
                ended = ChargingSession.objects.filter(pk=session.pk, stopped_at__isnull=False)
                stopped = bool(_wait(ended.exists, wait_s))
    verdict = start_stop_verdict(
        start_answer=answers["start"],
        start_failure=failures["start"],
        transaction_started=started,
        stop_answer=answers["stop"],
        stop_failure=failures["stop"],
        transaction_stopped=stopped,
        wait_s=wait_s,
    )
    return _keep(
        site=charger.site,
        charger=charger,
        item=Item.REMOTE_START_STOP,
        verdict=verdict,
        details=details,
        requested_by=requested_by,
    )


def _composite(charger: Charger, *, connector_id: int, duration_s: int, requested_by: str) -> dict:
    call = composite_schedule_read_call(charger=charger, connector_id=connector_id, duration_s=duration_s)
    answer = charger_call_sync(charger=charger, call=call, requested_by=requested_by)
    return composite_schedule_answer(charger=charger, answer=answer)


def _phases(charger: Charger) -> int:
    return charger.control.active_phases or charger.phases


def limit_test(*, charger: Charger, requested_by: str) -> CommissioningCheck:
    """With a car charging: a test limit at the charger's minimum power, the charger's composite
    schedule read back, then its measured power watched until it follows (asking for meter values
    each few seconds). The test limit is lifted afterwards whatever happened."""
    wait_s = settings.COMMISSIONING_LIMIT_WAIT_S
    who = f"commissioning test by {requested_by}"
    session = charger_active_session(charger=charger)
    if session is None:
        verdict = Verdict(CheckStatus.NOT_YET, "no car is charging on it")
        return _keep(
            site=charger.site,
            charger=charger,
            item=Item.POWER_LIMITS,
            verdict=verdict,
            details={},
            requested_by=requested_by,
        )
    test_limit_w = round(charger.min_current_a * NOMINAL_VOLTAGE_V * charger.phases)
    details: dict = {"test_limit_w": test_limit_w, "power_before_w": session_power_w(session=session)}
    schedule_w = measured_w = None
    set_at = timezone.now()
    try:
        details["limit"] = charger_set_limit(
            charger=charger,
            limit_w=test_limit_w,
            reason="commissioning test limit",
            requested_by=who,
            duration_s=int(wait_s) + 60,
        )
        composite = _composite(charger, connector_id=session.connector_id, duration_s=60, requested_by=who)
        details["composite_schedule"] = composite
        schedule_w = limit_at_w(schedule_limits_w(composite.get("chargingSchedule") or {}, phases=_phases(charger)), 0)

        def followed() -> bool:
            nonlocal measured_w
            call = meter_values_request_call(charger=charger, connector_id=session.connector_id)
            # A charger without TriggerMessage: its own samples will do, at its own pace.
            with contextlib.suppress(CommandFailed):
                charger_call_sync(charger=charger, call=call, requested_by=who)
            time.sleep(POLL_S)
            if not session.samples.filter(timestamp__gte=set_at).exists():
                return False
            measured_w = session_power_w(session=session)
            return measured_w is not None and power_follows(measured_w=measured_w, limit_w=test_limit_w)

        _wait(followed, wait_s)
    except CommandFailed as failure:
        details["error"] = _failed(charger, failure)
    finally:
        try:
            charger_clear_limit(charger=charger, requested_by=who)
        except CommandFailed as failure:
            details["clear_error"] = _failed(charger, failure)
    details["measured_w"] = measured_w
    if "error" in details:
        verdict = Verdict(CheckStatus.FAILED, details["error"])
    else:
        verdict = limit_verdict(
            test_limit_w=test_limit_w, schedule_limit_w=schedule_w, measured_w=measured_w, wait_s=wait_s
        )
    return _keep(
        site=charger.site,
        charger=charger,
        item=Item.POWER_LIMITS,
        verdict=verdict,
        details=details,
        requested_by=requested_by,
    )


def load_balancing_test(*, site: Site, requested_by: str) -> CommissioningCheck:
    """Energy control runs for the site, then each connected charger's composite schedule is
    read back: together the limits they hold must stay within the fuse, phase by phase."""
    who = f"commissioning test by {requested_by}"
    details: dict = {"chargers": {}}
    held: list[HeldLimit] = []
    try:
        site_control_run(site=site, trigger=f"load balancing {who}")
    except CommandFailed as failure:
        details["run_error"] = str(failure)
    errors = []
    for charger in site.chargers.filter(is_connected=True, enabled=True).select_related("control"):
        try:
            composite = _composite(charger, connector_id=0, duration_s=300, requested_by=who)
        except CommandFailed as failure:
            errors.append(_failed(charger, failure))
            continue
        details["chargers"][charger.charge_point_id] = composite
        limits = schedule_limits_w(composite.get("chargingSchedule") or {}, phases=_phases(charger))
        held.append(
            HeldLimit(
                charger.charge_point_id,
                limit_at_w(limits, 0),
                charger.max_power_w,
                _phases(charger),
                charger.supply_phase,
            )
        )
    verdict = fuse_verdict(held=held, fuse_a=site.circuit_limit_a)
    if errors:
        verdict = Verdict(CheckStatus.FAILED, "; ".join([*errors, verdict.evidence]))
    return _keep(
        site=site, charger=None, item=Item.LOAD_BALANCING, verdict=verdict, details=details, requested_by=requested_by
    )


def tou_verify_test(*, site: Site, requested_by: str) -> CommissioningCheck:
    """Each charger holding a time-of-use plan: its composite schedule for the next hours against
    the plan sent to it."""
    who = f"commissioning test by {requested_by}"
    details: dict = {"chargers": {}}
    verdicts = []
    for charger in site.chargers.filter(is_connected=True, enabled=True).select_related("control"):
        periods = charger.control.tou_periods
        if not periods:
            continue
        now_s = time.time()
        end_s = min(charger.control.tou_end_s or now_s + TOU_HORIZON_S, now_s + TOU_HORIZON_S)
        plan = plan_ahead(periods, now_s=now_s, end_s=end_s)
        if not plan:
            continue
        try:
            composite = _composite(charger, connector_id=1, duration_s=int(end_s - now_s), requested_by=who)
        except CommandFailed as failure:
            verdicts.append(Verdict(CheckStatus.FAILED, _failed(charger, failure)))
            continue
        details["chargers"][charger.charge_point_id] = {"plan": plan, "composite_schedule": composite}
        schedule = composite.get("chargingSchedule") or {}
        start = composite.get("scheduleStart") or schedule.get("startSchedule")
        start_s = dt.datetime.fromisoformat(start).timestamp() if start else now_s
        absolute = [(start_s + offset, w) for offset, w in schedule_limits_w(schedule, phases=_phases(charger))]
        verdicts.append(plan_verdict(charge_point_id=charger.charge_point_id, plan=plan, schedule=absolute))
    if not verdicts:
        verdict = Verdict(CheckStatus.NOT_YET, "no connected charger holds a time-of-use plan for the next hours")
    elif failed := [v for v in verdicts if v.status != CheckStatus.OK]:
        verdict = Verdict(CheckStatus.FAILED, "; ".join(v.evidence for v in failed))
    else:
        verdict = Verdict(CheckStatus.OK, "; ".join(v.evidence for v in verdicts))
    return _keep(
        site=site, charger=None, item=Item.TOU_SCHEDULE, verdict=verdict, details=details, requested_by=requested_by
    )


TESTS = {
    CommissioningTest.START_STOP: start_stop_test,
    CommissioningTest.LIMIT: limit_test,
    CommissioningTest.LOAD_BALANCING: load_balancing_test,
    CommissioningTest.TOU: tou_verify_test,
}


def start_test(
    *, site: Site, test: CommissioningTest, charger: Charger | None, requested_by: str
) -> CommissioningCheck | None:
    """A button: the test's running row, kept, and its job queued. None, and nothing queued, when
    the same test (of the same charger) is still running: a second press starts no second test."""
    item = TEST_ITEMS[test]
    now = timezone.now()
    with transaction.atomic():
        # The site's row, locked: two presses at once see each other's running row.
        Site.objects.select_for_update().filter(pk=site.pk).first()
        latest = CommissioningCheck.objects.filter(site=site, charger=charger, item=item.value)
        latest = latest.order_by("-seen_at", "-id").first()
        if latest is not None and still_running(_kept(latest), now=now, longest_wait_s=longest_wait_s()):
            return None
        since = timezone.localtime(now, site.zone)
        running = CommissioningCheck.objects.create(
            site=site,
            charger=charger,
            item=item.value,
            status=CheckStatus.NOT_YET.value,
            evidence=f"running since {since:%H:%M:%S} (requested by {requested_by})",
            details={"running": True},
            seen_at=now,
            requested_by=requested_by[:100],
        )
    jobs().run_soon(
        TEST_TASK,
        test=test.value,
        site_pk=site.pk,
        charger_pk=charger.pk if charger else None,
        requested_by=requested_by,
    )
    return running


def run_test(*, test: CommissioningTest, site_pk: int, charger_pk: int | None, requested_by: str) -> None:
    """The job: runs the test, which keeps its result. A test that raises keeps a failed result
    with the error instead, so the page never waits on a test that died."""
    site = Site.objects.filter(pk=site_pk).first()
    charger = Charger.objects.filter(site_id=site_pk, pk=charger_pk).first() if charger_pk else None
    if site is None or (charger_pk and charger is None):
        return  # deleted meanwhile: nothing to test, nowhere to keep it
    run = TESTS[test]
    try:
        if charger is None:
            run(site=site, requested_by=requested_by)
        else:
            run(charger=charger, requested_by=requested_by)
    except Exception as error:
        logger.exception("commissioning test %s of site %s failed", test, site_pk)
        words = str(error) or type(error).__name__
        verdict = Verdict(CheckStatus.FAILED, f"the test stopped with an error: {words}")
        item = TEST_ITEMS[test]
        _keep(
            site=site,
            charger=charger,
            item=item,
            verdict=verdict,
            details={"error": repr(error)},
            requested_by=requested_by,
        )
