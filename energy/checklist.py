"""The commissioning checklist (spec: "Commissioning"): what the installer must see working
before handing a site over, each item ticked from live facts with its evidence and the time it
was seen, or "not yet" with what to do next. Plain data in, data out: energy/commissioning.py
gathers the facts and runs the tests whose results are items too."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from energy.allocation import NOMINAL_VOLTAGE_V
from energy.sources import CheckStatus

# A measured power may exceed the test limit by this much (meters and rounding to 0.1 A).
LIMIT_TOLERANCE = 0.1
LIMIT_TOLERANCE_W = 100.0
# Energy control needs the register (sessions, targets) and one of the draw's measurands.
NEEDED_REGISTER = "Energy.Active.Import.Register"
NEEDED_DRAW = ("Power.Active.Import", "Current.Import")


class Group(StrEnum):
    GRAY_LOGIC = "gray_logic"
    CHARGER = "charger"
    ENERGY = "energy"


class Item(StrEnum):
    BRIDGE_ENABLED = "bridge_enabled"
    TLS_CONFIGURED = "tls_configured"
    CREDENTIALS_SET = "credentials_set"
    CENTRAL_SYSTEM_URL = "central_system_url"
    CONNECTED = "connected"
    STATUS_UPDATES = "status_updates"
    METER_VALUES = "meter_values"
    REMOTE_START_STOP = "remote_start_stop"
    POWER_LIMITS = "power_limits"
    COMPATIBILITY_PROFILE = "compatibility_profile"
    SOLAR_DATA = "solar_data"
    LOAD_BALANCING = "load_balancing"
    TOU_SCHEDULE = "tou_schedule"


TITLES = {
    Item.BRIDGE_ENABLED: "OCPP bridge enabled",
    Item.TLS_CONFIGURED: "TLS certificate configured",
    Item.CREDENTIALS_SET: "Every charger has credentials",
    Item.CENTRAL_SYSTEM_URL: "Central system URL set in the charger",
    Item.CONNECTED: "Connects and sends BootNotification",
    Item.STATUS_UPDATES: "Status updates received",
    Item.METER_VALUES: "Meter values received",
    Item.REMOTE_START_STOP: "Remote start/stop works",
    Item.POWER_LIMITS: "Power limits applied correctly",
    Item.COMPATIBILITY_PROFILE: "Compatibility profile read",
    Item.SOLAR_DATA: "Solar data flowing",
    Item.LOAD_BALANCING: "Load balancing tested",
    Item.TOU_SCHEDULE: "TOU schedule verified",
}


class CommissioningTest(StrEnum):
    """The page's test buttons; each keeps the result of one item."""

    START_STOP = "start_stop"
    LIMIT = "limit"
    LOAD_BALANCING = "load_balancing"
    TOU = "tou"


TEST_ITEMS = {
    CommissioningTest.START_STOP: Item.REMOTE_START_STOP,
    CommissioningTest.LIMIT: Item.POWER_LIMITS,
    CommissioningTest.LOAD_BALANCING: Item.LOAD_BALANCING,
    CommissioningTest.TOU: Item.TOU_SCHEDULE,
}
# The tests of one charger; the others are the site's.
CHARGER_TESTS = (CommissioningTest.START_STOP, CommissioningTest.LIMIT)


@dataclass(frozen=True)
class KeptResult:
    """The last run of a tested item (a button: start/stop, limit, load balancing, TOU), as kept;
    the other items are read live each time. `running`: the test's job has started, not ended."""

    status: CheckStatus
    evidence: str
    seen_at: dt.datetime
    requested_by: str = ""
    running: bool = False


# A test's job past its longest wait by this much has died (a restart, a killed worker): its
# running row reads as failed rather than running for ever.
RUNNING_MARGIN_S = 60


def longest_test_wait_s(*, transaction_wait_s: float, limit_wait_s: float, command_timeout_s: float) -> float:
    """The longest a test's job waits: a start/stop waits twice (start, then stop), a limit test
    once; each also waits up to four commands' timeouts in a row (set, read back, meter values,
    clear)."""
    return max(2 * transaction_wait_s, limit_wait_s) + 4 * command_timeout_s


def still_running(result: KeptResult, *, now: dt.datetime, longest_wait_s: float) -> bool:
    """Still running: its job started and is within its longest wait plus the margin."""
    return result.running and (now - result.seen_at).total_seconds() <= longest_wait_s + RUNNING_MARGIN_S


