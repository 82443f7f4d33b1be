"""Known charger quirks: a boot with a vendor and model gets that limit profile (plain data), and
a charger that boots over a real WebSocket stores its quirks and sends its limits with them."""

import asyncio
import datetime as dt

import pytest

from chargers.models import Charger, ChargerEvent
from chargers.protocols import LimitPurpose
from chargers.protocols.ocpp16 import limit_clear, limit_set
from chargers.quirks import REGISTRY, LimitProfile, learned_in_words, limit_profile, next_fallback, quirks_for
from chargers.services import charger_boot, charger_limit_fallback_next
from tests.chargepoint_sim import sim_charger
from tests.factories import make_charger


def profile_at_boot(vendor: str, model: str, firmware: str, **probed) -> LimitProfile:
    ids = [quirk.id for quirk in quirks_for(vendor, model, firmware)]
    return limit_profile(quirk_ids=ids, **probed)


@pytest.mark.parametrize(
    ("vendor", "model", "firmware", "probed", "expected"),
    [
        # Wallbox Pulsar: stack level 0 whatever it announced.
        ("Wallbox", "PLP1-0-2-4-9-002", "5.17.87", {"max_stack_level": 8}, LimitProfile("A", 0)),
        ("WALLBOX", "plp1", "6.13.3", {"charging_rate_units": "Current,Power"}, LimitProfile("A", 0)),
        # Another Wallbox model gets only the advice, not the stack level.
        ("Wallbox", "CMX2", "6.0", {"max_stack_level": 8}, LimitProfile("A", 8)),
        # Easee: the car's own limit (TxProfile) goes as a TxDefaultProfile.
        ("Easee", "Home", "328", {}, LimitProfile("A", None, {"TxProfile": "TxDefaultProfile"})),
        # OpenEVSE: amps even where it announced watts only.
        ("OpenEVSE", "openevse_wifi_v1", "4.1.0", {"charging_rate_units": "Power"}, LimitProfile("A", None)),
        # ABB Terra AC: stack level 0.
        ("ABB", "TAC-W11-G5-R0", "1.8.0", {"max_stack_level": 3}, LimitProfile("A", 0)),
        # EVBox: the fuse limit as a TxDefaultProfile, in amps at stack level 0.
        (
            "EVBox",
            "Elvi",
            "1.0",
            {"charging_rate_units": "Power", "max_stack_level": 8},
            LimitProfile("A", 0, {"ChargePointMaxProfile": "TxDefaultProfile"}),
        ),
        # Vendors as they spell themselves: "EV-BOX" is EVBox.
        ("EV-BOX", "Elvi", "", {}, LimitProfile("A", 0, {"ChargePointMaxProfile": "TxDefaultProfile"})),
        # go-e: advice only; an unknown charger: what it announced.
        ("go-e", "Gemini flex 11", "56.8", {"charging_rate_units": "Power"}, LimitProfile("W", None)),
        ("SimVendor", "Sim 22", "1.0", {"max_stack_level": 8}, LimitProfile("A", 8)),
    ],
)
def test_a_boot_with_a_known_vendor_and_model_gets_its_profile(vendor, model, firmware, probed, expected):
    assert profile_at_boot(vendor, model, firmware, **probed) == expected


@pytest.mark.parametrize(
    ("firmware", "matched"),
    [("4.2.2", True), ("4.1", True), ("4.2.3", False), ("5.0.0", False), ("", False)],
)
def test_a_firmware_quirk_matches_only_the_firmware_it_was_seen_on(firmware, matched):
    ids = [quirk.id for quirk in quirks_for("OpenEVSE", "any", firmware)]
    assert ("openevse-energy-in-kwh" in ids) is matched


def test_the_installers_overrides_win_over_quirks_and_learned_fallbacks():
    profile = limit_profile(
        charging_rate_units="Power",
        max_stack_level=8,
        quirk_ids=["wallbox-pulsar-stack-level-0"],
        fallbacks={"rate_unit": "A", "max_stack_level": 1},
        rate_unit_override="W",
        max_stack_level_override=4,
    )
    assert (profile.rate_unit, profile.max_stack_level) == ("W", 4)


