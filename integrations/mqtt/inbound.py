"""What comes in over MQTT: charger commands, owner controls (mode, target), energy readings,
grid levels, prices and solar forecasts (sync: call from a worker thread). Input is checked by
the REST API's own serializers and energy.owner_controls' rules, so both entry points accept
and refuse exactly the same; nothing is changed before the input is valid."""

import json
import logging
import math
from typing import Any

from django.utils import timezone

from chargers import events
from chargers.admin_commands import DONE_STATUSES, LATER_STATUSES, admin_commands_for
from chargers.apis import ChargerLimitApi, ChargerStartApi
from chargers.commands import ChargerRejected, CommandFailed
from chargers.failures import failure_details, failure_meaning
from chargers.models import Charger, charge_point_id_validator
from chargers.selectors import charger_limit_in_force
from energy.apis import READING_FIELDS, EnergyReadingApi
from energy.apis_owner import ChargerTargetApi, PriceSeriesApi, SolarForecastApi
from energy.models import ChargerControl, GridResponse, Site
from energy.owner_controls import (
    OwnerInputError,
    SeriesSlot,
    charger_mode_set,
    charger_target_set,
)
from energy.remote import charger_clear_limit, charger_remote_start, charger_remote_stop, charger_set_limit
from energy.services import energy_reading_record, grid_level_set
from graylogic.datetimes import iso_utc
from integrations.mqtt.payloads import owner_payload

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 16 * 1024
ACTIONS = ("set_limit", "clear_limit", "start", "stop", "reset", "unlock")
# reset and unlock are the admin's buttons of the charger's OCPP version (their forms check them).
BUTTONS = {"reset": "reset", "unlock": "unlock-connector"}
TARGET_FIELDS = ("ready_by", "energy_wh", "soc_percent", "battery_capacity_wh")
REQUESTED_BY = "mqtt"
SOURCE = "mqtt"