@dataclass(frozen=True)
class ServerFacts:
    enabled_chargers: int
    chargers: int
    port: int
    tls_cert_file: str = ""  # empty: not configured
    tls_cert_expires_at: dt.datetime | None = None
    tls_cert_problem: str = ""  # the file could not be read as a certificate
    tls_proxies: tuple[str, ...] = ()  # TLS terminated by these trusted proxies
    tls_checked_at: dt.datetime | None = None


@dataclass(frozen=True)
class ChargerFacts:
    charge_point_id: str
    url: str
    enabled: bool = True
    accepts_anyone: bool = False
    is_connected: bool = False
    connected_at: dt.datetime | None = None
    booted_at: dt.datetime | None = None
    vendor: str = ""
    model: str = ""
    firmware_version: str = ""
    protocol: str = ""
    remote_address: str = ""
    statuses: str = ""  # "connector 1: Available", in words
    status_seen_at: dt.datetime | None = None
    measurands: tuple[str, ...] = ()  # received in meter values
    meter_seen_at: dt.datetime | None = None
    probed_at: dt.datetime | None = None
    profile: str = ""  # the compatibility profile read, in words
    results: dict[Item, KeptResult] = field(default_factory=dict)


@dataclass(frozen=True)
class SiteFacts:
    name: str
    meter_timeout_s: int
    now: dt.datetime
    longest_test_wait_s: float  # longest_test_wait_s() of the server's settings
    solar_w: float | None = None
    solar_measured_at: dt.datetime | None = None
    chargers: tuple[ChargerFacts, ...] = ()
    results: dict[Item, KeptResult] = field(default_factory=dict)


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    item: Item
    group: Group
    title: str
    status: CheckStatus
    evidence: str = ""
    seen_at: dt.datetime | None = None
    next_step: str = ""
    charger: str | None = None
    running: bool = False  # a test of this item is running now


def _item(
    item: Item,
    group: Group,
    status: CheckStatus,
    evidence: str = "",
    seen_at: dt.datetime | None = None,
    next_step: str = "",
    charger: str | None = None,
) -> ChecklistItem:
    return ChecklistItem(
        id=f"{item.value}/{charger}" if charger else item.value,
        item=item,
        group=group,
        title=TITLES[item],
        status=status,
        evidence=evidence,
        seen_at=seen_at,
        next_step="" if status == CheckStatus.OK else next_step,
        charger=charger,
    )


def central_system_url(*, charge_point_id: str, host: str, tls: bool, tls_required: bool) -> str:
    """What the installer types into the charger: wss when the server has TLS or the charger's
    security profile (2 or 3) needs it."""
    scheme = "wss" if tls or tls_required else "ws"
    return f"{scheme}://{host}/ocpp/{charge_point_id}"


def site_checklist(*, server: ServerFacts, site: SiteFacts) -> list[ChecklistItem]:
    """The site's checklist in the spec's order: Gray Logic, each charger, energy."""
    items = [_bridge(server, site.now), _tls(server, site.now), _credentials(site)]
    for charger in site.chargers:
        items += _charger_items(charger, site)
    items += [_solar(site), _tested(site, site.results, Item.LOAD_BALANCING, None)]
    items.append(_tested(site, site.results, Item.TOU_SCHEDULE, None))
    return items


def _bridge(server: ServerFacts, now: dt.datetime) -> ChecklistItem:
    if not server.chargers:
        return _item(
            Item.BRIDGE_ENABLED,
            Group.GRAY_LOGIC,
            CheckStatus.NOT_YET,
            f"the OCPP server listens on port {server.port}, but the site has no charger",
            now,
            "add the charger in the admin (Chargers → Add) with the id it will put in its URL",
        )
    if not server.enabled_chargers:
        return _item(
            Item.BRIDGE_ENABLED,
            Group.GRAY_LOGIC,
            CheckStatus.FAILED,
            f"all {server.chargers} chargers are disabled: they are refused",
            now,
            "tick 'enabled' on the charger's admin page",
        )
    return _item(
        Item.BRIDGE_ENABLED,
        Group.GRAY_LOGIC,
        CheckStatus.OK,
        f"the OCPP server listens on port {server.port}; {server.enabled_chargers} of {server.chargers} "
        "chargers enabled",
        now,
    )


