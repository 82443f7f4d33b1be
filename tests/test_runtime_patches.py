"""The library patches in graylogic/runtime/ still match the upstream code they replace.

Each patch module records, in UPSTREAM, a digest of the source of every upstream function it
replaces or leans on, as the pinned version (requirements.txt) has it. An upgrade that changes
or removes one fails here: re-check the patch against the new code, then record the new digest
and re-run bench/ocpp_bench.py P1 and P2 (bench/README.md) to see the patch still pays.
"""

import importlib
import inspect
import logging
import re

import daphne.cli
import daphne.http_protocol
import daphne.server
import daphne.ws_protocol
import ocpp.charge_point
import ocpp.messages
import pytest
from channels.consumer import AsyncConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from channels_redis.utils import decode_hosts
from django.http import HttpResponse
from django.utils.log import log_response
from ocpp.routing import create_route_map, on
from ocpp.v16 import ChargePoint as V16ChargePoint

from chargers.consumers import OcppConsumer
from chargers.ocpp.ocpp16 import ChargePoint16
from graylogic.runtime import channel_layers, channels_consumer, daphne_server, django_logging, ocpp_routing
from graylogic.runtime.upstream import Upstream, source_digest
from graylogic.single_reader_queue import SingleReaderQueue

PATCH_MODULES = (daphne_server, channels_consumer, ocpp_routing, channel_layers, django_logging)
RECORDED = [(module, upstream) for module in PATCH_MODULES for upstream in module.UPSTREAM]


def resolve(path: str) -> object:
    """The object at a dotted path: the longest importable module, then its attributes."""
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            target = getattr(target, name)
        return target
    raise ImportError(f"no module in {path!r}")


def uses(source: str, name: str) -> set[str]:
    """The attributes a source reaches on `name` (e.g. {"get", "put_nowait"} for a queue)."""
    return set(re.findall(rf"\b{re.escape(name)}\.(\w+)", source))


@pytest.mark.parametrize(("module", "upstream"), RECORDED, ids=[upstream.path for _, upstream in RECORDED])
def test_each_upstream_method_a_patch_replaces_is_still_the_one_it_was_written_against(module, upstream: Upstream):
    advice = (
        f"re-check the patch in {module.__name__} against the new code, then record the new digest "
        "and re-run bench/ocpp_bench.py P1 and P2 (bench/README.md)"
    )
    try:
        target = resolve(upstream.path)
    except (ImportError, AttributeError) as error:
        pytest.fail(f"{upstream.path} is gone upstream ({error}): {advice}")
    assert source_digest(target) == upstream.digest, f"{upstream.path} changed upstream: {advice}"


def test_every_patch_module_records_what_it_replaces():
    for module in PATCH_MODULES:
        assert module.UPSTREAM, module.__name__
        assert all(len(upstream.digest) == 16 for upstream in module.UPSTREAM), module.__name__


def test_the_app_runs_on_the_patches():
    assert OcppConsumer.__call__ is channels_consumer.InboxConsumer.__call__
    assert OcppConsumer.dispatch is channels_consumer.InboxConsumer.dispatch
    assert issubclass(ChargePoint16, ocpp_routing.RoutingChargePoint)
    cli = daphne_server.CommandLineInterface(websocket_path_refusal=lambda path: None)
    assert cli.server_class.func is daphne_server.Server


def test_daphnes_private_attributes_the_server_patch_relies_on_still_exist():
    server = daphne_server.Server(None, ["tcp:port=0"], websocket_path_refusal=lambda path: None)
    for name in ("application", "application_checker", "timeout_checker", "handle_reply", "protocol_connected"):
        assert hasattr(server, name), name
    run = inspect.getsource(daphne.server.Server.run)
    assert "self.http_factory = " in run and "self.ws_factory = " in run and "self.connections = " in run
    assert "self.server_class = server_class" in inspect.getsource(daphne.ws_protocol.WebSocketFactory.__init__)
    assert "self.server_class(" in inspect.getsource(daphne.cli.CommandLineInterface.run)
    for name in ("STATE_CONNECTING", "STATE_OPEN", "sendCloseFrame", "_dataReceived", "muted"):
        assert hasattr(daphne.ws_protocol.WebSocketProtocol, name), name
    assert "self.handshake_deferred = " in inspect.getsource(daphne.ws_protocol.WebSocketProtocol.onConnect)


def test_daphnes_protocols_only_put_into_a_connections_input_queue():
    """A SingleReaderQueue offers put_nowait() and get() only."""
    for module in (daphne.ws_protocol, daphne.http_protocol):
        assert uses(inspect.getsource(module), "application_queue") <= {"put_nowait"}, module.__name__
    assert "receive=input_queue.get" in inspect.getsource(daphne.server.Server.create_application)


def test_channels_consumer_attributes_the_inbox_consumer_relies_on_still_exist():
    assert AsyncConsumer.channel_layer_alias
    assert "self.base_send" in inspect.getsource(AsyncConsumer.send)
    for name in ("__call__", "dispatch"):
        assert name not in vars(AsyncWebsocketConsumer), f"AsyncWebsocketConsumer overrides {name} now"


def test_ocpps_private_attributes_the_routing_patch_relies_on_still_exist():
    charge_point = V16ChargePoint("CP-1", connection=None)
    for name in ("_response_queue", "_call_lock", "route_map", "_send", "_call", "_call_result", "_ocpp_version"):
        assert hasattr(charge_point, name), name
    assert ocpp.messages.ASYNC_VALIDATION is False
    assert uses(inspect.getsource(ocpp.charge_point), "_response_queue") <= {"get", "put_nowait"}


def test_the_library_keeps_a_handler_under_on_action_and_after_action():
    class ChargePoint(V16ChargePoint):
        @on("Heartbeat")
        def on_heartbeat(self):
            pass

    assert set(create_route_map(ChargePoint)["Heartbeat"]) >= {"_on_action"}
    assert ChargePoint16.routes["BootNotification"]["_on_action"]
    assert any("_after_action" in handlers for handlers in ChargePoint16.routes.values())


def test_a_routing_charge_point_answers_from_one_route_map_and_a_single_reader_queue():
    first = ChargePoint16("CP-1", None, charger_pk=1, site_pk=1, remote_address="", accepted=False)
    second = ChargePoint16("CP-2", None, charger_pk=2, site_pk=1, remote_address="", accepted=False)
    assert first.route_map is second.route_map is ChargePoint16.routes
    assert isinstance(first._response_queue, SingleReaderQueue)
    assert first.ocpp_version == "1.6"


def test_channel_layer_attributes_the_layer_patches_rely_on_still_exist():
    assert "_clean_expired" in vars(InMemoryChannelLayer)
    assert "self._clean_expired()" in inspect.getsource(InMemoryChannelLayer.receive)
    assert "create_pool" in vars(RedisChannelLayer)
    assert decode_hosts([{"address": "redis://127.0.0.1:6379/0"}])[0]["address"] == "redis://127.0.0.1:6379/0"
    assert issubclass(channel_layers.RedisPoolChannelLayer, RedisChannelLayer)


def test_djangos_request_log_still_skips_a_response_marked_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        log_response("Service Unavailable: %s", "/healthz", response=django_logging.unlogged(HttpResponse(status=503)))
    assert caplog.records == []