def test_learned_fallbacks_win_over_quirks_and_the_probe():
    profile = limit_profile(
        charging_rate_units="Power",
        max_stack_level=8,
        quirk_ids=["easee-no-txprofile", "an-id-no-longer-in-the-registry"],
        fallbacks={"rate_unit": "A", "purposes": {"ChargePointMaxProfile": "TxDefaultProfile", "Bogus": "x"}},
    )
    assert profile == LimitProfile(
        "A", 8, {"TxProfile": "TxDefaultProfile", "ChargePointMaxProfile": "TxDefaultProfile"}
    )


def test_every_registry_entry_names_a_source_and_a_sentence():
    assert len({quirk.id for quirk in REGISTRY}) == len(REGISTRY)
    for quirk in REGISTRY:
        assert quirk.source.startswith("https://"), quirk.id
        assert quirk.sentence.endswith("."), quirk.id


def walk_fallbacks(*, charging_rate_units: str, max_stack_level: int | None, purpose: str, **fixed) -> list[str]:
    """Every fallback a charger that refuses everything goes through, in order."""
    learned: dict = {}
    changes = []
    while True:
        profile = limit_profile(
            charging_rate_units=charging_rate_units, max_stack_level=max_stack_level, fallbacks=learned
        )
        step = next_fallback(
            learned, purpose=purpose, profile=profile, charging_rate_units=charging_rate_units, **fixed
        )
        if step is None:
            return changes
        learned = step.learned
        changes.append(step.change)


@pytest.mark.parametrize(
    ("units", "stack", "purpose", "fixed", "expected"),
    [
        # Watts refused: amps, then stack level 0, then the fuse limit as a TxDefaultProfile.
        (
            "Power",
            8,
            "ChargePointMaxProfile",
            {},
            ["limits in amps", "profiles at stack level 0", "ChargePointMaxProfile sent as TxDefaultProfile"],
        ),
        # Amps refused by a charger that announced watts too: watts.
        ("Current,Power", 0, "TxProfile", {}, ["limits in watts", "TxProfile sent as TxDefaultProfile"]),
        # A charger that announced amps only is not sent watts; the plan has no other purpose.
        ("Current", 8, "TxDefaultProfile", {}, ["profiles at stack level 0"]),
        # What the installer fixed is not second-guessed.
        ("Power", 8, "TxDefaultProfile", {"unit_fixed": True, "stack_fixed": True}, []),
    ],
)
def test_fallbacks_try_the_other_unit_then_stack_level_0_then_another_purpose(units, stack, purpose, fixed, expected):
    assert walk_fallbacks(charging_rate_units=units, max_stack_level=stack, purpose=purpose, **fixed) == expected


def boot_and_clear(server, charge_point_id: str, **options) -> dict:
    """Boot a charger; the server clears any plan it kept from before (TxDefaultProfile, stack
    level 1 of the charger's own). Returns that ClearChargingProfile."""

    async def scenario():
        async with sim_charger(server, charge_point_id, password="pw-123456", **options) as cp:
            await cp.wait_for(lambda: cp.sent("ClearChargingProfile"), what="the boot's clear")
            return cp.sent("ClearChargingProfile")[0]

    return asyncio.run(scenario())