def _tls(server: ServerFacts, now: dt.datetime) -> ChecklistItem:
    seen = server.tls_checked_at or now
    if server.tls_cert_file:
        if server.tls_cert_problem:
            return _item(
                Item.TLS_CONFIGURED,
                Group.GRAY_LOGIC,
                CheckStatus.FAILED,
                f"TLS_CERT_FILE {server.tls_cert_file}: {server.tls_cert_problem}",
                seen,
                "point TLS_CERT_FILE at a PEM certificate (docs/security.md) and restart",
            )
        expires = server.tls_cert_expires_at
        if expires is not None and expires <= now:
            return _item(
                Item.TLS_CONFIGURED,
                Group.GRAY_LOGIC,
                CheckStatus.FAILED,
                f"the certificate in {server.tls_cert_file} expired on {expires:%Y-%m-%d %H:%M} UTC",
                seen,
                "renew the certificate (docs/security.md) and restart",
            )
        return _item(
            Item.TLS_CONFIGURED,
            Group.GRAY_LOGIC,
            CheckStatus.OK,
            f"certificate {server.tls_cert_file} valid until {expires:%Y-%m-%d %H:%M} UTC",
            seen,
        )
    if server.tls_proxies:
        return _item(
            Item.TLS_CONFIGURED,
            Group.GRAY_LOGIC,
            CheckStatus.OK,
            f"TLS is terminated by the trusted proxy {', '.join(server.tls_proxies)}",
            seen,
        )
    return _item(
        Item.TLS_CONFIGURED,
        Group.GRAY_LOGIC,
        CheckStatus.NOT_YET,
        "no TLS certificate: chargers connect with ws:// and send their password in the clear",
        seen,
        "set TLS_CERT_FILE and TLS_KEY_FILE (or a TLS proxy in OCPP_TRUSTED_PROXIES), see docs/security.md",
    )


def _credentials(site: SiteFacts) -> ChecklistItem:
    open_ids = [c.charge_point_id for c in site.chargers if c.enabled and c.accepts_anyone]
    if not site.chargers:
        return _item(
            Item.CREDENTIALS_SET, Group.GRAY_LOGIC, CheckStatus.NOT_YET, "no charger yet", site.now, "add a charger"
        )
    if open_ids:
        return _item(
            Item.CREDENTIALS_SET,
            Group.GRAY_LOGIC,
            CheckStatus.FAILED,
            f"open to anyone presenting its id: {', '.join(open_ids)}",
            site.now,
            "set a password on each one's admin page (or password_env in the YAML) and type it into the charger",
        )
    return _item(
        Item.CREDENTIALS_SET,
        Group.GRAY_LOGIC,
        CheckStatus.OK,
        f"each of the {len(site.chargers)} charger(s) needs a password or certificate",
        site.now,
    )


def _charger_items(c: ChargerFacts, site: SiteFacts) -> list[ChecklistItem]:
    cp = c.charge_point_id
    items = []
    if c.booted_at is not None or c.is_connected:
        items.append(
            _item(
                Item.CENTRAL_SYSTEM_URL,
                Group.CHARGER,
                CheckStatus.OK,
                f"the charger reached {c.url}",
                c.connected_at or c.booted_at,
                charger=cp,
            )
        )
    else:
        items.append(
            _item(
                Item.CENTRAL_SYSTEM_URL,
                Group.CHARGER,
                CheckStatus.NOT_YET,
                f"type this into the charger's OCPP settings: {c.url}",
                None,
                f"enable OCPP on the charger, set its central system URL to {c.url} and its password, then reboot it",
                charger=cp,
            )
        )
    items.append(_connected(c))
    if c.status_seen_at is not None:
        items.append(
            _item(Item.STATUS_UPDATES, Group.CHARGER, CheckStatus.OK, c.statuses, c.status_seen_at, charger=cp)
        )
    else:
        items.append(
            _item(
                Item.STATUS_UPDATES,
                Group.CHARGER,
                CheckStatus.NOT_YET,
                "no StatusNotification yet",
                None,
                "connect the charger; it reports each connector's status after its boot",
                charger=cp,
            )
        )
    items.append(_meter_values(c))
    items.append(_tested(site, c.results, Item.REMOTE_START_STOP, cp))
    items.append(_tested(site, c.results, Item.POWER_LIMITS, cp))
    if c.probed_at is not None:
        items.append(
            _item(Item.COMPATIBILITY_PROFILE, Group.CHARGER, CheckStatus.OK, c.profile, c.probed_at, charger=cp)
        )
    else:
        items.append(
            _item(
                Item.COMPATIBILITY_PROFILE,
                Group.CHARGER,
                CheckStatus.NOT_YET,
                "its configuration was not read yet",
                None,
                "connect the charger: its configuration is read after its boot",
                charger=cp,
            )
        )
    return items


