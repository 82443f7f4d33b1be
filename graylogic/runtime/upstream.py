"""What a patch records of the upstream code it replaces or leans on."""

import hashlib
import inspect
from dataclasses import dataclass


@dataclass(frozen=True)
class Upstream:
    """An upstream function or method, by dotted path, and the digest of its source as the
    pinned version has it (`source_digest`)."""

    path: str
    digest: str


def source_digest(target: object) -> str:
    """The first 16 hex digits of the SHA-256 of the object's source."""
    return hashlib.sha256(inspect.getsource(target).encode()).hexdigest()[:16]
