"""The charger's admin page has a Diagnosis section: each symptom of the spec's troubleshooting
list with its finding, the fix and what the server saw, read from the charger's own logs."""

import re

import pytest
from django.urls import reverse

from chargers.models import ChargerCommand, ChargerEvent, Connector
from tests.factories import make_charger

pytestmark = pytest.mark.django_db


def diagnosis_html(client, charger) -> str:
    response = client.get(reverse("admin:chargers_charger_change", args=[charger.pk]))
    assert response.status_code == 200
    return response.content.decode().split('id="charger-diagnosis"')[1].split("</fieldset>")[0]


def diagnosis_section(client, charger) -> str:
    section = diagnosis_html(client, charger)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section)).replace("&#x27;", "'")


def test_the_admin_page_lists_each_symptoms_finding_and_fix(admin_client):
    charger = make_charger(charge_point_id="GARAGE-1", password="pw-1234567890", is_connected=True)
    Connector.objects.create(charger=charger, connector_id=1, status="Preparing")
    ChargerEvent.objects.create(
        charger=charger,
        charge_point_id="GARAGE-1",
        kind=ChargerEvent.Kind.REFUSED,
        message="wrong password",
        payload={"refusal": "wrong password"},
        count=3,
    )
    ChargerCommand.objects.create(
        charger=charger,
        action="RemoteStartTransaction",
        requested_by="api:owner",
        outcome=ChargerCommand.Outcome.ANSWERED,
        response={"status": "Rejected"},
    )

    text = diagnosis_section(admin_client, charger)

    assert "> Diagnosis What the server saw of this charger" in text
    assert f'href="/admin/energy/site/{charger.site_id}/commissioning/"' in diagnosis_html(admin_client, charger)
    for title in ("Charger won't connect:", "Charger connects then disconnects:", "Charging won't start:",
                  "Power limit not applied:"):  # fmt: skip
        assert title in text
    assert "Connection refused 3 times since" in text
    assert "the charger sends a wrong password. Fix: Set the same password" in text
    assert "The charger refused the start: it answered Rejected to RemoteStartTransaction" in text
    assert "No limit is in force yet." in text
    assert "RemoteStartTransaction: Rejected" in text  # the evidence
