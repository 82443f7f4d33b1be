import pytest
from django.apps import apps

from energy.rebalance import Rebalancer


@pytest.fixture
def use_rebalancer(monkeypatch):
    """Make a runtime the process's one (EnergyConfig.ready() chose another at start-up)."""

    def use(runtime: Rebalancer) -> Rebalancer:
        monkeypatch.setattr(apps.get_app_config("energy"), "rebalancer", runtime)
        return runtime

    return use
