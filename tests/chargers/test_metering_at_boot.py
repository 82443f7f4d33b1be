"""Metering at boot: the server adds the measurands energy control reads and takes nothing away
from what the charger or its installer chose. The charger is not the server's own library
(tests/chargepoint_sim.py): it keeps the configuration the server's ChangeConfiguration leaves."""

import asyncio

import pytest

from tests.chargepoint_sim import sim_charger
from tests.factories import make_charger

pytestmark = pytest.mark.django_db(transaction=True)


METERING_KEYS = ("MeterValuesSampledData", "MeterValueSampleInterval")


def metering_changes_at_boot(server, charge_point_id: str, configuration: dict[str, str], expected: dict[str, str]):
    """Boot a charger with this configuration, wait until its metering keys are as expected, and
    return the keys the server changed."""
    make_charger(charge_point_id=charge_point_id, password="pw-123456")

    async def scenario():
        async with sim_charger(server, charge_point_id, password="pw-123456", configuration=configuration) as cp:
            await cp.wait_for(
                lambda: {key: cp.configuration[key] for key in METERING_KEYS} == expected,
                what=f"metering {expected}",
            )
            return sorted(payload["key"] for payload in cp.sent("ChangeConfiguration"))

    return asyncio.run(scenario())


def test_the_installers_measurands_and_shorter_interval_stay_and_control_gets_what_it_needs(ocpp_server):
    installer_chose = {
        "MeterValuesSampledData": "Energy.Active.Import.Register,SoC,Voltage,Temperature",
        "MeterValueSampleInterval": "30",
    }

    changed = metering_changes_at_boot(
        ocpp_server,
        "METER-1",
        installer_chose,
        {
            "MeterValuesSampledData": "Energy.Active.Import.Register,SoC,Voltage,Temperature,"
            "Power.Active.Import,Current.Import",
            "MeterValueSampleInterval": "30",
        },
    )

    assert changed == ["MeterValuesSampledData"]


def test_a_charger_that_does_not_sample_gets_the_spec_interval_and_measurands(ocpp_server):
    factory_default = {"MeterValuesSampledData": "Energy.Active.Import.Register", "MeterValueSampleInterval": "0"}

    changed = metering_changes_at_boot(
        ocpp_server,
        "METER-2",
        factory_default,
        {
            "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import,Current.Import",
            "MeterValueSampleInterval": "60",
        },
    )

    assert changed == ["MeterValueSampleInterval", "MeterValuesSampledData"]


def test_a_charger_that_caps_its_measurands_keeps_its_own_and_gets_what_fits(ocpp_server):
    capped = {
        "MeterValuesSampledData": "SoC,Voltage,Temperature",
        "MeterValuesSampledDataMaxLength": "4",
        "MeterValueSampleInterval": "60",
    }

    changed = metering_changes_at_boot(
        ocpp_server,
        "METER-3",
        capped,
        {
            "MeterValuesSampledData": "SoC,Voltage,Temperature,Energy.Active.Import.Register",
            "MeterValueSampleInterval": "60",
        },
    )

    assert changed == ["MeterValuesSampledData"]
