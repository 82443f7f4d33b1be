"""How troubleshooting reads the logs (energy/diagnosis.py): each refusal the door decides names
its cause by the kind stored with the row; each way a connection ends names its cause; a
mistyped id is taken as the charger's. No database."""

import pytest

from chargers.admission import RefusalKind, security_refusal
from chargers.models import Charger, ChargerEvent
from chargers.services import connection_decide
from energy.diagnosis import REFUSAL_CAUSES, disconnect_cause, ids_alike, refusal_cause
from energy.troubleshooting import DisconnectCause, RefusalCause

KNOWN = Charger(pk=1, charge_point_id="GARAGE-1", password_hash="x", site_id=1)


def decided(charge_point_id="GARAGE-1", *, credentials=("GARAGE-1", "pw"), offered=("ocpp1.6",), charger=KNOWN,
            password_right=True):  # fmt: skip
    return connection_decide(
        charge_point_id=charge_point_id,
        credentials=credentials,
        offered_subprotocols=list(offered),
        charger=charger,
        password_right=password_right,
    )


@pytest.mark.parametrize(
    ("decision", "cause"),
    [
        (decided(password_right=False), RefusalCause.WRONG_PASSWORD),
        (decided(credentials=None), RefusalCause.MISSING_PASSWORD),
        (decided(charger=None), RefusalCause.UNKNOWN_ID),
        (decided("bad id", credentials=None, charger=None), RefusalCause.UNKNOWN_ID),
        (decided(credentials=("OTHER", "pw")), RefusalCause.USER_MISMATCH),
        (decided(offered=("ocpp1.5",)), RefusalCause.SUBPROTOCOL),
        (decided(charger=Charger(pk=1, charge_point_id="GARAGE-1", enabled=False, site_id=1)), RefusalCause.DISABLED),
    ],
)
def test_each_refusal_of_the_door_names_its_cause(decision, cause):
    assert not decision.accepted
    assert refusal_cause({"refusal": str(decision.refusal)}) is cause


@pytest.mark.parametrize(
    ("refusal", "cause"),
    [
        (
            security_refusal(tls_required=True, certificate_required=False, tls=False, certificate_problem=None),
            RefusalCause.NO_TLS,
        ),
        (
            security_refusal(tls_required=True, certificate_required=True, tls=True, certificate_problem="expired"),
            RefusalCause.CERTIFICATE,
        ),
    ],
)
def test_security_refusals_name_their_cause(refusal, cause):
    kind, _ = refusal
    assert refusal_cause({"refusal": str(kind)}) is cause


@pytest.mark.parametrize(
    ("payload", "cause"),
    [
        ({"refusal": "wrong URL path"}, RefusalCause.WRONG_PATH),
        ({"refusal": "throttled"}, RefusalCause.THROTTLED),
        ({"refusal": "something new"}, RefusalCause.OTHER),
        (None, RefusalCause.OTHER),
    ],
)
def test_other_refusals(payload, cause):
    assert refusal_cause(payload) is cause


def test_every_refusal_kind_has_a_cause():
    assert set(REFUSAL_CAUSES) == set(RefusalKind)


@pytest.mark.parametrize(
    ("kind", "message", "cause"),
    [
        (ChargerEvent.Kind.DISCONNECTED, "closed (code 1000)", DisconnectCause.CLOSED),
        (ChargerEvent.Kind.DISCONNECTED, "closed (code 1006)", DisconnectCause.ABNORMAL),
        (ChargerEvent.Kind.DISCONNECTED, "closed (code None)", DisconnectCause.ABNORMAL),
        (ChargerEvent.Kind.DISCONNECTED, "closed (code 1013)", DisconnectCause.SERVER),
        (ChargerEvent.Kind.DISCONNECTED, "closed (code 4003)", DisconnectCause.CLAIM_REJECTED),
        (ChargerEvent.Kind.DISCONNECTED, "old connection closed (code 4000); a newer one is live",
         DisconnectCause.REPLACED),
        (ChargerEvent.Kind.REPLACED, "a new connection with this charger id replaced this one",
         DisconnectCause.REPLACED),
        (ChargerEvent.Kind.STALE, "no message for 330 s", DisconnectCause.SILENT),
    ],
)  # fmt: skip
def test_each_way_a_connection_ends_names_its_cause(kind, message, cause):
    assert disconnect_cause(kind, message) is cause


@pytest.mark.parametrize(
    ("presented", "alike"),
    [
        ("GARAGE-1", True),
        ("garage-1", True),
        ("GARAGE_1", True),
        ("GARAGE1", True),
        ("CP7", False),
        ("(any id)", False),
    ],
)
def test_a_mistyped_id_is_taken_as_the_chargers(presented, alike):
    assert ids_alike(presented, "GARAGE-1") is alike