def _connected(c: ChargerFacts) -> ChecklistItem:
    cp = c.charge_point_id
    identity = " ".join(part for part in (c.vendor, c.model) if part) or "unnamed"
    firmware = f", firmware {c.firmware_version}" if c.firmware_version else ""
    if c.is_connected and c.booted_at is not None:
        return _item(
            Item.CONNECTED,
            Group.CHARGER,
            CheckStatus.OK,
            f"{identity}{firmware} booted over {c.protocol or 'OCPP'} from {c.remote_address or 'an unknown address'}",
            c.booted_at,
            charger=cp,
        )
    if c.is_connected:
        return _item(
            Item.CONNECTED,
            Group.CHARGER,
            CheckStatus.NOT_YET,
            "connected, but no BootNotification yet",
            c.connected_at,
            "reboot the charger so it sends its BootNotification",
            charger=cp,
        )
    if c.booted_at is not None:
        return _item(
            Item.CONNECTED,
            Group.CHARGER,
            CheckStatus.FAILED,
            f"{identity}{firmware} booted, but is offline now",
            c.booted_at,
            "check the charger's network and that it still has the URL and password; see its event log",
            charger=cp,
        )
    return _item(
        Item.CONNECTED,
        Group.CHARGER,
        CheckStatus.NOT_YET,
        "never connected",
        None,
        f"set the URL {c.url} and the password in the charger and reboot it; refused attempts show in its event log",
        charger=cp,
    )


def _meter_values(c: ChargerFacts) -> ChecklistItem:
    cp = c.charge_point_id
    if c.meter_seen_at is None:
        return _item(
            Item.METER_VALUES,
            Group.CHARGER,
            CheckStatus.NOT_YET,
            "no meter values yet",
            None,
            "charge a car for a minute (the charger samples while charging), or ask for them with TriggerMessage",
            charger=cp,
        )
    missing = measurands_missing(c.measurands)
    received = ", ".join(c.measurands)
    if missing:
        return _item(
            Item.METER_VALUES,
            Group.CHARGER,
            CheckStatus.FAILED,
            f"received {received}; energy control also needs {missing}",
            c.meter_seen_at,
            "add the missing measurand to MeterValuesSampledData (Change configuration on the charger's page)",
            charger=cp,
        )
    return _item(Item.METER_VALUES, Group.CHARGER, CheckStatus.OK, f"received {received}", c.meter_seen_at, charger=cp)


def measurands_missing(measurands: Sequence[str]) -> str:
    """What energy control needs of the meter values and did not get, in words ("" if none)."""
    missing = []
    if NEEDED_REGISTER not in measurands:
        missing.append(NEEDED_REGISTER)
    if not any(m in measurands for m in NEEDED_DRAW):
        missing.append(" or ".join(NEEDED_DRAW))
    return " and ".join(missing)


NEXT_STEPS = {
    Item.REMOTE_START_STOP: "plug a car in and press 'Test remote start/stop'",
    Item.POWER_LIMITS: "with a car charging, press 'Test a power limit'",
    Item.LOAD_BALANCING: "with the chargers connected, press 'Test load balancing'",
    Item.TOU_SCHEDULE: "once a time-of-use plan is sent (a tariff or a car's target), press 'Verify TOU schedule'",
}


def _tested(site: SiteFacts, results: dict[Item, KeptResult], item: Item, charger: str | None) -> ChecklistItem:
    group = Group.CHARGER if charger else Group.ENERGY
    result = results.get(item)
    if result is None:
        return _item(item, group, CheckStatus.NOT_YET, "not tested yet", None, NEXT_STEPS[item], charger=charger)
    if result.running:
        if still_running(result, now=site.now, longest_wait_s=site.longest_test_wait_s):
            waiting = "wait: the page shows the result once the test ends"
            running = _item(item, group, CheckStatus.NOT_YET, result.evidence, result.seen_at, waiting, charger)
            return replace(running, running=True)
        limit_s = site.longest_test_wait_s + RUNNING_MARGIN_S
        evidence = f"did not finish: {result.evidence}, no result within {limit_s:g} s"
        next_step = f"the server's log says why it stopped; {NEXT_STEPS[item]} again"
        return _item(item, group, CheckStatus.FAILED, evidence, result.seen_at, next_step, charger=charger)
    by = f" (run by {result.requested_by})" if result.requested_by else ""
    next_step = f"fix what the evidence says, then run the test again; {NEXT_STEPS[item]}"
    if result.status == CheckStatus.NOT_YET:
        next_step = NEXT_STEPS[item]
    return _item(item, group, result.status, result.evidence + by, result.seen_at, next_step, charger=charger)


