"""A control run's calls, from its decisions to what the chargers answered.

Under the site's lock a run plans its calls: which limits differ from what each charger holds,
lowered ones first. Each site then sends its own, one after the other (each answered before the
next), side by side with the other sites of its batch, and records every charger's decision with
what its calls came to. A charger slow to answer holds up its own site, not the batch.
"""

import asyncio
import contextlib
import datetime as dt
import logging
import re
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chargers import events as charger_events
from chargers.commands import CommandFailed
from chargers.link import (
    ChargerCall,
    LimitPeriod,
    LimitPurpose,
    charger_call,
    limit_clear_call,
    limit_set_call,
    schedule_set_call,
)
from chargers.models import Charger, ChargerCommand
from chargers.services import charger_limit_fallback_next
from energy.control import Decision, apply_order, schedule_from
from energy.models import ChargerControl, LimitDecision
from energy.pacing import OWNER_TRIGGER_PREFIX, Urgency, profile_may_go
from energy.sources import LimitSource
from energy.tou import Plan, schedule_periods
from sessions.models import ChargingSession

logger = logging.getLogger(__name__)

PROTECTION = LimitPurpose.CHARGER_MAX  # circuit protection, grid response, manual limits
TOU = LimitPurpose.DEFAULT  # the time-of-use plan
SOLAR = LimitPurpose.TRANSACTION  # solar surplus, on the running transaction
# What each purpose's fields of the control record say when the charger holds none of it.
NOTHING_HELD: dict[LimitPurpose, dict[str, object]] = {
    PROTECTION: {"protection_w": None},
    SOLAR: {"solar_w": None, "solar_transaction_id": None},
    TOU: {"tou_periods": None, "tou_end_s": None, "tou_unknown": False},
}
# A run's outcome for a charger whose changes wait for profile pacing (energy/pacing.py).
DEFERRED = "deferred: paced"
PROFILE_ACTIONS = ("SetChargingProfile", "ClearChargingProfile")
# A SetChargingProfile's answers that another unit, stack level or purpose may turn around.
REFUSED = ("Rejected", "NotSupported")
# A car's own limit lowered by this much goes within the minute: less would only cost a little.
PROMPT_STEP_DOWN_W = 1000
# A plan held by the charger is sent again for a change this near; further ahead it waits.
PLAN_LOOKAHEAD_S = 3600


@dataclass
class ControlRun:
    decisions: dict[str, Decision]
    # Per charger pk: what the charger said to the first profile sent, or why none went out.
    outcomes: dict[str, str] = field(default_factory=dict)
    answers: dict[str, dict] = field(default_factory=dict)
    failures: dict[str, CommandFailed] = field(default_factory=dict)


@dataclass(frozen=True)
class Send:
    """One call a run decided. `held`: the purpose's fields of the control record once the
    charger accepts the limit (a clear sets them to NOTHING_HELD)."""

    charger: Charger
    purpose: LimitPurpose
    call: ChargerCall
    held: dict[str, object] = field(default_factory=dict)
    clear: bool = False
    urgency: Urgency = Urgency.PROMPT


@dataclass
class SitePlan:
    """A site's run once decided: its calls in the order they go out (lowered limits first),
    then each charger's decision, recorded once the calls are answered."""

    run: ControlRun
    now: dt.datetime
    trigger: str
    sends: list[Send] = field(default_factory=list)
    records: list[tuple[Charger, Decision, LimitDecision | None]] = field(default_factory=list)


def site_finish(plan: SitePlan, lock: contextlib.ExitStack) -> ControlRun | Exception:
    """Record each charger's decision with what its calls came to, then let the site go."""
    try:
        for charger, decision, last in plan.records:
            charger_decision_record(
                charger, decision, plan.run.outcomes.get(str(charger.pk), "unchanged"), plan.now, last=last
            )
    except Exception as error:
        return error
    finally:
        lock.close()
    return plan.run


async def sites_send(
    plans: dict[int, SitePlan], *, site_locks: dict[int, contextlib.ExitStack]
) -> dict[int, ControlRun | Exception]:
    """Each site's calls one after the other (each answered before the next: lowered limits
    take hold before raised ones), the sites side by side. The database work runs back on the
    calling thread, which holds the sites' locks."""

    async def site_send(pk: int, plan: SitePlan) -> ControlRun | Exception:
        try:
            for send in plan.sends:
                answer = await _call(plan.run, send, plan.trigger)
                await sync_to_async(_answered)(plan.run, send, answer)
        except Exception as error:
            await sync_to_async(site_locks[pk].close)()
            return error
        return await sync_to_async(site_finish)(plan, site_locks[pk])

    done = await asyncio.gather(*(site_send(pk, plan) for pk, plan in plans.items()))
    return dict(zip(plans, done, strict=True))


