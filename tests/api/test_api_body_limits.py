"""Hostile request bodies get the API's JSON error envelope, never an HTML page or a 500, and
store nothing (issue 25, item 9): a body too large is a 413, JSON nested too deep a 400."""

import json
import urllib.error
import urllib.request

import pytest
from rest_framework.authtoken.models import Token

from energy.models import EnergyReading
from graylogic.api_parsers import MAX_BODY_BYTES, MAX_JSON_DEPTH, json_depth
from tests.api.helpers import make_user, token_client
from tests.factories import make_site

READINGS = "/api/v1/energy/readings"


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def reading_padded_to(size: int) -> str:
    body = {"grid_w": 500, "note": ""}
    body["note"] = "x" * (size - len(json.dumps(body)))
    return json.dumps(body)


@pytest.mark.parametrize(
    ("body", "status", "error", "detail"),
    [
        (deep(100_000), 400, "parse_error", f"nested deeper than {MAX_JSON_DEPTH} levels"),
        (deep(MAX_JSON_DEPTH + 1), 400, "parse_error", f"nested deeper than {MAX_JSON_DEPTH} levels"),
        ('{"grid_w": ' + "9" * 5000 + "}", 400, "parse_error", "JSON parse error"),
        ('{"grid_w": NaN}', 400, "parse_error", "NaN is not a number"),
        (reading_padded_to(MAX_BODY_BYTES + 1), 413, "too_large", f"larger than {MAX_BODY_BYTES} bytes"),
        ("[" * (3 * 1024 * 1024), 413, "too_large", f"larger than {MAX_BODY_BYTES} bytes"),
        ('{"grid_w": 500, "source": {"name": "TAG\\u0000"}}', 400, "invalid", "source.name: A string may not hold NUL"),
    ],
    ids=["100,000 deep", "one level too deep", "5,000-digit number", "NaN", "one byte too large", "3 MiB", "NUL"],
)
@pytest.mark.django_db
def test_a_hostile_body_gets_a_json_error_and_stores_nothing(body, status, error, detail):
    site = make_site()
    client = token_client(make_user(sites=(site,)))

    response = client.generic("POST", READINGS, body, content_type="application/json")

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == error
    assert detail in response.json()["detail"]
    assert not EnergyReading.objects.exists()


@pytest.mark.django_db
def test_a_body_at_the_limits_is_read():
    site = make_site()
    client = token_client(make_user(sites=(site,)))
    nested = {"grid_w": 500, "extra": json.loads(deep(MAX_JSON_DEPTH - 1))}

    for body in (reading_padded_to(MAX_BODY_BYTES), json.dumps(nested)):
        response = client.generic("POST", READINGS, body, content_type="application/json")
        assert response.status_code == 201, response.json()
    assert EnergyReading.objects.filter(site=site).count() == 2


@pytest.mark.parametrize(
    ("value", "depth"), [(1, 0), ([], 1), ({"a": [1, {"b": []}]}, 4), (json.loads(deep(500)), 500)]
)
def test_json_depth_counts_nesting_without_recursion(value, depth):
    assert json_depth(value) == depth


@pytest.mark.django_db(transaction=True)
def test_the_live_server_answers_a_huge_or_deep_body_in_json(ocpp_server):
    site = make_site()
    token = Token.objects.create(user=make_user(sites=(site,))).key
    for body, status in ((deep(100_000).encode(), 400), (b"[" * (3 * 1024 * 1024), 413)):
        request = urllib.request.Request(
            f"{ocpp_server.http_url}{READINGS}",
            data=body,
            method="POST",
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=30)
        assert answer.value.code == status
        assert answer.value.headers["Content-Type"] == "application/json"
        assert json.loads(answer.value.read())["error"] in ("parse_error", "too_large")
    assert not EnergyReading.objects.filter(site=site).exists()
