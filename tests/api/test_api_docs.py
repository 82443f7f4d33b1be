"""The OpenAPI schema and the interactive docs page, which must work without the internet."""

import re

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db

OPERATIONS = {
    ("/api/v1/chargers", "get"),
    ("/api/v1/chargers/{charger_id}", "get"),
    ("/api/v1/chargers/{charger_id}/start", "post"),
    ("/api/v1/chargers/{charger_id}/stop", "post"),
    ("/api/v1/chargers/{charger_id}/limit", "post"),
    ("/api/v1/chargers/{charger_id}/limit", "delete"),
    ("/api/v1/chargers/{charger_id}/sessions", "get"),
}


def test_the_schema_is_valid_openapi_without_a_single_generator_warning(tmp_path):
    call_command("spectacular", validate=True, fail_on_warn=True, file=str(tmp_path / "schema.yaml"))


def test_the_schema_is_public_and_documents_each_charger_endpoint_with_its_errors():
    response = Client().get("/api/v1/schema")

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    paths = schema["paths"]
    documented = {(path, method) for path, methods in paths.items() for method in methods}
    assert OPERATIONS.issubset(documented)
    limit = paths["/api/v1/chargers/{charger_id}/limit"]["post"]
    assert set(limit["responses"]) == {"200", "400", "401", "403", "404", "409", "502", "504"}
    assert limit["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ChargerLimitRequest"
    }
    assert set(schema["components"]["securitySchemes"]) == {"tokenAuth", "cookieAuth"}


def test_the_docs_page_loads_swagger_ui_from_this_server_not_a_cdn():
    client = Client()

    page = client.get("/api/v1/docs").content.decode()

    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets, "the page loads Swagger UI's files"
    assert all(asset.startswith("/static/drf_spectacular_sidecar/") for asset in assets), assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
