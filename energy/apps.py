from django.apps import AppConfig
from django.utils.module_loading import import_string

from energy.jobs import Jobs
from energy.locks import LocalSiteLocks, RedisSiteLocks
from energy.rebalance import Rebalancer

# Django imports this module before any model, and the runtimes run energy control, which
# reads models: so the factory is named by its path, as Django names its own backends.
RUNTIME_FACTORY = "energy.rebalance.choice.runtime_from_settings"


class EnergyConfig(AppConfig):
    name = "energy"
    verbose_name = "Energy"
    # The process's one rebalance runtime (energy/rebalance/), kind of site lock
    # (energy/locks.py) and runner of one-off jobs (energy/jobs.py), chosen once from settings.
    rebalancer: Rebalancer
    site_locks: LocalSiteLocks | RedisSiteLocks
    jobs: Jobs

    def ready(self) -> None:
        runtime = import_string(RUNTIME_FACTORY)()
        self.rebalancer, self.site_locks, self.jobs = runtime.rebalancer, runtime.site_locks, runtime.jobs
