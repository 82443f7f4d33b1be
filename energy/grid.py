"""Grid response (spec: grid_response): how much of its power a charger may use when the grid
operator asks for less, or the grid frequency sags. Plain data."""

from energy import reasons

LOW_FREQUENCY_HZ = 49.5
HIGH_FREQUENCY_HZ = 50.5


def level_percents(*, moderate_percent: int, high_percent: int) -> dict[str, int]:
    """Each demand-response level's share of a charger's maximum; normal is always all of it."""
    return {"normal": 100, "moderate": moderate_percent, "high": high_percent}


# The spec's defaults (a site's grid response may set its own).
LEVEL_PERCENT = level_percents(moderate_percent=50, high_percent=0)


def grid_limit_percent(
    *,
    level: str,
    frequency_hz: float | None = None,
    frequency_response: bool = False,
    low_frequency_hz: float = LOW_FREQUENCY_HZ,
    high_frequency_hz: float = HIGH_FREQUENCY_HZ,
    level_percent: dict[str, int] | None = None,
) -> tuple[int, str]:
    """The percentage of each charger's maximum it may use, and why."""
    percents = level_percent or LEVEL_PERCENT
    percent = percents.get(level, 100)
    if frequency_response and frequency_hz is not None:
        if frequency_hz <= low_frequency_hz:
            return 0, reasons.grid_frequency_low(frequency_hz, low_frequency_hz)
        if frequency_hz >= high_frequency_hz:
            # Over-frequency means too much generation: charging helps, so lift a level cap.
            return 100, reasons.grid_frequency_high(frequency_hz, high_frequency_hz)
    return percent, reasons.grid_level(level, percent)