def site_calls_plan(
    plan: SitePlan,
    *,
    by_pk: dict[str, Charger],
    sessions: dict[int, ChargingSession],
    last_decisions: dict[int, LimitDecision],
    solar_on: set[str],
    protection_only: bool = False,
    tou_plans: dict[int, Plan] | None = None,
) -> None:
    """Under the site's lock: the calls that bring each charger to its decision, from what it
    holds (lowered fuse limits first), and the decisions to record once they are answered.
    tou_plans: each planned charger's plan (energy/planner.py) as the slots of its schedule.
    solar_on: the chargers whose decision rides on their transaction (a TxProfile): all of a
    site with solar charging, else those the owner set to off or solar."""
    decisions = plan.run.decisions
    protection_now = {cid: by_pk[cid].control.protection_w for cid in decisions}
    protection_new = {cid: d.protection_limit_w for cid, d in decisions.items()}
    # Lowered limits go out (and are answered) before raised ones.
    for cid in apply_order(protection_now, protection_new):
        held, new, decision = protection_now[cid], protection_new[cid], decisions[cid]
        urgency = Urgency.ADJUSTMENT
        if held is None or (new < held and decision.protection_source != LimitSource.DEMAND):
            urgency = Urgency.AT_ONCE  # a fuse, the grid or a person needs it lower: at once
        elif new > held and not _rides_its_own_limit(by_pk[cid], cid, solar_on, sessions):
            continue  # raised once the car's own limit holds, or it would draw all of the raise
        elif new > held and decision.limit_w > held:
            urgency = Urgency.PROMPT  # the car is held below its own limit: it needs the raise
        _plan_limit(plan, by_pk[cid], PROTECTION, decision, new, urgency=urgency)
    if not protection_only:
        for cid, decision in decisions.items():
            charger = by_pk[cid]
            _plan_solar(plan, charger, decision, solar_on=cid in solar_on, session=sessions.get(charger.pk))
            _plan_tou(plan, charger, (tou_plans or {}).get(charger.pk), idle=decision.source == LimitSource.IDLE)
            plan.records.append((charger, decision, last_decisions.get(charger.pk)))
    _pace(plan)


def _rides_its_own_limit(charger: Charger, cid: str, solar_on: set[str], sessions: dict[int, ChargingSession]) -> bool:
    """Whether raising the fuse limit gives the car only what it is meant to get: not while its
    own (solar, mode) limit waits for its transaction, or the car would draw the whole raise."""
    if cid not in solar_on:
        return True
    session = sessions.get(charger.pk)
    return session is not None and charger.control.solar_transaction_id == session.transaction_id


def _pace(plan: SitePlan) -> None:
    """Keep the sends profile pacing lets go now (energy/pacing.py), the urgent first, then what
    the car's own limit needs before a raise of its fuse limit; the rest wait for a later run. A
    run the owner asked for sends everything at once."""
    if not plan.sends or plan.trigger.startswith(OWNER_TRIGGER_PREFIX) or not settings.ENERGY_PROFILE_PACING:
        return
    now_s = plan.now.timestamp()
    sent: dict[int, list[float]] = {}
    recent = ChargerCommand.objects.filter(
        charger__in={send.charger.pk for send in plan.sends},
        action__in=PROFILE_ACTIONS,
        created_at__gt=plan.now - dt.timedelta(hours=1),
    ).values_list("charger_id", "created_at")
    for charger_pk, created_at in recent:
        sent.setdefault(charger_pk, []).append(created_at.timestamp())
    # A start's own limit before its fuse limit's raise; of adjustments, the fuse limit first.
    ordered = sorted(
        plan.sends,
        key=lambda send: (send.urgency, (send.purpose == PROTECTION) != (send.urgency is Urgency.ADJUSTMENT)),
    )
    plan.sends = []
    for send in ordered:
        times = sent.setdefault(send.charger.pk, [])
        if profile_may_go(send.urgency, sent_s=times, now_s=now_s):
            plan.sends.append(send)
            times.append(now_s)
        else:
            plan.run.outcomes.setdefault(str(send.charger.pk), DEFERRED)


