"""What comes in over MQTT: charger commands, energy readings and grid levels (sync: call
from a worker thread). Input is checked by the REST API's own serializers, so both entry
points accept and refuse exactly the same; nothing is changed before the input is valid."""

import json
import logging
import math
from typing import Any

from django.utils import timezone

from chargers.apis import ChargerLimitApi, ChargerStartApi
from chargers.commands import CommandFailed
from chargers.failures import failure_details, failure_meaning
from chargers.models import Charger, charge_point_id_validator
from chargers.selectors import charger_limit_in_force
from energy.apis import READING_FIELDS, EnergyReadingApi
from energy.models import GridResponse, Site
from energy.remote import charger_clear_limit, charger_remote_start, charger_remote_stop, charger_set_limit
from energy.services import energy_reading_record, grid_level_set
from graylogic.datetimes import iso_utc

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 16 * 1024
ACTIONS = ("set_limit", "clear_limit", "start", "stop")
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


def _validated(serializer_class, data: dict, context: dict | None = None) -> dict:
    serializer = serializer_class(data=data, context=context or {})
    if not serializer.is_valid():
        fields = {name: [str(m) for m in messages] for name, messages in serializer.errors.items()}
        summary = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in fields.items())
        raise InputError(summary, fields=fields)
    return dict(serializer.validated_data)


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
    answer = charger_remote_stop(charger=charger, requested_by=REQUESTED_BY)
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
