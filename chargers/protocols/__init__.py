"""What every protocol module builds from: the calls the domain makes to a connected charger,
in words of no OCPP version. chargers.link picks the module by the charger's protocol; OCPP 1.6
is ocpp16.py, and 2.0.1 will be a module beside it building the same calls."""

from dataclasses import dataclass
from enum import StrEnum


class LimitPurpose(StrEnum):
    """What a limit is for; a charger holds one of each, and the lower wins. The values are
    1.6's profile purposes because applied limits are stored under them."""

    CHARGER_MAX = "ChargePointMaxProfile"  # the fuses, grid response, a person's cap
    DEFAULT = "TxDefaultProfile"  # the time-of-use plan
    TRANSACTION = "TxProfile"  # the solar surplus, on the running transaction


@dataclass(frozen=True)
class LimitPeriod:
    """From start_s seconds into the schedule on, at most limit_w."""

    start_s: int
    limit_w: float


@dataclass(frozen=True)
class ChargerCall:
    """One call to a charger, ready for the command path: the action and its wire payload."""

    action: str
    payload: dict
