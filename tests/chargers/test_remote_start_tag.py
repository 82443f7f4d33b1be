"""Our own remote-start tag (GrayLogic) comes back from the charger: a charger that is not the
server's own library (tests/chargepoint_sim.py) is started over the API with no ID tag
configured, and charges."""

import asyncio

import pytest
import requests
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from chargers.link import REMOTE_ID_TAG
from chargers.models import IdTag
from sessions.models import ChargingSession
from tests.api.helpers import http_json, make_user
from tests.chargepoint_sim import sim_charger
from tests.factories import make_charger, make_site

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "installer-password-1"


def admin_id_tag_list(server) -> str:
    """The ID tags page of the admin, as an installer logged in with a browser sees it."""
    User.objects.create_superuser("installer", "installer@example.com", PASSWORD)
    browser = requests.Session()
    browser.get(f"{server.http_url}/admin/login/", timeout=10).raise_for_status()
    browser.post(
        f"{server.http_url}/admin/login/",
        data={"username": "installer", "password": PASSWORD, "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        timeout=10,
    ).raise_for_status()
    page = browser.get(f"{server.http_url}/admin/chargers/idtag/", timeout=10)
    page.raise_for_status()
    assert "Select ID tag to change" in page.text, "logged in and on the ID tag list"
    return page.text


def test_start_over_the_api_with_no_tag_configured_charges_the_car(ocpp_server):
    site = make_site()
    make_charger(site=site, charge_point_id="START-TAG-1", password="pw-123456", max_power_w=11000, phases=3)
    token = Token.objects.create(user=make_user(sites=(site,))).key

    async def scenario():
        async with sim_charger(ocpp_server, "START-TAG-1", password="pw-123456", max_current_a=16) as cp:
            await cp.plug_in()
            status, body = await sync_to_async(http_json)(
                ocpp_server, "POST", "/api/v1/chargers/START-TAG-1/start", token=token
            )
            assert (status, body["status"]) == (200, "Accepted"), body
            await cp.wait_for(lambda: cp.answers.get("StartTransaction"), what="StartTransaction answered")
            await cp.wait_for(lambda: cp.draw_a >= 6, timeout=15, what="the car charging")
            return cp

    cp = asyncio.run(scenario())

    assert cp.sent("RemoteStartTransaction") == [{"connectorId": 1, "idTag": REMOTE_ID_TAG}]
    assert [answer["idTagInfo"]["status"] for answer in cp.answers["StartTransaction"]] == ["Accepted"]
    assert "StopTransaction" not in cp.answers, "the charger did not stop DeAuthorized"
    session = ChargingSession.objects.get(charger__charge_point_id="START-TAG-1")
    assert (session.id_tag, session.stopped_at) == (REMOTE_ID_TAG, None)
    assert not IdTag.objects.filter(id_tag=REMOTE_ID_TAG).exists()
    assert REMOTE_ID_TAG not in admin_id_tag_list(ocpp_server)


def test_our_tag_is_accepted_in_authorize_and_an_unknown_card_is_still_listed_as_invalid(ocpp_server):
    site = make_site()
    make_charger(site=site, charge_point_id="START-TAG-2", password="pw-123456")

    async def scenario():
        async with sim_charger(ocpp_server, "START-TAG-2", password="pw-123456") as cp:
            ours = await cp.call("Authorize", {"idTag": REMOTE_ID_TAG})
            stranger = await cp.call("Authorize", {"idTag": "STRANGER-CARD"})
            return ours, stranger

    ours, stranger = asyncio.run(scenario())

    assert ours["idTagInfo"]["status"] == "Accepted"
    assert stranger["idTagInfo"]["status"] == "Invalid"
    assert list(IdTag.objects.values_list("id_tag", "status")) == [("STRANGER-CARD", "Invalid")]
    page = admin_id_tag_list(ocpp_server)
    assert "STRANGER-CARD" in page
    assert REMOTE_ID_TAG not in page