def _plan_solar(
    plan: SitePlan, charger: Charger, decision: Decision, *, solar_on: bool, session: ChargingSession | None
) -> None:
    """The solar limit rides on the running transaction; with solar off, whatever is left is cleared."""
    control = charger.control
    if not solar_on:
        if control.solar_w is not None:
            _plan_clear(plan, charger, SOLAR)
        return
    if session is None:
        return
    wanted = {"solar_w": decision.limit_w, "solar_transaction_id": session.transaction_id}
    held_w = control.solar_w if control.solar_transaction_id == session.transaction_id else None
    if held_w != decision.limit_w:
        # A start, a stop, a big step up, or any real step down (the car would buy the rest from
        # the grid) is prompt; a small step up is an adjustment.
        step_w = decision.limit_w - held_w if held_w else 0
        prompt = not held_w or not decision.limit_w or step_w >= held_w / 2 or step_w <= -PROMPT_STEP_DOWN_W
        urgency = Urgency.PROMPT if prompt else Urgency.ADJUSTMENT
        _plan_limit(plan, charger, SOLAR, decision, decision.limit_w, session=session, held=wanted, urgency=urgency)


def _plan_tou(plan: SitePlan, charger: Charger, tou_plan: Plan | None, *, idle: bool = False) -> None:
    """Send the plan when what it does from now on differs from what the charger holds; clear it
    when time-of-use is off."""
    control = charger.control
    if tou_plan is None:
        if control.tou_periods is not None:
            _plan_clear(plan, charger, TOU)
        elif control.tou_unknown:  # a plan it may have kept from before its boot: no hurry
            _plan_clear(plan, charger, TOU, urgency=Urgency.ADJUSTMENT)
        return
    # Whole seconds, as startSchedule is sent: each period then starts exactly at its slot's edge.
    start = plan.now.replace(microsecond=0)
    periods = schedule_periods(tou_plan, start=start, limit=round(charger.max_power_w))
    start_s = start.timestamp()
    wanted = {
        "tou_periods": [[start_s + p["startPeriod"], p["limit"]] for p in periods],
        "tou_end_s": tou_plan.slots[-1].end.timestamp() if tou_plan.slots else None,
        "tou_unknown": False,
    }
    held = {"tou_periods": control.tou_periods, "tou_end_s": control.tou_end_s}
    # A charger that holds no plan (booted, or never had one) gets it at once when a car waits,
    # else in the minute after its fuse limit.
    urgency = Urgency.PROMPT if idle else Urgency.AT_ONCE
    if control.tou_periods is not None:
        urgency = Urgency.PROMPT
        now_s = plan.now.timestamp()
        if _same_from_now(held, wanted, now_s):
            return
        if _limit_now(held, now_s) == _limit_now(wanted, now_s):
            if _same_from_now(held, wanted, now_s, within_s=PLAN_LOOKAHEAD_S):
                return  # only hours further ahead moved: sent when they come near, if still so
            urgency = Urgency.ADJUSTMENT  # the car does the same now: a later hour moved
    call = schedule_set_call(
        charger=charger,
        purpose=TOU,
        periods=[LimitPeriod(start_s=p["startPeriod"], limit_w=p["limit"]) for p in periods],
        start=start,
        duration_s=int((tou_plan.slots[-1].end - start).total_seconds()) if tou_plan.slots else None,
    )
    plan.sends.append(Send(charger, TOU, call, held=wanted, urgency=urgency))


def _limit_now(schedule: dict, now_s: float) -> float | None:
    ahead = schedule_from([tuple(p) for p in schedule["tou_periods"]], now_s=now_s, end_s=schedule["tou_end_s"])
    return ahead[0][1] if ahead else None


def _same_from_now(held: dict, wanted: dict, now_s: float, within_s: float | None = None) -> bool:
    """Whether two schedules do the same from now on (or up to `within_s` ahead)."""

    def ahead(schedule: dict) -> list:
        end_s = schedule["tou_end_s"]
        if within_s is not None:
            end_s = min(end_s, now_s + within_s) if end_s is not None else now_s + within_s
        return schedule_from([tuple(p) for p in schedule["tou_periods"]], now_s=now_s, end_s=end_s)

    return ahead(held) == ahead(wanted)


def _plan_limit(
    plan: SitePlan,
    charger: Charger,
    purpose: LimitPurpose,
    decision: Decision,
    limit_w: int,
    *,
    session: ChargingSession | None = None,
    held: dict[str, object] | None = None,
    urgency: Urgency = Urgency.PROMPT,
) -> None:
    """A one-period limit; on the transaction's connector when it rides on a session."""
    call = limit_set_call(
        charger=charger,
        purpose=purpose,
        limit_w=limit_w,
        now=timezone.now(),
        phases=decision.phases,
        number_phases=decision.phases if charger.can_switch_phases and decision.phases in (1, 3) else None,
        connector_id=session.connector_id if session is not None else 0,
        transaction_id=session.id_at_charger if session is not None else None,
    )
    held = {"protection_w": limit_w} if held is None else held
    plan.sends.append(Send(charger, purpose, call, held=held, urgency=urgency))


