"""Schema-driven fuzzing: schemathesis generates valid and invalid requests for every operation
of the live /api/v1/schema and sends them to the live server. No input may get a 5xx, and
every answer must be one the schema documents, in the documented shape."""

import asyncio
import contextlib
import threading

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from ocpp.v16 import call
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chargers.models import Charger
from tests.api.helpers import make_user
from tests.factories import make_charger
from tests.ocpp_client import AnsweringCharger, eventually, library_charger

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES_PER_OPERATION = 30
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@contextlib.contextmanager
def connected_charger(server, charger: Charger):
    """An answering charger on a real socket, in its own thread, for as long as the block runs."""
    booted = threading.Event()
    state: dict = {}

    async def serve() -> None:
        state["loop"], state["stop"] = asyncio.get_running_loop(), asyncio.Event()
        async with library_charger(server, charger.charge_point_id, charge_point_class=AnsweringCharger) as cp:
            await cp.call(call.BootNotification(charge_point_vendor="Wallbox", charge_point_model="Pulsar Plus"))
            booted.set()
            await state["stop"].wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    try:
        assert booted.wait(10), "the charger booted"
        assert eventually(lambda: Charger.objects.get(pk=charger.pk).probed_at), "the compatibility probe ran"
        yield
    finally:
        if "loop" in state:
            state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(10)


def test_fuzzing_every_documented_operation_finds_no_server_error_and_no_undocumented_answer(ocpp_server):
    offline = make_charger(is_connected=False)
    live = make_charger()
    session_http = requests.Session()
    session_http.headers["Authorization"] = f"Token {Token.objects.create(user=make_user(is_staff=True)).key}"
    schema = schemathesis.openapi.from_url(f"{ocpp_server.http_url}/api/v1/schema", timeout=10)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6

    # Generated ids almost never name a charger: aim a share of the cases at real ones.
    charger_ids = st.sampled_from([None, offline.charge_point_id, live.charge_point_id])

    with connected_charger(ocpp_server, live):
        for operation in operations:
            # Invalid input is made from bodies and query strings; a bare path has none to spoil.
            negatable = len(operation.body) > 0 or len(operation.query) > 0
            modes = [schemathesis.GenerationMode.POSITIVE] + [schemathesis.GenerationMode.NEGATIVE] * negatable
            for mode in modes:

                @given(case=operation.as_strategy(generation_mode=mode), charger_id=charger_ids)
                @settings(
                    max_examples=EXAMPLES_PER_OPERATION,
                    deadline=None,
                    database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                def request_gets_a_documented_answer(case, charger_id):
                    if charger_id is not None and case.path_parameters and "charger_id" in case.path_parameters:
                        case.path_parameters["charger_id"] = charger_id
                    response = case.call(base_url=ocpp_server.http_url, session=session_http, timeout=30)
                    case.validate_response(response, checks=CHECKS)

                request_gets_a_documented_answer()
