"""OCPP 2.0.1 idTokens are case-insensitive: which stored ID tag a presented token names."""

import pytest

from sessions.services import id_tag_spelling


@pytest.mark.parametrize(
    ("id_token", "known", "expected"),
    [
        ("04A2B3C4", ["04A2B3C4"], "04A2B3C4"),
        ("04a2b3c4", ["04A2B3C4"], "04A2B3C4"),  # a hex UID read in lower case
        ("04A2B3C4", ["04a2b3c4"], "04a2b3c4"),
        ("04a2b3c4", ["04A2B3C4", "04a2b3c4"], "04a2b3c4"),  # the exact spelling wins
        ("04A2b3C4", ["04A2B3C4", "04a2b3c4"], "04A2B3C4"),  # else the first listed
        ("graylogic", ["GrayLogic"], "GrayLogic"),
        ("NEW-CARD", ["04A2B3C4"], "NEW-CARD"),  # unknown: kept as presented
        ("NEW-CARD", [], "NEW-CARD"),
    ],
)
def test_a_token_names_the_tag_spelt_alike_but_for_case(id_token, known, expected):
    assert id_tag_spelling(id_token, known) == expected