@pytest.mark.django_db(transaction=True)
def test_a_wallbox_pulsar_booting_over_a_websocket_gets_its_quirk_and_its_profiles_use_it(ocpp_server):
    make_charger(charge_point_id="QUIRK-1", password="pw-123456", max_power_w=7400, phases=1)

    cleared = boot_and_clear(ocpp_server, "QUIRK-1", vendor="Wallbox", model="PLP1-0-2-4-9-002", phases=1)

    charger = Charger.objects.get(charge_point_id="QUIRK-1")
    assert charger.quirks == ["wallbox-pulsar-stack-level-0", "wallbox-accepted-not-applied"]
    # It announced ChargeProfileMaxStackLevel 8; the quirk holds its profiles at stack level 0.
    assert charger.max_stack_level == 8
    assert cleared == {"chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 0}
    boot = ChargerEvent.objects.filter(charger=charger, kind=ChargerEvent.Kind.BOOT).first()
    assert "reject charging profiles above stack level 0" in boot.message
    assert boot.payload == {"quirks": charger.quirks}


@pytest.mark.django_db(transaction=True)
def test_an_unknown_charger_boots_without_quirks_and_keeps_its_announced_stack_levels(ocpp_server):
    make_charger(charge_point_id="QUIRK-2", password="pw-123456")

    cleared = boot_and_clear(ocpp_server, "QUIRK-2")

    assert Charger.objects.get(charge_point_id="QUIRK-2").quirks == []
    assert cleared == {"chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 1}


def test_learned_fallbacks_read_in_words():
    learned = {
        "rate_unit": "A",
        "steps": [
            {"at": "2026-12-06T10:01:55.123+00:00", "why": "ChargePointMaxProfile Rejected", "change": "limits in amps"}
        ],
    }
    assert learned_in_words(learned) == ["2026-12-06 10:01 UTC: ChargePointMaxProfile Rejected, so limits in amps"]
    assert learned_in_words({}) == []


NOW = dt.datetime(2026, 12, 6, 10, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("quirks", "fallbacks", "max_stack_level", "purpose", "expected"),
    [
        # EVBox: the fuse limit as a TxDefaultProfile, at the stack level 0 it allows.
        (["evbox-no-chargepointmax"], {}, 8, "ChargePointMaxProfile", ("TxDefaultProfile", 0, None)),
        # Learned: the fuse limit as a TxDefaultProfile above the plan (1) and the car's own (2).
        (
            [],
            {"purposes": {"ChargePointMaxProfile": "TxDefaultProfile"}},
            8,
            "ChargePointMaxProfile",
            ("TxDefaultProfile", 3, None),
        ),
        # Easee: the car's own limit as a TxDefaultProfile on its connector, naming no transaction.
        (["easee-no-txprofile"], {}, 8, "TxProfile", ("TxDefaultProfile", 2, None)),
        # Nothing known: the purpose's own, on its transaction.
        ([], {}, 8, "TxProfile", ("TxProfile", 2, 7)),
    ],
)
def test_a_limit_goes_as_the_purpose_and_stack_level_the_charger_takes(
    quirks, fallbacks, max_stack_level, purpose, expected
):
    charger = Charger(phases=1, max_stack_level=max_stack_level, quirks=quirks, limit_fallbacks=fallbacks)
    call = limit_set(
        charger=charger, purpose=LimitPurpose(purpose), limit_w=3000, now=NOW, connector_id=1, transaction_id=7
    )
    profile = call.payload["csChargingProfiles"]
    assert (profile["chargingProfilePurpose"], profile["stackLevel"], profile.get("transactionId")) == expected
    cleared = limit_clear(charger=charger, purpose=LimitPurpose(purpose)).payload
    assert (cleared["chargingProfilePurpose"], cleared["stackLevel"]) == expected[:2]


@pytest.mark.django_db(transaction=True)
def test_a_charger_that_refuses_every_fallback_starts_again_from_its_configuration():
    charger = make_charger(charging_rate_units="Current,Power", max_stack_level=8)
    why = "ChargePointMaxProfile Rejected"

    changes = [charger_limit_fallback_next(charger_pk=charger.pk, why=why) for _ in range(4)]

    assert changes == [
        "limits in watts",
        "profiles at stack level 0",
        "ChargePointMaxProfile sent as TxDefaultProfile",
        None,
    ]
    charger.refresh_from_db()
    assert charger.limit_fallbacks == {} and charger.limit_rate_unit == "A"
    last = ChargerEvent.objects.filter(charger=charger, kind=ChargerEvent.Kind.PROFILE_MISMATCH).first()
    assert last.message == f"{why}: every fallback was tried; its limits go out again as its configuration says."


@pytest.mark.django_db(transaction=True)
def test_new_firmware_forgets_the_learned_fallbacks_and_the_same_firmware_keeps_them():
    charger = make_charger(charging_rate_units="Current,Power")
    boot = {"vendor": "SimVendor", "model": "Sim 22", "firmware_version": "1.0"}
    charger_boot(charger_pk=charger.pk, boot_info=boot)
    charger_limit_fallback_next(charger_pk=charger.pk, why="ChargePointMaxProfile Rejected")

    charger_boot(charger_pk=charger.pk, boot_info=boot)
    assert Charger.objects.get(pk=charger.pk).limit_fallbacks["rate_unit"] == "W"

    charger_boot(charger_pk=charger.pk, boot_info={**boot, "firmware_version": "1.1"})
    assert Charger.objects.get(pk=charger.pk).limit_fallbacks == {}
    event = ChargerEvent.objects.filter(charger=charger, kind=ChargerEvent.Kind.BOOT).first()
    assert "New firmware: the profile fallbacks learned before are forgotten." in event.message
