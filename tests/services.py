"""Reach the real local services the scaled deployment uses. With CI=true an unreachable
service fails the test; on a developer machine it skips with the reason."""

import os
import socket

import pytest


def require_service(name: str, host: str, port: int) -> None:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as error:
        message = f"{name} is not reachable at {host}:{port} ({error}); see ../shared/services.md"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
