"""A second live server whose command timeout is short, for the charger-too-slow path."""

import pytest

from tests.conftest import start_server

COMMAND_TIMEOUT_S = 2


@pytest.fixture(scope="session")
def impatient_ocpp_server(django_db_setup, django_db_blocker, tmp_path_factory):
    process, server = start_server(
        tmp_path_factory.mktemp("impatient"), extra_env={"OCPP_COMMAND_TIMEOUT": str(COMMAND_TIMEOUT_S)}
    )
    yield server
    process.terminate()
    process.wait(timeout=10)
