"""The admin shows a charger's known quirks (sentence, what they change, source) and the profile
fallbacks its rejections taught, lists the whole registry, and forgets learned fallbacks."""

import html

import pytest
from django.urls import reverse

from chargers.models import Charger
from chargers.quirks import REGISTRY
from chargers.services import charger_boot, charger_limit_fallback_next
from tests.factories import make_charger

pytestmark = pytest.mark.django_db(transaction=True)


def booted_evbox_refusing_watts() -> Charger:
    """An EVBox that booted (its quirks matched) and refused one limit since."""
    charger = make_charger(charge_point_id="ADMIN-Q1", charging_rate_units="Current,Power")
    charger_boot(charger_pk=charger.pk, boot_info={"vendor": "EVBox", "model": "Elvi", "firmware_version": "1.0"})
    charger_limit_fallback_next(charger_pk=charger.pk, why="ChargePointMaxProfile Rejected")
    return Charger.objects.get(pk=charger.pk)


def test_the_charger_page_shows_its_quirks_with_sources_and_what_its_rejections_taught(admin_client):
    charger = booted_evbox_refusing_watts()

    page = html.unescape(admin_client.get(reverse("admin:chargers_charger_change", args=[charger.pk])).content.decode())

    assert "EVBox Elvi rejects ChargePointMaxProfile" in page
    assert "ChargePointMaxProfile sent as TxDefaultProfile" in page
    assert 'href="https://github.com/lbbrhzn/ocpp/issues/221"' in page
    assert "ChargePointMaxProfile Rejected, so limits in watts." in page
    assert reverse("admin:chargers_charger_known_quirks") in page


def test_forgetting_learned_fallbacks_starts_the_charger_again_from_its_configuration_and_quirks(admin_client):
    charger = booted_evbox_refusing_watts()
    assert charger.limit_rate_unit == "W"  # learned: the quirk's amps were refused

    answer = admin_client.post(
        reverse("admin:chargers_charger_changelist"),
        {"action": "forget_limit_fallbacks", "_selected_action": [charger.pk]},
        follow=True,
    )

    assert "Forgot the learned profile fallbacks of 1 charger(s)" in answer.content.decode()
    charger.refresh_from_db()
    assert charger.limit_fallbacks == {} and charger.limit_rate_unit == "A"
    assert charger.quirks == ["evbox-no-chargepointmax"]  # what is known stays


def test_the_registry_page_lists_every_known_quirk_with_its_source(admin_client):
    booted_evbox_refusing_watts()

    page = html.unescape(admin_client.get(reverse("admin:chargers_charger_known_quirks")).content.decode())

    for quirk in REGISTRY:
        assert quirk.sentence in page and quirk.source in page
    evbox_row = page.split('id="quirk-evbox-no-chargepointmax"')[1].split("</tr>")[0]
    assert "<td>1</td>" in evbox_row  # one charger booted with it
