"""Charger passwords (HTTP Basic, OCPP security profile 1) and header parsing."""

import base64
import binascii
import hmac
import os

from django.contrib.auth.hashers import PBKDF2PasswordHasher, check_password, make_password


class ChargerPasswordHasher(PBKDF2PasswordHasher):
    """Fewer rounds than user passwords: charger keys are long machine secrets, and a
    reconnect storm of a thousand chargers must not cost minutes of CPU."""

    algorithm = "pbkdf2_sha256_charger"
    iterations = 20_000


def charger_password_hash(password: str) -> str:
    return make_password(password, hasher=ChargerPasswordHasher())


def charger_password_matches(*, password: str, password_hash: str, password_env: str) -> bool:
    """The env var named by password_env wins over the stored hash, as in the spec's YAML."""
    if password_env:
        expected = os.environ.get(password_env)
        return expected is not None and hmac.compare_digest(password.encode(), expected.encode())
    return bool(password_hash) and check_password(password, password_hash)


def parse_basic_auth(header: bytes | None) -> tuple[str, str] | None:
    """Return (user, password) from an Authorization header, or None if absent or malformed."""
    if not header:
        return None
    scheme, _, encoded = header.decode("latin-1").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None
