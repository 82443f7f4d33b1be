from django.apps import AppConfig
from django.utils.module_loading import import_string

from energy.locks import LocalSiteLocks, RedisSiteLocks
from energy.rebalance import Rebalancer

# Django imports this module before any model, and the runtimes run energy control, which
# reads models: so the factory is named by its path, as Django names its own backends.
RUNTIME_FACTORY = "energy.rebalance.choice.runtime_from_settings"


class EnergyConfig(AppConfig):
    name = "energy"
    verbose_name = "Energy"
    # The process's one rebalance runtime (energy/rebalance/) and kind of site lock
    # (energy/locks.py), chosen once from settings.
    rebalancer: Rebalancer
    site_locks: LocalSiteLocks | RedisSiteLocks

    def ready(self) -> None:
        runtime = import_string(RUNTIME_FACTORY)()
        self.rebalancer, self.site_locks = runtime.rebalancer, runtime.site_locks