class InputError(Exception):
    """Input that is refused: the message says why; `fields` has the messages per field."""

    def __init__(self, message: str, *, status: str = "invalid", fields: dict | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.fields = fields


def _decode_json(raw: bytes) -> Any:
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise InputError(f"payload of {len(raw)} bytes is larger than {MAX_PAYLOAD_BYTES}")
    if b"\\u0000" in raw:
        # PostgreSQL stores NUL in no text or JSON column (SQLite does): refused alike.
        raise InputError("a string holds NUL (U+0000), which no value here may hold")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as error:
        raise InputError(f"payload is not JSON: {error}") from None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _json_object(raw: bytes) -> dict:
    payload = _decode_json(raw)
    if not isinstance(payload, dict):
        raise InputError("payload must be a JSON object")
    return payload


def _validated(serializer_class, data: dict, context: dict | None = None, *, partial: bool = False) -> dict:
    serializer = serializer_class(data=data, context=context or {}, partial=partial)
    if not serializer.is_valid():
        fields = json.loads(json.dumps(serializer.errors))  # plain strings, nested as DRF nests them
        raise InputError("; ".join(_messages(fields)), fields=fields)
    return dict(serializer.validated_data)


def _messages(errors: Any, path: str = "") -> list[str]:
    """Each error with where it is: `slots.2.start: Datetime has wrong format...`."""
    if isinstance(errors, dict):
        return [
            m
            for key, value in errors.items()
            for m in _messages(value, path if key == "non_field_errors" else f"{path}.{key}" if path else key)
        ]
    if isinstance(errors, list) and any(isinstance(e, dict | list) for e in errors):
        return [m for i, value in enumerate(errors) if value for m in _messages(value, f"{path}.{i}")]
    return [f"{path}: {' '.join(map(str, errors))}"] if path else [" ".join(map(str, errors))]


# --- commands ------------------------------------------------------------------------------


def command_run(*, charge_point_id: str, raw: bytes) -> dict:
    """Carry out one command from `{prefix}/charger/{id}/command`; return the result payload.
    The spec's payload: {"action": "set_limit", "limit_w": 3000, "reason": "...",
    "duration_seconds": null}; also {"action": "clear_limit"}, {"action": "start", "connector_id": 1}
    and {"action": "stop"}."""
    result: dict[str, Any] = {"charger_id": charge_point_id, "action": None}
    try:
        payload = _json_object(raw)
        result.update(_request_id(payload))
        action = payload.get("action")
        if action not in ACTIONS:
            raise InputError(f"unknown action {str(action)[:50]!r}: use {', '.join(ACTIONS)}")
        result["action"] = action
        charger = _charger(charge_point_id)
        result.update(_command_carry_out(charger, action, payload))
    except InputError as error:
        result.update(status=error.status, message=error.message)
        if error.fields:
            result["fields"] = error.fields
    except CommandFailed as failure:
        # The status per failure as chargers.failures says; anything else going wrong is "error".
        result.update(status=failure_meaning(failure).mqtt_status, message=failure.message, **failure_details(failure))
    except Exception:
        logger.exception("MQTT command for %s failed", charge_point_id)
        result.update(status="error", message="the command could not be carried out; see the server log")
    result["timestamp"] = iso_utc(timezone.now())
    return result


def command_busy(*, charge_point_id: str, raw: bytes, waiting: int) -> dict:
    """The result of a command refused because `waiting` messages are already queued: never
    silence. Pure and cheap (no database): it is built for every message of a flood."""
    result: dict[str, Any] = {"charger_id": charge_point_id, "action": None}
    try:
        payload = _json_object(raw)
    except InputError:
        payload = {}
    result.update(_request_id(payload))
    if payload.get("action") in ACTIONS:
        result["action"] = payload["action"]
    result.update(
        status="busy",
        message=f"not carried out: {waiting} messages are waiting for the bridge; send the command again later",
        timestamp=iso_utc(timezone.now()),
    )
    return result


def _request_id(payload: dict) -> dict:
    """The caller's request_id, echoed in the result when it is a short string or number."""
    request_id = payload.get("request_id")
    if isinstance(request_id, str | int) and not isinstance(request_id, bool) and len(str(request_id)) <= 100:
        return {"request_id": request_id}
    return {}


def _charger(charge_point_id: str) -> Charger:
    if charge_point_id_validator.regex.match(charge_point_id):
        charger = Charger.objects.select_related("site", "control").filter(charge_point_id=charge_point_id).first()
        if charger is not None:
            return charger
    raise InputError(f"no charger {charge_point_id[:60]!r}", status="unknown_charger")


def _command_carry_out(charger: Charger, action: str, payload: dict) -> dict:
    if action == "set_limit":
        data = _validated(ChargerLimitApi.InputSerializer, payload, {"charger": charger})
        if data["limit_w"] is None:  # as the REST API: null removes the limit
            return _limit_result(charger, charger_clear_limit(charger=charger, requested_by=REQUESTED_BY))
        answer = charger_set_limit(
            charger=charger,
            limit_w=data["limit_w"],
            reason=data.get("reason") or "",
            duration_s=data.get("duration_seconds"),
            requested_by=REQUESTED_BY,
        )
        return _limit_result(charger, answer)
    if action == "clear_limit":
        return _limit_result(charger, charger_clear_limit(charger=charger, requested_by=REQUESTED_BY))
    if action == "start":
        data = _validated(ChargerStartApi.InputSerializer, payload, {"charger": charger})
        answer = charger_remote_start(charger=charger, requested_by=REQUESTED_BY, connector_id=data["connector_id"])
        return {"status": "accepted", "charger_response": answer}
    if action in BUTTONS:
        return _button_press(charger, action, payload)
    answer = charger_remote_stop(charger=charger, requested_by=REQUESTED_BY)
    return {"status": "accepted", "charger_response": answer}


def _button_press(charger: Charger, action: str, payload: dict) -> dict:
    """Reset ({"action": "reset"}, optional "type": 1.6 Soft/Hard, 2.0.1 OnIdle/Immediate) or
    unlock ({"action": "unlock"}, optional "connector_id": a 2.0.1 station's EVSE), sent as the
    admin's button of the charger's version sends it."""
    command = admin_commands_for(charger)[BUTTONS[action]]
    fields = command.form.base_fields
    if action == "reset":
        name = "reset_type" if "reset_type" in fields else "type"
        data = {name: payload.get("type", fields[name].initial)}
    else:
        connector_id = payload.get("connector_id", 1)
        data = {"evse_id": connector_id, "connector_id": 1} if "evse_id" in fields else {"connector_id": connector_id}
    form = command.form(data=data, charger=charger)
    if not form.is_valid():
        # Named as the payload names them, whichever form's fields they went into.
        said = {"reset_type": "type", "evse_id": "connector_id"}
        errors = {said.get(name, name): list(messages) for name, messages in form.errors.items()}
        raise InputError("; ".join(_messages(errors)), fields=errors)
    answer = command.send(charger=charger, cleaned=form.cleaned_data, requested_by=REQUESTED_BY)
    status = answer.get("status")
    if status not in DONE_STATUSES | LATER_STATUSES:
        raise ChargerRejected(f"the charger answered {status} to {command.action}", code=str(status or ""))
    return {"status": "accepted", "charger_response": answer}


def _limit_result(charger: Charger, answer: dict) -> dict:
    """A limit command's result: the charger's answer and the limit now in force, with why."""
    limits = charger_limit_in_force(charger=charger)
    return {
        "status": "accepted",
        "charger_response": answer,
        "limit_w": limits.current_limit_w,
        "limit_source": limits.limit_source,
        "limit_reason": limits.reason,
    }


# --- the owner's controls: mode and target --------------------------------------------------


def owner_command_run(*, charge_point_id: str, action: str, raw: bytes, held: dict[str, dict]) -> dict:
    """A mode from `{prefix}/charger/{id}/mode/set` (action set_mode) or a target from
    `.../target/set` (set_target), checked by energy.owner_controls; the result is a command's.
    `held`: the bridge's halves of targets not yet complete (see _target_set)."""
    result: dict[str, Any] = {"charger_id": charge_point_id, "action": action}
    try:
        if action == "set_mode":
            mode, request = _mode_given(raw)
            result.update(request)
            charger = _charger(charge_point_id)
            control = _owner_rule(charger_mode_set, charger=charger, mode=mode, set_by=REQUESTED_BY)
        else:
            given = _target_given(raw)
            result.update(_request_id(given or {}))
            charger = _charger(charge_point_id)
            control = _target_set(charger, given, held)
        events.charger_changed(charger_pk=charger.pk)
        result.update(status="accepted", **owner_payload(control))
    except InputError as error:
        result.update(status=error.status, message=error.message)
        if error.fields:
            result["fields"] = error.fields
    except Exception:
        logger.exception("MQTT %s for %s failed", action, charge_point_id)
        result.update(status="error", message="could not be carried out; see the server log")
    result["timestamp"] = iso_utc(timezone.now())
    return result


def _owner_rule(rule, **arguments):
    """energy.owner_controls' refusal, as this module's."""
    try:
        return rule(**arguments)
    except OwnerInputError as error:
        raise InputError(str(error)) from error


def _mode_given(raw: bytes) -> tuple[Any, dict]:
    """`solar`, `"solar"` or {"mode": "solar"} (with an optional request_id). A long text is
    cut, so the refusal that names it stays short (no mode is near 50 characters)."""
    text = raw.strip()
    if not text.startswith((b"{", b'"')):
        return text.decode("utf-8", errors="replace")[:50], {}
    value = _decode_json(text)
    mode, request = (value.get("mode"), _request_id(value)) if isinstance(value, dict) else (value, {})
    return (mode[:50] if isinstance(mode, str) else mode), request


def _target_given(raw: bytes) -> dict | None:
    """The fields given (None: clear the target). Absent fields keep their value."""
    payload = _decode_json(raw) if raw.strip() else None
    if payload is None:
        return None
    if not isinstance(payload, dict):
        raise InputError("payload must be a JSON object (null clears the target)")
    unknown = sorted(set(payload) - set(TARGET_FIELDS) - {"request_id"})
    if unknown:
        raise InputError(f"unknown field(s) {', '.join(k[:50] for k in unknown)}: use {', '.join(TARGET_FIELDS)}")
    return payload


def _stored_target(control: ChargerControl) -> dict:
    if control.target_ready_by is None:
        return {}
    return {
        "ready_by": control.target_ready_by.strftime("%H:%M"),
        "energy_wh": control.target_energy_wh,
        "soc_percent": control.target_soc_percent,
        "battery_capacity_wh": control.battery_capacity_wh,
    }


def _target_set(charger: Charger, given: dict | None, held: dict[str, dict]) -> ChargerControl:
    """A whole target, or a part of one merged with the stored target: Home Assistant's time
    and energy entities each send their own field. A first part refused because the other is
    missing is held here (not stored) until that one comes. A ready_by of null or "" clears."""
    cp_id = charger.charge_point_id
    if given is None or ("ready_by" in given and given["ready_by"] in (None, "")):
        held.pop(cp_id, None)
        return charger_target_set(charger=charger, ready_by=None, set_by=REQUESTED_BY)
    given = {k: v for k, v in given.items() if k in TARGET_FIELDS}
    control = charger.control
    merged = {**_stored_target(control), **held.get(cp_id, {}), **given}
    if given.get("energy_wh") is not None:
        merged["soc_percent"] = None
    if given.get("soc_percent") is not None:
        merged["energy_wh"] = None
    if all(merged.get(k) is None for k in ("ready_by", "energy_wh", "soc_percent")):
        raise InputError("give ready_by (HH:MM) with energy_wh, or with soc_percent and battery_capacity_wh")
    present = {k: v for k, v in merged.items() if v is not None}
    data = _validated(ChargerTargetApi.InputSerializer, present, partial=True)
    try:
        control = charger_target_set(
            charger=charger,
            ready_by=data.get("ready_by"),
            energy_wh=data.get("energy_wh"),
            soc_percent=data.get("soc_percent"),
            battery_capacity_wh=data.get("battery_capacity_wh"),
            set_by=REQUESTED_BY,
        )
    except OwnerInputError as error:
        if control.target_ready_by is None:
            held[cp_id] = {**held.get(cp_id, {}), **{k: v for k, v in given.items() if v is not None}}
        raise InputError(str(error)) from error
    held.pop(cp_id, None)
    return control


# --- energy inputs -------------------------------------------------------------------------


def site_find(*, key: str | None, default: str = "") -> Site:
    """The site a topic names (its name, or its id), else MQTT_SITE, else the only site."""
    name = key if key is not None else default
    if name:
        site = Site.objects.filter(name=name).first()
        if site is None and name.isdigit():
            site = Site.objects.filter(pk=int(name)).first()
        if site is None:
            raise InputError(f"no site {name[:60]!r}")
        return site
    sites = list(Site.objects.all()[:2])
    if len(sites) != 1:
        raise InputError("name the site (MQTT_SITE or a {site} level in the topic): there is not exactly one")
    return sites[0]


def reading_store(*, site: Site, raw: bytes, field: str | None = None) -> None:
    """A reading: the JSON object of POST /api/v1/energy/readings, or, on a per-value topic
    (`.../readings/grid_w`, MQTT_READING_TOPICS), one plain number or {"value": n}."""
    if field is None:
        payload = _json_object(raw)
        payload.pop("site", None)  # the topic says which site
    else:
        if field not in READING_FIELDS:
            raise InputError(f"unknown reading {field[:50]!r}: use {', '.join(READING_FIELDS)}")
        value = _decode_json(raw.strip())
        if isinstance(value, dict):
            value = value.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InputError(f"{field} must be a number")
        payload = {field: value}
    values = _validated(EnergyReadingApi.InputSerializer, payload)
    measured_at = values.pop("measured_at", None) or timezone.now()
    energy_reading_record(site=site, measured_at=measured_at, source=SOURCE, **values)


def grid_level_store(*, site: Site, raw: bytes) -> str:
    """A demand-response level: `moderate`, "moderate" or {"level": "moderate"}."""
    text = raw.strip()
    if text.startswith((b"{", b'"')):
        value = _decode_json(text)
        level = value.get("level") if isinstance(value, dict) else value
    else:
        level = text.decode("utf-8", errors="replace")
    if not isinstance(level, str) or level.lower() not in GridResponse.Level.values:
        raise InputError(f"level must be one of {', '.join(GridResponse.Level.values)}")
    grid_level_set(site=site, level=level.lower(), source=SOURCE)
    return level.lower()


def series_store(*, site: Site, raw: bytes, series: str) -> int:
    """A dynamic tariff's prices (series "prices") or a solar forecast ("solar_forecast"): the
    JSON of POST /api/v1/energy/prices or /solar-forecast; returns how many slots were stored."""
    payload = _json_object(raw)
    payload.pop("site", None)  # the topic says which site
    api = PriceSeriesApi if series == "prices" else SolarForecastApi
    data = _validated(api.InputSerializer, payload)
    slots = [SeriesSlot(start=s["start"], end=s["end"], value=s[api.value_field]) for s in data["slots"]]
    return _owner_rule(api.store, site=site, slots=slots, source=SOURCE)
