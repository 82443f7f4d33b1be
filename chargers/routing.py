"""WebSocket routes. A charger connects at /ocpp/<charge_point_id>; any other path, and an id
no charger can have, is refused at the handshake with an HTTP status, never with an exception
(channels' "No route found" left the handshake unanswered and a traceback in the log)."""

import re
from http import HTTPStatus

from django.urls import re_path

from chargers.consumers import OcppConsumer
from chargers.door import charger_path_refused

# No charger's id holds a control character, and PostgreSQL refuses NUL in any string.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


async def refuse_websocket(scope, receive, send) -> None:
    """Closes the handshake before it is accepted (daphne answers HTTP 403). Plain ASGI: a
    refusal needs no channel layer and no database."""
    await receive()  # websocket.connect
    await send({"type": "websocket.close"})


# Anything up to the next slash but control characters; the consumer refuses unknown ids.
_charger_route = re_path(r"^ocpp/(?P<charge_point_id>[^/\x00-\x1f\x7f]+)/?$", OcppConsumer.as_asgi())

websocket_urlpatterns = [_charger_route, re_path(r"", refuse_websocket)]


def websocket_path_refusal(path: str) -> HTTPStatus | None:
    """The status a WebSocket handshake for this percent-decoded path is refused with before
    any consumer runs (`manage.py serve` answers it), or None when the path is a charger's."""
    path = path.lstrip("/")
    if _CONTROL_CHARACTER.search(path):
        return HTTPStatus.BAD_REQUEST
    if _charger_route.pattern.match(path) is None:
        return HTTPStatus.NOT_FOUND
    return None


def websocket_path_refusal_counted(path: str) -> HTTPStatus | None:
    """websocket_path_refusal, with each refusal counted in the refusal log (chargers/door.py):
    a charger set to a wrong URL is otherwise never heard of. Called in the server's event loop."""
    refusal = websocket_path_refusal(path)
    if refusal is not None:
        charger_path_refused(path=path, refusal=f"{refusal.value} {refusal.phrase}")
    return refusal
