"""chargers/services.py connection_decide and the password check: the door's rules as tables,
without a database or a socket."""

import pytest

from chargers import credentials
from chargers.admission import RefusalKind
from chargers.credentials import charger_password_check, charger_password_hash
from chargers.models import Charger
from chargers.services import connection_decide, password_check_needed


def charger(**fields) -> Charger:
    return Charger(**{"pk": 7, "charge_point_id": "garage", "site_id": 3, "password_hash": "x", **fields})


CASES = [
    # (case, url id, credentials, charger, password right, refusal or None)
    ("the right password", "garage", ("garage", "pw"), charger(), True, None),
    ("a wrong password", "garage", ("garage", "pw"), charger(), False, RefusalKind.WRONG_PASSWORD),
    ("no credentials", "garage", None, charger(), False, RefusalKind.MISSING_CREDENTIALS),
    ("the user is another id", "garage", ("driveway", "pw"), charger(), True, RefusalKind.USER_MISMATCH),
    ("an unknown id", "garage", ("garage", "pw"), None, False, RefusalKind.UNKNOWN_ID),
    ("a NUL in the id", "gar\x00age", None, None, False, RefusalKind.UNKNOWN_ID),
    ("a slash in the id", "../admin", None, None, False, RefusalKind.UNKNOWN_ID),
    ("a disabled charger", "garage", ("garage", "pw"), charger(enabled=False), True, RefusalKind.DISABLED),
    ("no credentials configured", "garage", None, charger(password_hash=""), False, None),
]


@pytest.mark.parametrize(
    ("case", "url_id", "given", "known", "password_right", "refusal"), CASES, ids=[c[0] for c in CASES]
)
def test_who_may_connect(case, url_id, given, known, password_right, refusal):
    decision = connection_decide(
        charge_point_id=url_id,
        credentials=given,
        offered_subprotocols=["ocpp1.6"],
        charger=known,
        password_right=password_right,
    )
    assert decision.accepted is (refusal is None)
    assert decision.refusal == refusal


@pytest.mark.parametrize(
    ("case", "known", "needed"),
    [
        ("an unknown id", None, True),
        ("a charger with a password", charger(), True),
        ("a charger with a password from the environment", charger(password_hash="", password_env="PW"), True),
        ("a disabled charger without one", charger(password_hash="", enabled=False), True),
        ("an enabled charger without one (let in anyway)", charger(password_hash=""), False),
    ],
)
def test_the_password_is_checked_whenever_the_answer_could_tell_an_id_exists(case, known, needed):
    assert password_check_needed(known) is needed


@pytest.mark.parametrize(
    ("case", "password", "password_hash", "password_env"),
    [
        ("a known id", "guess", charger_password_hash("right"), ""),
        ("an unknown id", "guess", "", ""),
        ("a password from the environment", "guess", "", "PW_SOMEWHERE"),
        ("no password given", None, "", ""),
    ],
)
def test_every_check_computes_exactly_one_password_hash(monkeypatch, case, password, password_hash, password_env):
    credentials._stand_in_hash()  # made once per process, not per check
    checks = []
    original = credentials.check_password
    monkeypatch.setattr(credentials, "check_password", lambda *a: checks.append(a) or original(*a))
    assert not charger_password_check(password=password, password_hash=password_hash, password_env=password_env)
    assert len(checks) == 1
