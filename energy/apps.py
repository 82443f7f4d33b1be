from django.apps import AppConfig
from django.utils.module_loading import import_string

from energy.rebalance import Rebalancer

# Django imports this module before any model, and the runtimes run energy control, which
# reads models: so the factory is named by its path, as Django names its own backends.
REBALANCER_FACTORY = "energy.rebalance.choice.rebalancer_from_settings"


class EnergyConfig(AppConfig):
    name = "energy"
    verbose_name = "Energy"
    # The process's one rebalance runtime (energy/rebalance/), chosen once from settings.
    rebalancer: Rebalancer

    def ready(self) -> None:
        self.rebalancer = import_string(REBALANCER_FACTORY)()
