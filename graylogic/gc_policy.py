"""Keeps CPython's garbage collector from stalling the server's event loop.

A full collection walks every tracked object: with 10,000 chargers connected that is about
1.5 million objects, over a second with the loop stopped, and under load one came every ~6 s
(bench/README.md, P2). Nearly everything that survives a full collection lives for good
(connections, charge points, caches), so each full collection freezes its survivors out of
the next ones, which then walk only what is newer. A frozen object that later dies inside a
reference cycle stays allocated until the freeze is lifted, so the frozen set is unfrozen and
collected once in a while: when it has grown by RECLAIM_GROWTH, or every RECLAIM_INTERVAL_S.
"""

import gc
import time

RECLAIM_GROWTH = 0.25
RECLAIM_INTERVAL_S = 600.0


class GcPolicy:
    def __init__(self, *, reclaim_growth: float = RECLAIM_GROWTH, reclaim_interval_s: float = RECLAIM_INTERVAL_S):
        self.reclaim_growth = reclaim_growth
        self.reclaim_interval_s = reclaim_interval_s
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

    def reclaim(self) -> None:
        """Free what died while frozen; the full collection freezes the survivors again."""
        gc.unfreeze()
        gc.collect()
        self.frozen_after_reclaim = gc.get_freeze_count()
        self.reclaimed_at = time.monotonic()

    def reclaim_if_due(self) -> None:
        if self.reclaim_due(frozen_now=gc.get_freeze_count(), now=time.monotonic()):
            self.reclaim()
