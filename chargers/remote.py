"""Remote control of a charger (spec: "Remote Control"): the rules around start, stop and
power limits, shared by the API, the admin and MQTT. Each waits for the charger's answer."""

import datetime as dt

from django.utils import timezone

from chargers.commands import ChargerOffline, CommandFailed, charger_command_sync
from chargers.models import Charger
from chargers.ocpp.profiles import limit_in_charger_unit
from sessions.models import ChargingSession

REMOTE_ID_TAG = "GrayLogic"
# Connector states in which a car can be told to start (it may still need plugging in).
STARTABLE_STATUSES = {"Available", "Preparing"}
# One profile id per purpose, so a new limit replaces the old one on the charger.
PROFILE_ID_BY_PURPOSE = {"ChargePointMaxProfile": 1, "TxDefaultProfile": 2, "TxProfile": 3}
STACK_LEVEL_BY_PURPOSE = {"ChargePointMaxProfile": 0, "TxDefaultProfile": 1, "TxProfile": 2}


class ChargerRejected(CommandFailed):
    """The charger answered, and said no (Rejected, NotSupported...)."""

    outcome = "rejected"


class ChargerBusy(CommandFailed):
    """The request does not fit the charger's state: nothing to stop, connector not available."""

    outcome = "conflict"


def _require_accepted(action: str, answer: dict) -> dict:
    if answer.get("status") != "Accepted":
        raise ChargerRejected(f"the charger answered {answer.get('status')} to {action}", code=answer.get("status", ""))
    return answer


def charger_remote_start(*, charger: Charger, requested_by: str, connector_id: int = 1) -> dict:
    """Ask the charger to start charging on a connector (the car may still need plugging in)."""
    from energy.services import charger_protect_before_start

    connector = charger.connectors.filter(connector_id=connector_id).first()
    if connector is not None and connector.status not in STARTABLE_STATUSES:
        raise ChargerBusy(f"connector {connector_id} is {connector.status}; it must be Available or Preparing")
    charger_protect_before_start(charger=charger, trigger=f"remote start by {requested_by}")
    answer = charger_command_sync(
        charge_point_id=charger.charge_point_id,
        action="RemoteStartTransaction",
        payload={"connectorId": connector_id, "idTag": REMOTE_ID_TAG},
        requested_by=requested_by,
    )
    return _require_accepted("RemoteStartTransaction", answer)


def charger_active_session(*, charger: Charger) -> ChargingSession | None:
    return charger.charging_sessions.filter(stopped_at__isnull=True).order_by("-started_at").first()


def charger_remote_stop(*, charger: Charger, requested_by: str) -> dict:
    """Ask the charger to end its running transaction."""
    session = charger_active_session(charger=charger)
    if session is None:
        raise ChargerBusy("no charging session is running on this charger")
    answer = charger_command_sync(
        charge_point_id=charger.charge_point_id,
        action="RemoteStopTransaction",
        payload={"transactionId": session.transaction_id},
        requested_by=requested_by,
    )
    return _require_accepted("RemoteStopTransaction", answer)


def charging_profile(
    *,
    charger: Charger,
    purpose: str,
    limit_w: float,
    duration_s: int | None = None,
    now: dt.datetime | None = None,
    phases: int | None = None,
) -> dict:
    """A one-period charging profile in the unit and at the stack level the charger accepts.
    `phases`: what it charges on when that is not how it is wired (switched to one phase)."""
    unit, limit = limit_in_charger_unit(
        limit_w=limit_w, phases=phases or charger.phases, rate_unit=charger.limit_rate_unit
    )
    now = now or timezone.now()
    schedule = {
        "chargingRateUnit": unit,
        "startSchedule": now.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
    }
    if duration_s:
        schedule["duration"] = duration_s
    return {
        "chargingProfileId": PROFILE_ID_BY_PURPOSE[purpose],
        "stackLevel": charger.stack_level(STACK_LEVEL_BY_PURPOSE[purpose]),
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": schedule,
    }


def charger_set_limit(
    *,
    charger: Charger,
    limit_w: int,
    reason: str,
    requested_by: str,
    duration_s: int | None = None,
) -> dict:
    """A person's cap on one charger. It becomes one input of the site's energy control (which
    also respects fuses, solar, tariffs and the grid), and the combined limit is sent at once.
    Returns the charger's answer to the profile, or {"status": "Accepted"} when the limit in
    force did not change. With a duration the cap lapses."""
    return _manual_limit_change(
        charger=charger,
        limit_w=limit_w,
        reason=reason,
        duration_s=duration_s,
        trigger=f"manual limit by {requested_by}",
    )


def charger_clear_limit(*, charger: Charger, requested_by: str) -> dict:
    """Lift a person's cap: energy control gives the charger its share again and sends what
    changed. Answers as charger_set_limit does (with no cap set, control simply runs again)."""
    return _manual_limit_change(
        charger=charger, limit_w=None, reason="", duration_s=None, trigger=f"manual limit cleared by {requested_by}"
    )


def _manual_limit_change(
    *, charger: Charger, limit_w: int | None, reason: str, duration_s: int | None, trigger: str
) -> dict:
    from energy.services import charger_manual_limit_set, site_control_run

    charger.refresh_from_db()
    if not charger.is_connected:
        raise ChargerOffline(f"charger {charger.charge_point_id} is offline")
    charger_manual_limit_set(charger=charger, limit_w=limit_w, reason=reason, duration_s=duration_s)
    run = site_control_run(site=charger.site, trigger=trigger)
    key = str(charger.pk)
    if key in run.failures:
        raise run.failures[key]
    answer = run.answers.get(key, {"status": "Accepted"})
    _require_accepted("SetChargingProfile", answer)
    charger.refresh_from_db()
    return answer
