"""The Now page's card with troubleshooting's findings (sessions/pages.now_diagnosed): which
sentence the homeowner reads, by table, without a database."""

import pytest

from energy.troubleshooting import Diagnosis, Status, Symptom
from sessions.pages import ChargerNow, now_diagnosed

REFUSED = Diagnosis(Symptom.CONNECTION_REFUSED, Status.PROBLEM, "…", "…", homeowner="The charger cannot connect.")
LOOP = Diagnosis(Symptom.RECONNECT_LOOP, Status.PROBLEM, "…", "…", homeowner="It keeps losing its connection.")
TAG = Diagnosis(Symptom.WONT_START, Status.PROBLEM, "…", "…", homeowner="The start tag X was refused.")
PAUSED = Diagnosis(Symptom.WONT_START, Status.PROBLEM, "A 0 A limit…", "…")  # the card says the limit's sentence
IGNORED = Diagnosis(Symptom.LIMIT_NOT_APPLIED, Status.PROBLEM, "…", "…", homeowner="The charger ignores its limit.")
FINE = Diagnosis(Symptom.WONT_START, Status.OK, "A session is running.", "")


def card(*, connected: bool, reason: str | None) -> ChargerNow:
    fields = dict.fromkeys(ChargerNow.__dataclass_fields__)
    return ChargerNow(**(fields | {"connected": connected, "reason": reason, "limit_problem": ""}))


@pytest.mark.parametrize(
    ("connected", "reason", "findings", "said", "limit_problem"),
    [
        (False, "The charger is offline.", [REFUSED, LOOP], "The charger cannot connect.", ""),
        (False, "The charger is offline.", [LOOP], "It keeps losing its connection.", ""),
        (False, "The charger is offline.", [TAG], "The charger is offline.", ""),
        (True, "Charging has finished.", [TAG], "The start tag X was refused.", ""),
        (True, "Solar surplus is short.", [PAUSED], "Solar surplus is short.", ""),
        (True, None, [TAG], None, ""),  # charging: nothing in the way
        (True, None, [FINE, IGNORED], None, "The charger ignores its limit."),
    ],
)
def test_the_card_says_what_troubleshooting_knows_better(connected, reason, findings, said, limit_problem):
    diagnosed = now_diagnosed(card(connected=connected, reason=reason), findings)
    assert (diagnosed.reason, diagnosed.limit_problem) == (said, limit_problem)