def _solar(site: SiteFacts) -> ChecklistItem:
    if site.solar_measured_at is None:
        return _item(
            Item.SOLAR_DATA,
            Group.ENERGY,
            CheckStatus.NOT_YET,
            "no reading with solar power yet",
            None,
            "send the inverter's readings (solar_w) to POST /api/v1/energy/readings or over MQTT",
        )
    age_s = (site.now - site.solar_measured_at).total_seconds()
    evidence = f"{site.solar_w:,.0f} W solar, {age_s:,.0f} s old (the meter timeout is {site.meter_timeout_s} s)"
    if age_s > site.meter_timeout_s:
        return _item(
            Item.SOLAR_DATA,
            Group.ENERGY,
            CheckStatus.FAILED,
            evidence,
            site.solar_measured_at,
            f"the readings stopped: check the meter's integration sends them at least every {site.meter_timeout_s} s",
        )
    return _item(Item.SOLAR_DATA, Group.ENERGY, CheckStatus.OK, evidence, site.solar_measured_at)


# --- The tests' verdicts ------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    status: CheckStatus
    evidence: str


def schedule_limits_w(schedule: dict, *, phases: int) -> list[tuple[int, float]]:
    """A composite schedule ({"chargingRateUnit", "chargingSchedulePeriod"}) as
    [(seconds from its start, limit W)]."""
    per_unit = NOMINAL_VOLTAGE_V * phases if schedule.get("chargingRateUnit", "A") == "A" else 1.0
    return [(int(p["startPeriod"]), float(p["limit"]) * per_unit) for p in schedule.get("chargingSchedulePeriod") or []]


def limit_at_w(limits: Sequence[tuple[int, float]], offset_s: float) -> float | None:
    """The limit in force offset_s after the schedule's start (None before its first period)."""
    held = None
    for start_s, limit_w in limits:
        if start_s > offset_s:
            break
        held = limit_w
    return held


def _said(action: str, answer: str, failure: str) -> str:
    """The charger's answer to a call, or why there was none (offline, no answer in time...)."""
    return f"{action} answered {answer}" if answer else f"{action} got no answer: {failure or 'nothing'}"


def start_stop_verdict(
    *,
    start_answer: str,
    transaction_started: bool,
    stop_answer: str,
    transaction_stopped: bool,
    wait_s: float,
    start_failure: str = "",
    stop_failure: str = "",
) -> Verdict:
    """Remote start/stop works when the charger accepts both and the transaction begins and ends.
    An answer is the charger's status ("" when none came: the failure says why)."""
    said = _said("RemoteStart", start_answer, start_failure)
    if start_answer != "Accepted":
        return Verdict(CheckStatus.FAILED, said)
    if not transaction_started:
        return Verdict(
            CheckStatus.FAILED, f"{said}, but no transaction began within {wait_s:g} s (is a car plugged in?)"
        )
    said += f", a transaction began; {_said('RemoteStop', stop_answer, stop_failure)}"
    if stop_answer != "Accepted":
        return Verdict(CheckStatus.FAILED, said)
    if not transaction_stopped:
        return Verdict(CheckStatus.FAILED, f"{said}, but the transaction did not end within {wait_s:g} s")
    return Verdict(CheckStatus.OK, f"{said} and the transaction ended")


