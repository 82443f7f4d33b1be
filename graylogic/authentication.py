"""API authentication. Kept apart from graylogic.api: DRF imports authentication classes
while rest_framework.views is still loading, so this module must not import it."""

import re
from typing import Any

from rest_framework import authentication, exceptions

# What rest_framework.authtoken generates: 20 random bytes in hex.
TOKEN_KEY = re.compile(r"[0-9a-f]{40}")


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token auth, refusing malformed keys before they reach the database: a NUL byte
    in a key would make PostgreSQL raise, and the API would answer 500 instead of 401."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        if not TOKEN_KEY.fullmatch(key):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)
