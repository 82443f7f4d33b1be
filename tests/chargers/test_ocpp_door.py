"""The door against an attacker, on the live server: guesses throttled per address and id,
refusals counted instead of written one by one, pending claims capped and rejectable.

Attackers connect from their own loopback addresses (127.0.0.x), as a real one would from its
own: the charger under attack still connects from its address."""

import asyncio

import pytest
import websockets
from django.db.models import Sum
from django.urls import reverse

from chargers.admission import ADDRESS_RULE, ANY_CHARGER_ID, PAIR_RULE
from chargers.models import Charger, ChargerEvent
from chargers.services import MAX_PENDING_CHARGERS_PER_SITE
from tests.factories import make_charger, make_site
from tests.ocpp_client import TIMEOUT_S, basic_auth, eventually

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "garage-secret-1"
# The refusal counts reach their rows every few seconds (chargers/door.py).
STORED_WITHIN_S = 15


async def knock(server, charge_point_id: str, *, password: str | None, address: str) -> int:
    """One handshake from `address`; its HTTP status (101 when accepted)."""
    headers = basic_auth(charge_point_id, password) if password is not None else {}
    try:
        ws = await websockets.connect(
            f"{server.ws_url}/ocpp/{charge_point_id}",
            subprotocols=["ocpp1.6"],
            additional_headers=headers,
            open_timeout=TIMEOUT_S,
            local_addr=(address, 0),
        )
    except websockets.InvalidStatus as refused:
        return refused.response.status_code
    await ws.close()
    return 101


def knocks(server, attempts: list[tuple[str, str | None, str]]) -> list[int]:
    """(charger id, password, address) one after the other, as a guessing script would."""

    async def run() -> list[int]:
        return [await knock(server, cp, password=pw, address=addr) for cp, pw, addr in attempts]

    return asyncio.run(run())


def refusals(**filters):
    return ChargerEvent.objects.filter(kind=ChargerEvent.Kind.REFUSED, **filters)


def test_the_guess_after_the_limit_is_refused_unchecked_and_the_real_charger_still_connects(ocpp_server):
    make_charger(charge_point_id="garage-under-attack", password=PASSWORD)
    guesses = [("garage-under-attack", f"guess-{n}", "127.0.0.11") for n in range(PAIR_RULE.max_failures)]
    # After the limit even the right password is not checked from the guessing address...
    statuses = knocks(ocpp_server, [*guesses, ("garage-under-attack", PASSWORD, "127.0.0.11")])
    assert statuses == [403] * (PAIR_RULE.max_failures + 1)
    # ...while the charger itself, from its own address, connects.
    assert knocks(ocpp_server, [("garage-under-attack", PASSWORD, "127.0.0.12")]) == [101]

    wrong = refusals(charge_point_id="garage-under-attack", message="wrong password").get()
    assert wrong.remote_address == "127.0.0.11"
    throttled = refusals(charge_point_id="garage-under-attack", message__contains="without checking the password")
    assert throttled.get().remote_address == "127.0.0.11"
    assert eventually(
        lambda: refusals(charge_point_id="garage-under-attack").aggregate(n=Sum("count"))["n"] == 6, STORED_WITHIN_S
    )
    assert "127.0.0.11 (garage-under-attack) failed too often for this id" in ocpp_server.log_path.read_text()


def test_an_address_scanning_ids_is_refused_whatever_the_id(ocpp_server):
    make_charger(charge_point_id="garage-scanned", password=PASSWORD)
    scan = [(f"scan-{n}", "guess", "127.0.0.13") for n in range(ADDRESS_RULE.max_failures)]
    statuses = knocks(ocpp_server, [*scan, ("garage-scanned", PASSWORD, "127.0.0.13")])
    assert statuses == [403] * (ADDRESS_RULE.max_failures + 1)
    assert refusals(charge_point_id=ANY_CHARGER_ID, remote_address="127.0.0.13").get().count == 1
    assert knocks(ocpp_server, [("garage-scanned", PASSWORD, "127.0.0.14")]) == [101]


