"""Reach the real local services the scaled deployment uses, and Debian's chromium for the
browser tests. With CI=true a missing one fails the test; on a developer machine it skips with
the reason."""

import os
import socket
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags chromium keeps reaching for the (closed) network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _missing(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_service(name: str, host: str, port: int) -> None:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as error:
        _missing(f"{name} is not reachable at {host}:{port} ({error}); see ../shared/services.md")


def require_chromium() -> None:
    """Playwright drives Debian's chromium (bin/test installs it), never a browser of its own."""
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} is missing: bin/test installs it (apt-get install chromium)")
    pytest.importorskip("playwright")