def _plan_clear(plan: SitePlan, charger: Charger, purpose: LimitPurpose, *, urgency: Urgency = Urgency.PROMPT) -> None:
    """A profile whose reason went away must not keep steering the car. "Unknown" means the
    charger holds none: cleared all the same."""
    call = limit_clear_call(charger=charger, purpose=purpose)
    plan.sends.append(Send(charger, purpose, call, clear=True, urgency=urgency))


async def _call(run: ControlRun, send: Send, trigger: str) -> dict | None:
    """One call to the charger; a failure is the run's outcome for it (the first one counts)."""
    charger = send.charger
    try:
        return await charger_call(charger=charger, call=send.call, requested_by=f"energy:{trigger}")
    except CommandFailed as failure:
        logger.warning("%s: %s %s failed: %s", charger.charge_point_id, send.call.action, send.purpose, failure.message)
        run.failures.setdefault(str(charger.pk), failure)
        run.outcomes.setdefault(str(charger.pk), failure.outcome)
        return None


def _answered(run: ControlRun, send: Send, answer: dict | None) -> None:
    """What the charger holds now, as far as its answer tells; the first outcome per charger is
    what the run reports for it."""
    charger, cid = send.charger, str(send.charger.pk)
    if send.clear:
        # A boot's "unknown" is cleared once: a charger that cannot clear (no smart charging)
        # holds no profile either, and asking again at every run would only repeat the refusal.
        tried_once = answer is None and send.purpose == TOU and charger.control.tou_unknown
        if not (tried_once or (answer is not None and answer.get("status") in ("Accepted", "Unknown"))):
            return
        run.outcomes.setdefault(cid, f"{send.purpose} cleared")
        held = NOTHING_HELD[send.purpose]
    else:
        if answer is None:
            return
        status = answer.get("status", "?")
        run.answers.setdefault(cid, answer)
        run.outcomes.setdefault(cid, f"{send.purpose} {status}")
        if status in REFUSED:
            # The next run sends it another way (other unit, stack level, purpose): learned once.
            charger_limit_fallback_next(charger_pk=charger.pk, purpose=send.purpose, why=f"{send.purpose} {status}")
        if status != "Accepted":
            return
        held = send.held
    for name, value in held.items():
        setattr(charger.control, name, value)
    ChargerControl.objects.filter(pk=charger.pk).update(**held)


def _reason_kind(reason: str) -> str:
    """A reason without its figures: a solar surplus that moved from 1,500 W to 1,600 W under
    the same limit is the same decision, and is not written again."""
    return re.sub(r"\d[\d,.]*", "#", reason)


def charger_decision_record(
    charger: Charger, decision: Decision, outcome: str, now: dt.datetime, *, last: LimitDecision | None
) -> None:
    """Keep the decision when anything about it changed (`last` is the newest one kept), and the
    limit now in force. A run that changes nothing writes nothing: on SQLite every write waits
    for the one writer lock."""
    decision_changed = (
        last is None
        or outcome not in ("unchanged", DEFERRED)
        or (last.limit_w, last.source, _reason_kind(last.reason))
        != (decision.limit_w, decision.source, _reason_kind(decision.reason[:300]))
    )
    control = charger.control
    paused = decision.limit_w == 0 and decision.source != LimitSource.IDLE
    fields = {
        "decision_current_a": decision.current_a,
        "paused_since": (control.paused_since or now) if paused else None,
    }
    if outcome == "unchanged" or outcome.endswith(("Accepted", "cleared")):
        # Only a limit the charger took is "in force".
        fields.update(
            limit_w=decision.limit_w,
            limit_source=decision.source,
            limit_reason=decision.reason[:200],
            active_phases=decision.phases,
        )
    control_changed = any(getattr(control, name) != value for name, value in fields.items())
    if decision_changed or control_changed:
        with transaction.atomic():
            if decision_changed:
                LimitDecision.objects.create(
                    charger=charger,
                    limit_w=decision.limit_w,
                    current_a=decision.current_a,
                    phases=decision.phases,
                    source=decision.source,
                    reason=decision.reason[:300],
                    inputs=decision.inputs,
                    outcome=outcome,
                )
            if control_changed:
                ChargerControl.objects.filter(pk=charger.pk).update(**fields)
        control.decision_current_a = decision.current_a
    if (fields.get("limit_w", control.limit_w), fields.get("limit_source", control.limit_source)) != (
        control.limit_w,
        control.limit_source,
    ):
        charger_events.charger_changed(charger_pk=charger.pk)
