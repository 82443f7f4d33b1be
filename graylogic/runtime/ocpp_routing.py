"""The `ocpp` library's routing, replaced on its ChargePoint's private attributes.

The library routes a frame through route_message and _handle_call: it validates the payload
with jsonschema (on a thread pool unless ASYNC_VALIDATION is off), converts keys with regexes,
looks up a route map built per connection, validates the answer too, and logs or swallows what
goes wrong. A server that feeds frames itself uses RoutingChargePoint's pieces instead: a route
map per class, payloads checked by the official schemas compiled to Python, keys converted once
per process, errors left to the caller, and public names for the private attributes it needs.
"""

import functools

import fastjsonschema
import ocpp.messages
from ocpp.charge_point import ChargePoint, camel_to_snake_case, remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.messages import Call, MessageType, get_validator, validate_payload
from ocpp.routing import create_route_map

from graylogic.runtime.upstream import Upstream
from graylogic.single_reader_queue import SingleReaderQueue

# Validation on a thread pool only adds a hop under the GIL: the library's validate_payload
# then runs jsonschema in an executor for every call it checks (requests the server sends).
ocpp.messages.ASYNC_VALIDATION = False

# RoutingChargePoint replaces or leans on these (ocpp 2.1.0):
# - ChargePoint.route_message and _handle_call: the server's charge point routes each frame
#   itself (its route_message, from answer_call and deliver_response below), in order, instead
#   of a queue and a task per charger (4b82188); the library's lets a malformed frame end the
#   connection and answers errors without the spec's codes (41aba7c).
# - ChargePoint.__init__'s route_map, made per connection: one per class instead (4b82188), and
#   its _response_queue, an asyncio.Queue (~2.5 KB): a SingleReaderQueue (~100 bytes; 46.2 ->
#   39.3 KB per connection at 2,000 chargers with daphne's input queue, 1bd9f4d). call() and
#   _get_specific_response read that queue only through get(), under _call_lock.
# - validate_payload (jsonschema, ~13 % of the event loop's busy time) and camel_to_snake_case
#   (its regexes, ~6 %) on every frame: compiled schemas (~20x faster on a valid payload) and
#   keys converted once per process (77a371f: with the group commit, 706 -> 2,571 MeterValues/s
#   in the closed loop; bench/README.md, "Where the time goes").
# - ChargePoint._send, ._call and ._ocpp_version, under public names below.
UPSTREAM = (
    Upstream("ocpp.charge_point.ChargePoint.__init__", "36c0ca30a2784dfb"),
    Upstream("ocpp.charge_point.ChargePoint.route_message", "fe0bf07bdd2e1c9a"),
    Upstream("ocpp.charge_point.ChargePoint._handle_call", "f9877c77b99a69af"),
    Upstream("ocpp.charge_point.ChargePoint.call", "29fb6b76027ae74c"),
    Upstream("ocpp.charge_point.ChargePoint._get_specific_response", "fc24c06ff488079a"),
    Upstream("ocpp.charge_point.ChargePoint._send", "3b3ce2162751e44c"),
    Upstream("ocpp.charge_point.camel_to_snake_case", "5866475effba524a"),
    Upstream("ocpp.messages.validate_payload", "6f8e898e38085efa"),
    Upstream("ocpp.messages.get_validator", "aee69edce6df1a10"),
    Upstream("ocpp.routing.create_route_map", "5b3bb22df9e82d58"),
)


@functools.cache
def _compiled_schema(action: str, ocpp_version: str):
    """The official schema compiled to Python (~20x faster than jsonschema on a valid payload).
    Defaults are not filled in and formats are not checked, like jsonschema as ocpp uses it."""
    schema = get_validator(MessageType.Call, action, ocpp_version).schema
    return fastjsonschema.compile(schema, use_default=False, use_formats=False, detailed_exceptions=False)


def payload_is_valid(action: str, ocpp_version: str, payload: dict) -> bool:
    try:
        _compiled_schema(action, ocpp_version)(payload)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


@functools.lru_cache(maxsize=1024)
def _snake_case(key: str) -> str:
    return next(iter(camel_to_snake_case({key: None})))


def snake_case_keys(data):
    """The library's camel_to_snake_case, with each key's regexes run once per process."""
    if isinstance(data, dict):
        return {_snake_case(key): snake_case_keys(value) for key, value in data.items()}
    if isinstance(data, list):
        return [snake_case_keys(value) for value in data]
    return data


class RoutingChargePoint(ChargePoint):
    """ocpp's ChargePoint for a server that routes frames itself (see the module's docstring)."""

    # action -> {"_on_action": function, ...}; the library builds one per connection.
    routes: dict[str, dict] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.routes = create_route_map(cls)

    def __init__(self, charge_point_id: str, connection, *, response_timeout: int = 30):
        super().__init__(charge_point_id, connection, response_timeout=response_timeout)
        self.route_map = self.routes  # one map per class, not per connection: handlers get self
        self._response_queue = SingleReaderQueue()  # read only by call(), under its lock

    # The library's _send: the frame goes out through the connection.
    send_frame = ChargePoint._send

    @property
    def ocpp_version(self) -> str:
        return self._ocpp_version

    def deliver_response(self, msg) -> None:
        """A CALLRESULT or CALLERROR, for the call() awaiting it."""
        self._response_queue.put_nowait(msg)

    async def answer_call(self, msg: Call):
        """Run the action's handler and send its result (what the library's _handle_call does,
        minus validating the payload and the answer, and letting errors propagate). Returns the
        action's after-handler coroutine, if it has one, for the caller to run after the answer."""
        handlers = self.routes[msg.action]
        response = await handlers["_on_action"](self, **snake_case_keys(msg.payload))
        payload = snake_to_camel_case(remove_nones(serialize_as_dict(response)))
        await self._send(msg.create_call_result(payload).to_json())
        if "_after_action" in handlers:
            return handlers["_after_action"](self, **snake_case_keys(msg.payload))
        return None

    async def request_for(self, action: str, payload: dict):
        """The library's request dataclass for a camelCase payload, checked against the schema;
        raises OCPPError, ValidationError, AttributeError or TypeError when it is not one."""
        await validate_payload(Call("-", action, payload), self._ocpp_version)
        return getattr(self._call, action)(**camel_to_snake_case(payload))
