"""The API's request parser: JSON, bounded in size and depth.

Apart from graylogic/api.py because DRF imports it while defining APIView, before the rest of
the API's modules can be imported."""

import json
from typing import IO, Any

from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, parsers, status

# Every request body the API takes is a small JSON object; these bound what a client can make
# the server read and walk (a 100,000-deep array once came back as an HTML 500).
MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 20


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"The request body is larger than {MAX_BODY_BYTES} bytes."
    default_code = "too_large"


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest (a scalar: 0), walked without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children)
    return deepest


class BoundedJSONParser(parsers.JSONParser):
    """DRF's JSON parser reads the whole body whatever its size, and answers JSON nested deeper
    than Python's recursion limit with a 500: here a body over MAX_BODY_BYTES is a 413 and
    one nested deeper than MAX_JSON_DEPTH a 400, both in the error envelope."""

    def parse(self, stream: IO[bytes] | None, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise BodyTooLarge()
        try:
            raw = stream.read(MAX_BODY_BYTES + 1) if stream is not None else b""
        except RequestDataTooBig:
            raise BodyTooLarge() from None
        if len(raw) > MAX_BODY_BYTES:
            raise BodyTooLarge()
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        except RecursionError:
            raise exceptions.ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.") from None
        except (UnicodeDecodeError, ValueError) as error:
            raise exceptions.ParseError(f"JSON parse error - {error}") from None
        if json_depth(data) > MAX_JSON_DEPTH:
            raise exceptions.ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
        if b"\\u0000" in raw and (field := _field_holding_nul(data)) is not None:
            # PostgreSQL stores NUL in no text or JSON column (SQLite does): refused alike.
            raise exceptions.ValidationError({field: ["A string may not hold NUL (U+0000)."]})
        return data


def _field_holding_nul(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or key) holding NUL, "" for the body itself."""
    pending = [(value, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where or "non_field_errors"
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    return where or "non_field_errors"
                pending.append((child, f"{where}.{key}" if where else key))
        elif isinstance(item, list):
            pending.extend((child, f"{where}.{i}" if where else str(i)) for i, child in enumerate(item))
    return None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")
