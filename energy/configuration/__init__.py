"""The spec's configuration file in and out of the database: the ocpp.yaml ("OCPP Bridge
Configuration"), the `energy:` section ("Energy Integration Configuration") and the
load_balancing, solar_charging, tou_charging and grid_response blocks, in any combination.
schema.py says what each block may hold, parsing.py the rules between blocks and list items,
importing.py and exporting.py the way in and out; import_config and export_config are the commands.

What an installer can rely on:
- A file is applied whole or, on any error, not at all; every problem is named with its path
  (`ocpp.chargers[1].max_power_w: ...`). Unknown keys are warnings.
- A key left out leaves that value as it is. Nothing in the file deletes anything but tariff
  periods (below); chargers that are not in the file are left alone (the report lists them). A
  setting the file creates gets the spec's values for what it leaves out (the models' defaults),
  except `enabled`, which stays off until the file or the admin turns it on.
- The `energy:` section repeats some values of the blocks (mode, min_surplus_w, algorithm,
  ready_by...). Both may be given; if they disagree the file is refused, naming both paths. So
  are site.circuit_limit_a against energy.load_balancing.circuit_limit_a, and a charger's ocpp
  max_power_w against its load_balancing max_current_a. Those agree when max_power_w is within
  half an amp of max_current_a × 230 V × phases (7400 W on one phase is 32 A); max_power_w
  is kept. max_current_a alone sets max_power_w to max_current_a × 230 V × phases.
- `smoothing.enabled: false` stores a window of 0 s; turning it back on without a
  window_seconds restores the spec's 300 s.
- `tou_charging.periods` makes the periods of the site's active tariff match the file exactly
  (a tariff named "time of use" is made when the site has no active one).
- `load_balancing.priority` numbers the listed chargers 0, 1, 2... (lower charges first) unless
  their priorities already rise in that order. Equal priorities cannot be written as a list, so
  export writes `priority:` only when the site's chargers all have different ones.
- `load_balancing.chargers` hangs the chargers on `load_balancing.circuit`; chargers already on
  it and not listed stay there.
- `protocol.version` ("1.6" or "2.0.1") is the OCPP version of every listed charger that names
  none (the one it is spoken to in when it offers no WebSocket subprotocol). `auth.method`
  "certificate" puts them on security profile 3 (TLS and a client certificate), "basic" on 1
  (a password; TLS allowed, not required: the file's `server.tls` is the environment's to set).
- Importing an export changes nothing, and exporting again gives the same file.

Extensions to the spec's format, all optional: a top-level `site:` block (name, time_zone,
circuit_limit_a) naming the site; a per-charger `heartbeat_interval` (null: the server default)
overriding `protocol.heartbeat_interval`, `protocol` ("1.6" or "2.0.1") overriding
`protocol.version` and `security_profile` (1, 2 or 3) overriding `auth.method`;
`load_balancing.circuit` name (default "load balancing circuit") and supply_phase;
`supply_phase` per charger in a chargers list;
`load_balancing.failsafe` (meter_timeout_seconds, current_a); a top-level `circuits:` list for
deeper fuse trees (name, max_current_a, phases, supply_phase, parent, chargers);
`solar_charging.hysteresis` (start_delay_seconds, stop_delay_seconds); `tou_charging.target`
energy_wh, soc_percent and battery_capacity_wh for the energy and soc modes; a top-level
`tariff:` block with `feed_in_per_kwh` (what an exported kWh earns, the site's feed-in rate;
negative where export costs; an export leaves the block out at the default 0). Export writes
them where needed.
"""

from energy.configuration.exporting import config_file_export, energy_config_export, ocpp_config_export
from energy.configuration.importing import ImportReport, config_file_import, energy_config_import, ocpp_config_import
from energy.configuration.parsing import ConfigError, energy_config_parse, ocpp_config_parse

__all__ = [
    "ConfigError",
    "ImportReport",
    "config_file_export",
    "config_file_import",
    "energy_config_export",
    "energy_config_import",
    "energy_config_parse",
    "ocpp_config_export",
    "ocpp_config_import",
    "ocpp_config_parse",
]
