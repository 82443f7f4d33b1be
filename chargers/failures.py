"""What a command that came to nothing means to each caller, in one table: the REST API
answers its HTTP status and error code, the MQTT bridge its result status, the admin its
sentence. Offline and busy are the caller's to retry later; a charger that refused, failed or
cannot do it is a bad gateway; silence is a gateway timeout."""

from dataclasses import dataclass
from http import HTTPStatus

from chargers.commands import (
    ChargerBusy,
    ChargerCallError,
    ChargerNotSupported,
    ChargerOffline,
    ChargerRejected,
    ChargerTimeout,
    CommandFailed,
    CommandInvalid,
)


@dataclass(frozen=True)
class FailureMeaning:
    http_status: HTTPStatus
    api_error: str  # the REST API's error code
    mqtt_status: str  # the MQTT command result's status
    # For people; str.format fields: charge_point_id, timeout_s, message, code and answer (the
    # charger's status, or "without a status").
    sentence: str
    # The key the charger's own code goes under in API and MQTT answers, if any.
    code_key: str = ""


# Per failure's outcome (subclasses share their parent's).
FAILURES: dict[str, FailureMeaning] = {
    ChargerOffline.outcome: FailureMeaning(
        HTTPStatus.CONFLICT, "charger_offline", "offline", "Charger {charge_point_id} is offline"
    ),
    ChargerBusy.outcome: FailureMeaning(HTTPStatus.CONFLICT, "charger_busy", "busy", "Not sent: {message}"),
    ChargerTimeout.outcome: FailureMeaning(
        HTTPStatus.GATEWAY_TIMEOUT,
        "charger_timeout",
        "timeout",
        "No answer from charger {charge_point_id} within {timeout_s:g} s",
    ),
    ChargerRejected.outcome: FailureMeaning(
        HTTPStatus.BAD_GATEWAY,
        "charger_rejected",
        "rejected",
        "The charger answered {answer}",
        code_key="charger_status",
    ),
    ChargerCallError.outcome: FailureMeaning(
        HTTPStatus.BAD_GATEWAY,
        "charger_call_error",
        "call_error",
        "The charger answered CALLERROR {code}: {message}",
        code_key="call_error_code",
    ),
    ChargerNotSupported.outcome: FailureMeaning(
        HTTPStatus.BAD_GATEWAY,
        "charger_not_supported",
        "not_supported",
        "Not supported by this charger: {message}",
    ),
    CommandInvalid.outcome: FailureMeaning(
        HTTPStatus.BAD_REQUEST, "command_invalid", "invalid", "Not sent, invalid request: {message}"
    ),
}


def failure_meaning(failure: CommandFailed) -> FailureMeaning:
    return FAILURES[failure.outcome]


def failure_details(failure: CommandFailed) -> dict[str, str]:
    """The charger's own code (its status, its CALLERROR code) under its key, for API and MQTT."""
    key = failure_meaning(failure).code_key
    return {key: failure.code} if key else {}


def failure_sentence(*, charge_point_id: str, failure: CommandFailed, timeout_s: float) -> str:
    """Why a command came to nothing, in an installer's words."""
    return failure_meaning(failure).sentence.format(
        charge_point_id=charge_point_id,
        timeout_s=timeout_s,
        message=failure.message,
        code=failure.code,
        answer=failure.code or "without a status",
    )
