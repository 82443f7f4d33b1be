"""What is publicly known about chargers' smart charging, as data, and the profile a charger's
limits go out with. Plain data in, data out: no database.

A charger's limit profile is built in layers, each overriding the one before:
what it announced at boot (GetConfiguration), its known quirks (matched on vendor, model and
firmware at boot), what its own rejections taught (learned fallbacks), and the installer's
overrides, which always win.

Each registry entry names its source (an issue thread or the vendor's documentation) and says
in a comment what that source shows. Only what a source supports is in here.
"""

import re
from dataclasses import dataclass, field

# Limit purposes by their OCPP 1.6 names (chargers.protocols.LimitPurpose's values).
CHARGER_MAX = "ChargePointMaxProfile"
TX_DEFAULT = "TxDefaultProfile"
TX = "TxProfile"
# The purpose a limit goes as when the charger refuses its own: the whole charger's default for
# new and running transactions (lbbrhzn/ocpp did the same for ChargePointMaxProfile, PR #312).
# It stands until a profile of higher stack level of that purpose, or a TxProfile, replaces it.
OTHER_PURPOSE = {CHARGER_MAX: TX_DEFAULT, TX: TX_DEFAULT}
# Sent so, the fuse limit stands above the plan (stack level 1) and the car's own limit (2) of that
# purpose, where the charger allows it: within a purpose the highest stack level wins, and fuses
# come first.
OTHER_PURPOSE_STACK_LEVEL = {CHARGER_MAX: 3}
UNITS = ("A", "W")


@dataclass(frozen=True)
class Quirk:
    """One known behaviour of a charger family. `model_prefix` "" matches any model;
    `firmware_below` "" any firmware. The effects change the limit profile; a quirk with none
    is advice for the installer."""

    id: str
    vendor: str
    sentence: str
    source: str
    model_prefix: str = ""
    firmware_below: str = ""
    rate_unit: str | None = None
    max_stack_level: int | None = None
    purposes: tuple[tuple[str, str], ...] = ()

    def matches(self, *, vendor: str, model: str, firmware: str) -> bool:
        if _letters(self.vendor) not in _letters(vendor):  # "EV-BOX" is EVBox, "go-eCharger" go-e
            return False
        if not model.casefold().startswith(self.model_prefix.casefold()):
            return False
        return not self.firmware_below or (
            bool(firmware.strip()) and version_key(firmware) < version_key(self.firmware_below)
        )

    @property
    def changes(self) -> list[str]:
        """What it changes in the profile, in words (empty: advice only)."""
        words = []
        if self.rate_unit:
            words.append(f"limits in {'amps' if self.rate_unit == 'A' else 'watts'}")
        if self.max_stack_level is not None:
            words.append(f"stack level at most {self.max_stack_level}")
        words += [f"{old} sent as {new}" for old, new in self.purposes]
        return words


