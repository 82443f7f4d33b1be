"""Users, tokens and HTTP for the API tests."""

import json
import urllib.error
import urllib.request
from itertools import count

from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from energy.models import Site

_seq = count(1)


def make_user(*, sites: tuple[Site, ...] = (), **overrides) -> User:
    fields = {"username": f"user{next(_seq)}"}
    fields.update(overrides)
    user = User.objects.create_user(**fields)
    for site in sites:
        site.owners.add(user)
    return user


def token_client(user: User) -> APIClient:
    """A client that authenticates as an API client does: with a token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def http_json(server, method: str, path: str, *, token: str, body: dict | None = None) -> tuple[int, dict]:
    """A real HTTP request to a live server; returns the status and the decoded JSON body."""
    request = urllib.request.Request(
        f"{server.http_url}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
