"""Keeps CPython's garbage collector from stalling the server's event loop.

A full collection walks every tracked object: with 10,000 chargers connected that is about
1.5 million objects, over a second with the loop stopped, and under load one came every ~6 s
(bench/README.md, P2). Nearly everything that survives a full collection lives for good
(connections, charge points, caches), so each full collection freezes its survivors out of
the next ones, which then walk only what is newer. A frozen object that later dies inside a
reference cycle stays allocated until the freeze is lifted, so the frozen set is unfrozen and
collected once in a while (a reclaim, itself a stall of 0.4-1.3 s at 10,000 chargers, by
machine): when it has grown by `reclaim_growth`, or every `reclaim_interval_s`.

Growth is mostly new chargers connecting, not garbage: a reclaim that frees little says so,
and the next one waits for twice the growth and twice the time (up to the caps); one that
frees a worthwhile share goes back to the base trigger. The frozen garbage thus stays under
`reclaim_growth` of the live set while reclaims find some, and under RECLAIM_GROWTH_MAX of it
if a leak starts after a quiet spell.
"""

import gc
import logging
import time

logger = logging.getLogger(__name__)

RECLAIM_GROWTH = 0.25
RECLAIM_GROWTH_MAX = 1.0
RECLAIM_INTERVAL_S = 600.0
RECLAIM_INTERVAL_MAX_S = 3600.0
# A reclaim that frees less than this share of the frozen set was not worth its stall.
WORTHWHILE_SHARE = 0.05


class GcPolicy:
    def __init__(self, *, reclaim_growth: float = RECLAIM_GROWTH, reclaim_interval_s: float = RECLAIM_INTERVAL_S):
        self.base_growth, self.base_interval_s = reclaim_growth, reclaim_interval_s
        self.reclaim_growth, self.reclaim_interval_s = reclaim_growth, reclaim_interval_s
        self.frozen_after_reclaim = 0
        self.reclaimed_at = time.monotonic()

    def install(self) -> None:
        gc.callbacks.append(self._after_collection)
        self.reclaim()

    def uninstall(self) -> None:
        gc.callbacks.remove(self._after_collection)
        gc.unfreeze()

    def _after_collection(self, phase: str, info: dict) -> None:
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()

    def reclaim_due(self, *, frozen_now: int, now: float) -> bool:
        grown = frozen_now > self.frozen_after_reclaim * (1 + self.reclaim_growth)
        return grown or now - self.reclaimed_at >= self.reclaim_interval_s

    def adapt(self, *, frozen_before: int, freed: int) -> None:
        """Back off after a reclaim that freed little; return to the base trigger otherwise."""
        if freed < WORTHWHILE_SHARE * frozen_before:
            self.reclaim_growth = min(2 * self.reclaim_growth, RECLAIM_GROWTH_MAX)
            self.reclaim_interval_s = min(2 * self.reclaim_interval_s, RECLAIM_INTERVAL_MAX_S)
        else:
            self.reclaim_growth, self.reclaim_interval_s = self.base_growth, self.base_interval_s

    def reclaim(self) -> None:
        """Free what died while frozen; the full collection freezes the survivors again."""
        frozen_before, started = gc.get_freeze_count(), time.perf_counter()
        gc.unfreeze()
        freed = gc.collect()
        self.frozen_after_reclaim = gc.get_freeze_count()
        self.reclaimed_at = time.monotonic()
        self.adapt(frozen_before=frozen_before, freed=freed)
        logger.info(
            "gc reclaim: %d objects were frozen, %d freed, %.0f ms; next after %.0f %% growth or %.0f s",
            frozen_before,
            freed,
            1000 * (time.perf_counter() - started),
            100 * self.reclaim_growth,
            self.reclaim_interval_s,
        )

    def reclaim_if_due(self) -> None:
        if self.reclaim_due(frozen_now=gc.get_freeze_count(), now=time.monotonic()):
            self.reclaim()