REGISTRY: tuple[Quirk, ...] = (
    # Source: https://github.com/evcc-io/evcc/issues/15581 (Pulsar Plus, FW 5.17.87:
    # SetChargingProfile rejected; the configuration users report working sets stacklevelzero).
    Quirk(
        id="wallbox-pulsar-stack-level-0",
        vendor="Wallbox",
        model_prefix="PL",
        max_stack_level=0,
        sentence="Wallbox Pulsar chargers reject charging profiles above stack level 0.",
        source="https://github.com/evcc-io/evcc/issues/15581",
    ),
    # Source: https://github.com/evcc-io/evcc/issues/31597 (Pulsar Pro FW 6.13.3 accepts
    # SetChargingProfile yet keeps charging at 9 A; maintainers call the OCPP interface buggy).
    Quirk(
        id="wallbox-accepted-not-applied",
        vendor="Wallbox",
        sentence="Some Wallbox firmware accepts a limit and keeps charging at another current: trust "
        "the measured power, and factory-reset a charger that holds an old profile.",
        source="https://github.com/evcc-io/evcc/issues/31597",
    ),
    # Source: https://developer.easee.cloud/docs/ocpp-smart-charging (Easee supports
    # ChargePointMaxProfile and TxDefaultProfile, not TxProfile; Absolute only; up to 16 periods).
    Quirk(
        id="easee-no-txprofile",
        vendor="Easee",
        purposes=((TX, TX_DEFAULT),),
        sentence="Easee chargers refuse TxProfile: the car's own limit goes as a TxDefaultProfile.",
        source="https://developer.easee.cloud/docs/ocpp-smart-charging",
    ),
    # Source: https://developer.easee.com/docs/ocpp-commissioning-easee-users (native OCPP is
    # switched on per charger through Easee's commissioning API, firmware 328 or later).
    Quirk(
        id="easee-ocpp-commissioning",
        vendor="Easee",
        sentence="Easee's native OCPP is switched on per charger through Easee's commissioning API "
        "(firmware 328 or later); a charger reset by Easee may need it applied again.",
        source="https://developer.easee.com/docs/ocpp-commissioning-easee-users",
    ),
    # Source: https://github.com/OpenEVSE/openevse_esp32_firmware/issues/632 (OpenEVSE did not
    # support ChargingScheduleAllowedChargingRateUnit; a later OCPP update added it).
    Quirk(
        id="openevse-amps",
        vendor="OpenEVSE",
        rate_unit="A",
        sentence="OpenEVSE may not announce the units it takes; limits go in amps.",
        source="https://github.com/OpenEVSE/openevse_esp32_firmware/issues/632",
    ),
    # Source: https://github.com/OpenEVSE/openevse_esp32_firmware/issues/703 (on 4.2.2 the
    # Energy.Active.Import.Register labelled Wh counts kWh: 361 to 362 in 7 minutes at 9.4 kW).
    Quirk(
        id="openevse-energy-in-kwh",
        vendor="OpenEVSE",
        firmware_below="4.2.3",
        sentence="OpenEVSE firmware 4.2.2 and older reports the energy register in kWh while labelling "
        "it Wh: its session energy reads 1000 times too low; update the firmware.",
        source="https://github.com/OpenEVSE/openevse_esp32_firmware/issues/703",
    ),
    # Source: https://github.com/goecharger/go-eCharger-API-v2/issues/249 (Gemini flex, software
    # 56.8: a TxProfile is Accepted but not used) and issues/187 (a profile set at stack level 0
    # answers Unknown to ClearChargingProfile; at stack level 1 it clears).
    Quirk(
        id="go-e-accepted-not-applied",
        vendor="go-e",
        sentence="go-e chargers have accepted profiles they then did not apply, and do not clear one "
        "set at stack level 0: trust the measured power and the held-limit check.",
        source="https://github.com/goecharger/go-eCharger-API-v2/issues/249",
    ),
    # Source: https://github.com/evcc-io/evcc/issues/15493 (Terra AC FW 1.8.0 rejects
    # SetChargingProfile; with stackLevel 0 it is accepted) and lbbrhzn/ocpp#1737 (rejects the
    # ChargePointMaxProfile sent at stack level 3). Neither shows the model string it boots with.
    Quirk(
        id="abb-terra-ac-stack-level-0",
        vendor="ABB",
        max_stack_level=0,
        sentence="ABB Terra AC (firmware 1.8) rejects charging profiles above stack level 0.",
        source="https://github.com/evcc-io/evcc/issues/15493",
    ),
    # Source: https://github.com/lbbrhzn/ocpp/issues/221 (EVBox Elvi rejects
    # ChargePointMaxProfile, announces ChargeProfileMaxStackLevel 0 and Current only; the
    # integration then sent the limit as TxDefaultProfile, PR #312).
    Quirk(
        id="evbox-no-chargepointmax",
        vendor="EVBox",
        rate_unit="A",
        max_stack_level=0,
        purposes=((CHARGER_MAX, TX_DEFAULT),),
        sentence="EVBox Elvi rejects ChargePointMaxProfile: the fuse limit goes as a TxDefaultProfile, "
        "in amps at stack level 0.",
        source="https://github.com/lbbrhzn/ocpp/issues/221",
    ),
)
BY_ID = {quirk.id: quirk for quirk in REGISTRY}


def _letters(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.casefold())


def version_key(version: str) -> tuple[int, ...]:
    """A firmware version's numbers in order, for comparing ("5.17.87" < "6.13.3")."""
    return tuple(int(number) for number in re.findall(r"\d+", version))


def quirks_for(vendor: str, model: str, firmware: str) -> list[Quirk]:
    """The registry entries a charger's BootNotification matches."""
    return [
        quirk for quirk in REGISTRY if quirk.matches(vendor=vendor or "", model=model or "", firmware=firmware or "")
    ]


def quirks_by_id(ids: list[str]) -> list[Quirk]:
    """Stored ids back to entries; an id dropped from the registry is skipped."""
    return [BY_ID[quirk_id] for quirk_id in ids if quirk_id in BY_ID]