def limit_verdict(
    *, test_limit_w: float, schedule_limit_w: float | None, measured_w: float | None, wait_s: float
) -> Verdict:
    """A limit is applied when the charger's composite schedule holds it and the measured power
    follows it (within the tolerance) in wait_s."""
    sent = f"test limit {test_limit_w:,.0f} W"
    if schedule_limit_w is None:
        return Verdict(CheckStatus.FAILED, f"{sent}: the charger's composite schedule holds no limit")
    if schedule_limit_w > test_limit_w + LIMIT_TOLERANCE_W:
        return Verdict(CheckStatus.FAILED, f"{sent}: the charger's composite schedule holds {schedule_limit_w:,.0f} W")
    said = f"{sent}: the composite schedule holds {schedule_limit_w:,.0f} W"
    if measured_w is None:
        return Verdict(CheckStatus.FAILED, f"{said}, but no power was measured within {wait_s:g} s")
    if not power_follows(measured_w=measured_w, limit_w=test_limit_w):
        return Verdict(
            CheckStatus.FAILED,
            f"{said}, but the measured power stayed above it: {measured_w:,.0f} W after {wait_s:g} s",
        )
    return Verdict(CheckStatus.OK, f"{said} and the measured power followed: {measured_w:,.0f} W")


def power_follows(*, measured_w: float, limit_w: float) -> bool:
    """The measured power is within the limit, give or take the meter and the rounding to 0.1 A."""
    return measured_w <= limit_w * (1 + LIMIT_TOLERANCE) + LIMIT_TOLERANCE_W


@dataclass(frozen=True)
class HeldLimit:
    """What one charger holds of the fuse, read back from it."""

    charge_point_id: str
    limit_w: float | None  # None: its schedule holds no limit (it may draw its maximum)
    max_power_w: float
    phases: int
    supply_phase: str = "L1"


def fuse_verdict(*, held: Sequence[HeldLimit], fuse_a: float) -> Verdict:
    """The limits the chargers hold, per phase, stay within the site's fuse."""
    if not held:
        return Verdict(CheckStatus.NOT_YET, "no charger is connected")
    per_phase = {"L1": 0.0, "L2": 0.0, "L3": 0.0}
    words = []
    for h in held:
        limit_w = h.max_power_w if h.limit_w is None else min(h.limit_w, h.max_power_w)
        amps = limit_w / NOMINAL_VOLTAGE_V / h.phases
        for phase in per_phase if h.phases == 3 else (h.supply_phase,):
            per_phase[phase] += amps
        what = "no limit (its maximum)" if h.limit_w is None else f"{amps:.1f} A"
        words.append(f"{h.charge_point_id} holds {what} on {h.phases} phase{'s' if h.phases > 1 else ''}")
    worst = max(per_phase, key=per_phase.get)
    evidence = f"{'; '.join(words)}: at most {per_phase[worst]:.1f} A on {worst}, fuse {fuse_a:g} A"
    if per_phase[worst] > fuse_a + 0.5:
        return Verdict(CheckStatus.FAILED, evidence)
    return Verdict(CheckStatus.OK, evidence)


def plan_ahead(periods: Sequence[Sequence[float]], *, now_s: float, end_s: float) -> list[tuple[float, float]]:
    """A plan's periods ([start Unix s, W], in order) within [now, end): one already begun
    starts now, so it compares with a schedule read now."""
    ahead = []
    for index, (start_s, limit_w) in enumerate(periods):
        next_s = periods[index + 1][0] if index + 1 < len(periods) else end_s
        if next_s > now_s and start_s < end_s:
            ahead.append((max(start_s, now_s), float(limit_w)))
    return ahead


def plan_verdict(
    *, charge_point_id: str, plan: Sequence[tuple[float, float]], schedule: Sequence[tuple[float, float]]
) -> Verdict:
    """The charger's composite schedule matches the time-of-use plan sent to it at each of the
    plan's period starts: both as [(Unix s, W)]. The schedule may be lower (a fuse limit)."""
    if not plan:
        return Verdict(CheckStatus.NOT_YET, f"{charge_point_id} holds no time-of-use plan")
    mismatches = []
    for start_s, planned_w in plan:
        held_w = limit_at_w([(int(s), w) for s, w in schedule], start_s)
        if held_w is None or held_w > planned_w + LIMIT_TOLERANCE_W:
            held = "no limit" if held_w is None else f"{held_w:,.0f} W"
            mismatches.append(
                f"{dt.datetime.fromtimestamp(start_s, dt.UTC):%H:%M} UTC plan {planned_w:,.0f} W, holds {held}"
            )
    if mismatches:
        return Verdict(CheckStatus.FAILED, f"{charge_point_id}: {'; '.join(mismatches)}")
    return Verdict(CheckStatus.OK, f"{charge_point_id} follows its plan's {len(plan)} periods")