def test_300_refused_handshakes_write_a_handful_of_rows_that_count_them_all(ocpp_server):
    make_charger(charge_point_id="garage-hammered", password=PASSWORD)
    statuses = knocks(ocpp_server, [("garage-hammered", "guess", "127.0.0.15")] * 300)
    assert statuses == [403] * 300

    rows = refusals(remote_address="127.0.0.15")
    assert eventually(lambda: rows.aggregate(n=Sum("count"))["n"] == 300, STORED_WITHIN_S)
    # Wrong passwords, then throttled ones: a row each per minute (a minute boundary may split them).
    assert rows.count() <= 4
    # The lockout is logged once for the burst, not once per refusal.
    assert ocpp_server.log_path.read_text().count("127.0.0.15 (garage-hammered) failed too often") == 1


def test_an_id_scan_of_300_writes_rows_per_id_only_until_the_address_is_locked(ocpp_server):
    statuses = knocks(ocpp_server, [(f"nobody-{n}", "guess", "127.0.0.16") for n in range(300)])
    assert statuses == [403] * 300

    rows = refusals(remote_address="127.0.0.16")
    assert eventually(lambda: rows.aggregate(n=Sum("count"))["n"] == 300, STORED_WITHIN_S)
    assert rows.count() <= 2 * (ADDRESS_RULE.max_failures + 1)
    assert not Charger.objects.exists()


def test_a_site_accepting_unknown_chargers_keeps_only_so_many_pending(ocpp_server):
    make_site(accept_unknown_chargers=True)
    over = 5
    claims = [(f"claimed-{n}", "attacker", f"127.0.1.{n}") for n in range(MAX_PENDING_CHARGERS_PER_SITE + over)]
    statuses = knocks(ocpp_server, claims)
    assert statuses == [101] * MAX_PENDING_CHARGERS_PER_SITE + [403] * over
    assert Charger.objects.filter(registration=Charger.Registration.PENDING).count() == MAX_PENDING_CHARGERS_PER_SITE
    refused = refusals(message__contains="already wait for approval")
    assert refused.count() == over
    assert {row.remote_address for row in refused} == {f"127.0.1.{n}" for n in range(20, 25)}


def test_an_installer_rejects_a_claimed_id_and_the_real_charger_then_registers(ocpp_server, admin_client):
    make_site(accept_unknown_chargers=True)
    assert knocks(ocpp_server, [("driveway-claimed", "attacker-password", "127.0.0.17")]) == [101]
    claimed = Charger.objects.get(charge_point_id="driveway-claimed")
    assert eventually(lambda: Charger.objects.get(pk=claimed.pk).remote_address == "127.0.0.17")
    # The real charger's password is not the claimant's.
    assert knocks(ocpp_server, [("driveway-claimed", "real-password", "127.0.0.18")]) == [403]

    changelist = reverse("admin:chargers_charger_changelist")
    assert "127.0.0.17" in admin_client.get(changelist + "?registration__exact=pending").content.decode()
    response = admin_client.post(changelist, {"action": "reject_claim", "_selected_action": [claimed.pk]}, follow=True)
    assert "Rejected driveway-claimed (from 127.0.0.17); the ids are free again." in response.content.decode()
    assert not Charger.objects.filter(pk=claimed.pk).exists()
    rejected = ChargerEvent.objects.get(kind=ChargerEvent.Kind.CLAIM_REJECTED)
    assert rejected.charge_point_id == "driveway-claimed" and rejected.remote_address == "127.0.0.17"
    assert "rejected by admin" in rejected.message

    assert knocks(ocpp_server, [("driveway-claimed", "real-password", "127.0.0.18")]) == [101]
    assert Charger.objects.get(charge_point_id="driveway-claimed").registration == Charger.Registration.PENDING


def test_rejecting_leaves_accepted_chargers_alone(admin_client):
    accepted = make_charger()
    response = admin_client.post(
        reverse("admin:chargers_charger_changelist"),
        {"action": "reject_claim", "_selected_action": [accepted.pk]},
        follow=True,
    )
    assert "None of the selected chargers was pending approval." in response.content.decode()
    assert Charger.objects.filter(pk=accepted.pk).exists()
