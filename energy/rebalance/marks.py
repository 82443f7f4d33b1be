"""Where a runtime keeps each site's marks (rule.py): in the process, or in Redis for every
server and worker at once."""

import threading

import redis

from energy.rebalance.rule import NO_MARKS, SiteMarks, on_request, on_run_finished, on_run_starting

# Redis marks outlive a run's wait by this much: if its task is lost (a worker killed before
# it finished), they lapse and the site's next request queues a new run.
MARK_SPARE_S = 60


class LocalMarks:
    """One process's marks: the server's loop, or a worker on a memory broker (no Redis).
    They cannot outlive the process, so `hold_s` does not apply."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._by_site: dict[int, SiteMarks] = {}

    def request(self, site_pk: int, trigger: str, *, hold_s: int) -> str | None:
        with self._guard:
            self._by_site[site_pk], run = on_request(self._by_site.get(site_pk, NO_MARKS), trigger=trigger)
        return run

    def starting(self, site_pk: int) -> None:
        with self._guard:
            self._keep(site_pk, on_run_starting(self._by_site.get(site_pk, NO_MARKS)))

    def finished(self, site_pk: int, *, hold_s: int) -> str | None:
        with self._guard:
            marks, run = on_run_finished(self._by_site.get(site_pk, NO_MARKS))
            self._keep(site_pk, marks)
        return run

    def forget(self, site_pk: int) -> None:
        """A queued run that will not happen (its site is gone, the server stops)."""
        with self._guard:
            self._by_site.pop(site_pk, None)

    def _keep(self, site_pk: int, marks: SiteMarks) -> None:
        # A site without marks takes no room: the dict holds only sites queued now.
        if marks == NO_MARKS:
            self._by_site.pop(site_pk, None)
        else:
            self._by_site[site_pk] = marks


# rule.py in Lua, so that each step is atomic across processes. KEYS: queued, asked-again.
_ON_REQUEST = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return ARGV[1] end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
return false
"""
_ON_RUN_FINISHED = """
local trigger = redis.call('GET', KEYS[2])
if trigger then
  redis.call('DEL', KEYS[2])
  redis.call('SET', KEYS[1], trigger, 'EX', ARGV[1])
  return trigger
end
redis.call('DEL', KEYS[1])
return false
"""


class RedisMarks:
    """Marks shared by every server and worker; each expires `hold_s` after it was set."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._on_request = client.register_script(_ON_REQUEST)
        self._on_run_finished = client.register_script(_ON_RUN_FINISHED)

    @staticmethod
    def keys(site_pk: int) -> list[str]:
        return [f"graylogic:rebalance-queued:{site_pk}", f"graylogic:rebalance-dirty:{site_pk}"]

    def request(self, site_pk: int, trigger: str, *, hold_s: int) -> str | None:
        run = self._on_request(keys=self.keys(site_pk), args=[trigger, hold_s])
        return None if run is None else run.decode()

    def starting(self, site_pk: int) -> None:
        self._client.delete(self.keys(site_pk)[1])

    def finished(self, site_pk: int, *, hold_s: int) -> str | None:
        run = self._on_run_finished(keys=self.keys(site_pk), args=[hold_s])
        return None if run is None else run.decode()

    def forget(self, site_pk: int) -> None:
        self._client.delete(*self.keys(site_pk))