@dataclass(frozen=True)
class LimitProfile:
    """What a charger's limits go out with: unit, highest stack level, and the purposes it
    takes instead of those it refuses."""

    rate_unit: str = "A"
    max_stack_level: int | None = None
    purposes: dict[str, str] = field(default_factory=dict)

    def stack_level(self, wanted: int, purpose: str = "") -> int:
        """The wanted stack level (another one for a purpose sent as another), clamped."""
        if purpose and self.purpose(purpose) != purpose:
            wanted = OTHER_PURPOSE_STACK_LEVEL.get(purpose, wanted)
        return wanted if self.max_stack_level is None else min(wanted, self.max_stack_level)

    def purpose(self, purpose: str) -> str:
        return self.purposes.get(purpose, purpose)


def probed_rate_unit(charging_rate_units: str) -> str:
    """Amps unless the charger says it takes watts only: every smart charger takes amps."""
    units = charging_rate_units.split(",")
    return "W" if "Power" in units and "Current" not in units else "A"


def limit_profile(
    *,
    charging_rate_units: str = "",
    max_stack_level: int | None = None,
    quirk_ids: list[str] | tuple[str, ...] = (),
    fallbacks: dict | None = None,
    rate_unit_override: str = "",
    max_stack_level_override: int | None = None,
) -> LimitProfile:
    """Probed values, then quirks, then learned fallbacks, then the installer's overrides."""
    unit = probed_rate_unit(charging_rate_units)
    stack = max_stack_level
    purposes: dict[str, str] = {}
    for quirk in quirks_by_id(list(quirk_ids)):
        unit = quirk.rate_unit or unit
        if quirk.max_stack_level is not None:
            stack = quirk.max_stack_level if stack is None else min(stack, quirk.max_stack_level)
        purposes.update(quirk.purposes)
    learned = fallbacks or {}
    if learned.get("rate_unit") in UNITS:
        unit = learned["rate_unit"]
    if isinstance(learned.get("max_stack_level"), int):
        stack = learned["max_stack_level"]
    purposes.update({old: new for old, new in (learned.get("purposes") or {}).items() if old in OTHER_PURPOSE})
    if rate_unit_override:
        unit = rate_unit_override
    if max_stack_level_override is not None:
        stack = max_stack_level_override
    return LimitProfile(rate_unit=unit, max_stack_level=stack, purposes=purposes)


@dataclass(frozen=True)
class Fallback:
    """The next thing to try after a refused or ignored limit: `learned` is the charger's new
    fallbacks (what limit_profile reads), `change` says what changed, in words."""

    learned: dict
    change: str


def next_fallback(
    fallbacks: dict,
    *,
    purpose: str,
    profile: LimitProfile,
    charging_rate_units: str = "",
    unit_fixed: bool = False,
    stack_fixed: bool = False,
) -> Fallback | None:
    """Other unit (watts only when the charger announced Power), then stack level 0, then
    another purpose for the refused one; each tried once. None: nothing left to try. What the
    installer fixed by an override is not second-guessed."""
    learned = {key: value for key, value in fallbacks.items() if key in ("rate_unit", "max_stack_level", "purposes")}
    other_unit = "A" if profile.rate_unit == "W" else "W"
    unit_possible = other_unit == "A" or "Power" in charging_rate_units.split(",")
    if not unit_fixed and "rate_unit" not in learned and unit_possible:
        return Fallback({**learned, "rate_unit": other_unit}, f"limits in {'amps' if other_unit == 'A' else 'watts'}")
    if not stack_fixed and "max_stack_level" not in learned and profile.max_stack_level != 0:
        return Fallback({**learned, "max_stack_level": 0}, "profiles at stack level 0")
    wire = profile.purpose(purpose)
    purposes = dict(learned.get("purposes") or {})
    if purpose in OTHER_PURPOSE and wire == purpose and purpose not in purposes:
        return Fallback(
            {**learned, "purposes": {**purposes, purpose: OTHER_PURPOSE[purpose]}},
            f"{purpose} sent as {OTHER_PURPOSE[purpose]}",
        )
    return None


def learned_in_words(fallbacks: dict) -> list[str]:
    """Each learned fallback as installers read it: when, why, and what changed."""
    return [
        f"{str(step.get('at', ''))[:16].replace('T', ' ')} UTC: {step.get('why', '?')}, so {step.get('change', '?')}"
        for step in (fallbacks or {}).get("steps") or []
    ]
