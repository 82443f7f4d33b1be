"""Remote control of a charger (spec: "Remote Control"): the rules around start, stop and
power limits, shared by the API, the admin and MQTT. Each waits for the charger's answer.
They live with energy control because each needs it: a car told to start gets its share of
the fuses first, and a person's cap is one input of the site's decision."""

from chargers.commands import ChargerBusy, ChargerOffline
from chargers.link import answer_accepted, charger_call_sync, start_call, stop_call
from chargers.models import Charger
from energy.services import charger_manual_limit_set, charger_protect_before_start, site_control_run
from sessions.selectors import charger_active_session

# Connector states in which a car can be told to start (it may still need plugging in):
# 1.6's, and 2.0.1's Occupied (a car plugged in) while no session runs on it.
STARTABLE_STATUSES = {"Available", "Preparing", "Occupied"}


def charger_remote_start(*, charger: Charger, requested_by: str, connector_id: int = 1) -> dict:
    """Ask the charger to start charging on a connector (the car may still need plugging in)."""
    connector = charger.connectors.filter(connector_id=connector_id).first()
    if connector is not None and connector.status not in STARTABLE_STATUSES:
        raise ChargerBusy(
            f"connector {connector_id} is {connector.status}; it must be Available, Preparing (1.6) "
            "or Occupied with no session running (2.0.1)"
        )
    occupied = connector is not None and connector.status == "Occupied"
    if occupied and charger.charging_sessions.filter(connector_id=connector_id, stopped_at__isnull=True).exists():
        raise ChargerBusy(f"a charging session is already running on connector {connector_id}")
    charger_protect_before_start(charger=charger, trigger=f"remote start by {requested_by}")
    call = start_call(charger=charger, connector_id=connector_id)
    return answer_accepted(call.action, charger_call_sync(charger=charger, call=call, requested_by=requested_by))


def charger_remote_stop(*, charger: Charger, requested_by: str) -> dict:
    """Ask the charger to end its running transaction."""
    session = charger_active_session(charger=charger)
    if session is None:
        raise ChargerBusy("no charging session is running on this charger")
    call = stop_call(charger=charger, transaction_id=session.charger_transaction_id or session.transaction_id)
    return answer_accepted(call.action, charger_call_sync(charger=charger, call=call, requested_by=requested_by))


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
    charger.refresh_from_db()
    if not charger.is_connected:
        raise ChargerOffline(f"charger {charger.charge_point_id} is offline")
    charger_manual_limit_set(charger=charger, limit_w=limit_w, reason=reason, duration_s=duration_s)
    run = site_control_run(site=charger.site, trigger=trigger)
    key = str(charger.pk)
    if key in run.failures:
        raise run.failures[key]
    answer = answer_accepted("SetChargingProfile", run.answers.get(key, {"status": "Accepted"}))
    charger.refresh_from_db()
    return answer
