"""What every REST endpoint shares: the error envelope, and each command failure's status.

Every error, from DRF or from a charger, answers `{"error": "<code>", "detail": "<message>"}`
(plus `fields` for invalid input), so API clients parse one shape whatever went wrong.
"""

from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler

from chargers.commands import CommandFailed
from chargers.failures import failure_details, failure_meaning
from graylogic.api_parsers import MAX_BODY_BYTES, BodyTooLarge


class ErrorSerializer(serializers.Serializer):
    """The error envelope (for the schema; responses are built by api_exception_handler)."""

    error = serializers.CharField(help_text="Machine-readable code, e.g. not_found, charger_offline.")
    detail = serializers.CharField(help_text="What went wrong, for people.")
    fields = serializers.DictField(
        child=serializers.JSONField(), required=False, help_text="Invalid input: the messages per field."
    )
    charger_status = serializers.CharField(required=False, help_text="charger_rejected: the charger's answer.")
    call_error_code = serializers.CharField(required=False, help_text="charger_call_error: the CALLERROR code.")


class StrictIntegerField(serializers.IntegerField):
    """An integer that must be a JSON number: DRF's own also takes "3000" and true."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, str | bool):
            self.fail("invalid")
        return super().to_internal_value(data)


def _command_failure_response(failure: CommandFailed) -> Response:
    """The status and code chargers.failures gives the failure, with the charger's own code."""
    meaning = failure_meaning(failure)
    body: dict[str, Any] = {"error": meaning.api_error, "detail": failure.message, **failure_details(failure)}
    return Response(body, status=meaning.http_status)


def _first_message(data: Any) -> str:
    if isinstance(data, dict):
        field, messages = next(iter(data.items()), ("", ""))
        message = _first_message(messages)
        return message if field in ("", "non_field_errors") else f"{field}: {message}"
    if isinstance(data, list):
        return _first_message(data[0]) if data else ""
    return str(data)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, reshaped into the envelope, plus the command path's failures."""
    if isinstance(exc, CommandFailed):
        return _command_failure_response(exc)
    # Django's own exceptions, as DRF's handler would turn them, so they get a code too.
    if isinstance(exc, RequestDataTooBig):
        exc = BodyTooLarge()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {"error": "invalid", "detail": _first_message(fields), "fields": fields}
    else:
        code = exc.get_codes()
        response.data = {"error": code if isinstance(code, str) else "error", "detail": _first_message(exc.detail)}
    return response


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The schema's error responses of an endpoint, all in the envelope."""
    descriptions = {
        400: "Invalid input (`fields` says which).",
        401: "Not authenticated.",
        403: "Not allowed (e.g. a session login without a CSRF token).",
        404: "No such charger, or not one of yours.",
        409: "Charger offline, nothing to stop, or connector not available.",
        413: f"The request body is larger than {MAX_BODY_BYTES} bytes.",
        502: "The charger refused, answered a CALLERROR, or cannot do this.",
        504: "The charger did not answer in time.",
    }
    return {code: OpenApiResponse(ErrorSerializer, description=descriptions[code]) for code in statuses}
