import copy
from io import StringIO

import pytest
import yaml
from django.core.management import CommandError, call_command

from chargers.models import Charger, SecurityProfile
from chargers.services import charger_set_password
from energy.configuration import (
    ConfigError,
    config_file_export,
    ocpp_config_export,
    ocpp_config_import,
    ocpp_config_parse,
)
from energy.models import Site
from tests.factories import make_charger, make_circuit, make_site

# The spec's "OCPP Bridge Configuration" example, verbatim but for trailing spaces.
SPEC_YAML = """\
# /etc/graylogic/ocpp.yaml
ocpp:
  enabled: true

  # Server
  server:
    port: 9000
    tls:
      enabled: true
      cert_file: "/etc/graylogic/certs/ocpp.crt"
      key_file: "/etc/graylogic/certs/ocpp.key"

  # Protocol
  protocol:
    version: "1.6"                  # or "2.0.1"
    heartbeat_interval: 300

  # Authentication
  auth:
    method: "basic"                 # or "certificate"
    credentials:
      - charger_id: "charger-garage"
        password_env: "OCPP_CHARGER_GARAGE_PW"

  # Charger configuration
  chargers:
    - id: "charger-garage"
      name: "Garage Charger"
      location: "garage"
      max_power_w: 7400
      phases: 1

    - id: "charger-driveway"
      name: "Driveway Charger"
      location: "driveway"
      max_power_w: 22000
      phases: 3
"""

DELETE = object()


def spec_config(*changes: tuple[tuple, object]) -> dict:
    """The spec's example with (path, value) changes applied; DELETE removes the key."""
    data = copy.deepcopy(yaml.safe_load(SPEC_YAML))
    for path, value in changes:
        target = data
        for key in path[:-1]:
            target = target[key]
        if value is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return data


def charger_rows() -> list[dict]:
    return list(Charger.objects.order_by("pk").values())


def site_rows() -> list[dict]:
    return list(Site.objects.order_by("pk").values())


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (["not", "a", "mapping"], "the file: must be a mapping"),
        ({"chargers": []}, "ocpp: missing"),
        (spec_config((("ocpp", "chargers", 1, "id"), DELETE)), "ocpp.chargers[1].id: missing"),
        (spec_config((("ocpp", "chargers", 1, "id"), 1234)), "ocpp.chargers[1].id: must be a string"),
        (spec_config((("ocpp", "chargers", 1, "id"), "drive way")), "ocpp.chargers[1].id: 'drive way': Up to 48"),
        (
            spec_config((("ocpp", "chargers", 1, "id"), "charger-garage")),
            "ocpp.chargers[1].id: 'charger-garage' is listed twice (also ocpp.chargers[0])",
        ),
        (
            spec_config((("ocpp", "chargers", 1, "max_power_w"), 7.4)),
            "ocpp.chargers[1].max_power_w: must be a positive integer",
        ),
        (
            spec_config((("ocpp", "chargers", 1, "max_power_w"), "22kW")),
            "ocpp.chargers[1].max_power_w: must be a positive integer",
        ),
        (
            spec_config((("ocpp", "chargers", 1, "max_power_w"), 0)),
            "ocpp.chargers[1].max_power_w: must be a positive integer",
        ),
        (
            spec_config((("ocpp", "chargers", 1, "max_power_w"), True)),
            "ocpp.chargers[1].max_power_w: must be a positive integer",
        ),
        (spec_config((("ocpp", "chargers", 0, "phases"), 2)), "ocpp.chargers[0].phases: must be 1 or 3"),
        (spec_config((("ocpp", "chargers", 0, "name"), None)), "ocpp.chargers[0].name: must be a string"),
        (spec_config((("ocpp", "chargers", 0, "name"), "x" * 101)), "ocpp.chargers[0].name: must be at most 100"),
        (spec_config((("ocpp", "chargers"), {"id": "x"})), "ocpp.chargers: must be a list"),
        (spec_config((("ocpp", "chargers", 0), "charger-garage")), "ocpp.chargers[0]: must be a mapping"),
        (
            spec_config((("ocpp", "protocol", "version"), "2.1")),
            'ocpp.protocol.version: \'2.1\' is not an OCPP version this server speaks: "1.6" or "2.0.1"',
        ),
        (
            spec_config((("ocpp", "chargers", 0, "protocol"), "1.5")),
            'ocpp.chargers[0].protocol: \'1.5\' is not an OCPP version this server speaks: "1.6" or "2.0.1"',
        ),
        (
            spec_config((("ocpp", "chargers", 0, "security_profile"), 4)),
            "ocpp.chargers[0].security_profile: must be one of 1, 2, 3",
        ),
        (
            spec_config((("ocpp", "protocol", "heartbeat_interval"), "300")),
            "ocpp.protocol.heartbeat_interval: must be a positive integer (seconds)",
        ),
        (
            spec_config((("ocpp", "protocol", "heartbeat_interval"), 100_000)),
            "ocpp.protocol.heartbeat_interval: must be at most 86400",
        ),
        (spec_config((("ocpp", "enabled"), "yes")), "ocpp.enabled: must be true or false"),
        (spec_config((("ocpp", "server", "port"), 70000)), "ocpp.server.port: must be at most 65535"),
        (spec_config((("ocpp", "auth", "method"), "digest")), 'ocpp.auth.method: must be "basic" or "certificate"'),
        (
            spec_config((("ocpp", "auth", "credentials", 0, "password_env"), DELETE)),
            "ocpp.auth.credentials[0].password_env: missing",
        ),
        (
            spec_config((("ocpp", "auth", "credentials", 0, "password_env"), "GARAGE-PW")),
            "ocpp.auth.credentials[0].password_env: 'GARAGE-PW' is not an environment variable name",
        ),
        (
            spec_config((("ocpp", "auth", "credentials", 0, "charger_id"), "charger-shed")),
            "ocpp.auth.credentials[0].charger_id: 'charger-shed' is not in ocpp.chargers",
        ),
        (
            spec_config(
                (
                    ("ocpp", "auth", "credentials"),
                    [
                        {"charger_id": "charger-garage", "password_env": "A"},
                        {"charger_id": "charger-garage", "password_env": "B"},
                    ],
                )
            ),
            "ocpp.auth.credentials[1].charger_id: 'charger-garage' already has credentials at ocpp.auth.credentials[0]",
        ),
        (spec_config((("site",), {"time_zone": "Europe/Paris"})), "site.name: missing"),
        (spec_config((("site",), {"name": "  "})), "site.name: must not be empty"),
        (
            spec_config((("site",), {"name": "Home", "time_zone": "Mars/Olympus"})),
            "site.time_zone: 'Mars/Olympus' is not an IANA time zone",
        ),
        (
            spec_config((("site",), {"name": "Home", "circuit_limit_a": -63})),
            "site.circuit_limit_a: must be a positive integer (amps)",
        ),
    ],
)
def test_invalid_config_is_refused_with_the_path_of_the_problem(data, error):
    with pytest.raises(ConfigError) as raised:
        ocpp_config_parse(data=data)

    assert any(message.startswith(error) for message in raised.value.errors), raised.value.errors


def test_every_problem_in_a_file_is_reported_at_once():
    data = spec_config(
        (("ocpp", "chargers", 0, "phases"), 2),
        (("ocpp", "chargers", 1, "max_power_w"), -1),
        (("ocpp", "protocol", "version"), "2.1"),
    )

    with pytest.raises(ConfigError) as raised:
        ocpp_config_parse(data=data)

    assert len(raised.value.errors) == 3


def test_unknown_keys_are_tolerated_and_reported_as_warnings():
    data = spec_config((("energy",), {"solar_charging": {"enabled": True}}), (("ocpp", "chargers", 0, "colour"), "red"))

    config = ocpp_config_parse(data=data)

    assert "energy: unknown key; ignored" in config.warnings
    assert "ocpp.chargers[0].colour: unknown key; ignored" in config.warnings


def test_server_settings_from_the_spec_are_reported_as_ignored():
    config = ocpp_config_parse(data=spec_config())

    assert any(note.startswith("ocpp.server.port: ") and "PORT" in note for note in config.notes)
    assert any(note.startswith("ocpp.server.tls: ") and "TLS_CERT_FILE" in note for note in config.notes)


def test_disabling_the_bridge_warns_instead_of_failing():
    config = ocpp_config_parse(data=spec_config((("ocpp", "enabled"), False)))

    assert any(warning.startswith("ocpp.enabled: ") for warning in config.warnings)


@pytest.mark.django_db
def test_version_2_0_1_and_certificate_auth_apply_to_every_charger_that_names_no_other():
    data = spec_config(
        (("ocpp", "protocol", "version"), "2.0.1"),
        (("ocpp", "auth", "method"), "certificate"),
        (("ocpp", "chargers", 1, "protocol"), "1.6"),
        (("ocpp", "chargers", 1, "security_profile"), 2),
    )

    ocpp_config_import(data=data)

    garage, driveway = (Charger.objects.get(charge_point_id=i) for i in ("charger-garage", "charger-driveway"))
    assert (garage.protocol, garage.security_profile) == ("ocpp2.0.1", SecurityProfile.TLS_CLIENT_CERTIFICATE)
    assert (driveway.protocol, driveway.security_profile) == ("ocpp1.6", SecurityProfile.TLS_BASIC_AUTH)


def test_a_security_profile_this_server_cannot_admit_is_a_warning(settings):
    data = spec_config((("ocpp", "auth", "method"), "certificate"), (("ocpp", "chargers", 1, "security_profile"), 2))

    settings.OCPP_TRUSTED_PROXIES, settings.TLS_CERT_FILE = [], ""
    warnings = ocpp_config_parse(data=data).warnings
    assert any(w.startswith("ocpp.chargers[0]: charger-garage must use a client certificate") for w in warnings)
    assert any(w.startswith("ocpp.chargers[1]: charger-driveway must use TLS") for w in warnings)

    settings.OCPP_TRUSTED_PROXIES = ["127.0.0.1"]
    assert not [w for w in ocpp_config_parse(data=data).warnings if "must use" in w]


@pytest.mark.django_db
def test_basic_auth_sets_profile_1_and_a_file_without_a_method_leaves_profiles_alone():
    site = make_site(name="Home")
    make_charger(charge_point_id="charger-garage", site=site, security_profile=3)
    make_charger(charge_point_id="charger-driveway", site=site, security_profile=2)

    ocpp_config_import(data=spec_config((("ocpp", "auth"), DELETE)))
    assert sorted(Charger.objects.values_list("security_profile", flat=True)) == [2, 3]

    ocpp_config_import(data=spec_config())  # auth.method: "basic"
    assert sorted(Charger.objects.values_list("security_profile", flat=True)) == [1, 1]


def test_an_unquoted_protocol_version_is_accepted():
    config = ocpp_config_parse(data=yaml.safe_load("ocpp:\n  protocol:\n    version: 1.6\n"))

    assert config.chargers == []


def test_a_password_env_not_set_here_is_a_warning(monkeypatch):
    monkeypatch.delenv("OCPP_CHARGER_GARAGE_PW", raising=False)
    assert any("OCPP_CHARGER_GARAGE_PW is not set" in w for w in ocpp_config_parse(data=spec_config()).warnings)

    monkeypatch.setenv("OCPP_CHARGER_GARAGE_PW", "secret-garage-password")
    assert not any("OCPP_CHARGER_GARAGE_PW" in w for w in ocpp_config_parse(data=spec_config()).warnings)


@pytest.mark.django_db
def test_the_spec_example_creates_a_site_and_its_chargers(settings):
    settings.TIME_ZONE = "Europe/London"

    report = ocpp_config_import(data=spec_config())

    assert report.created == ["site 'Home'", "charger 'charger-garage'", "charger 'charger-driveway'"]
    site = Site.objects.get()
    assert (site.name, site.time_zone) == ("Home", "Europe/London")
    garage = Charger.objects.get(charge_point_id="charger-garage")
    assert (garage.site, garage.name, garage.location, garage.max_power_w, garage.phases) == (
        site,
        "Garage Charger",
        "garage",
        7400,
        1,
    )
    assert garage.password_env == "OCPP_CHARGER_GARAGE_PW"
    assert garage.heartbeat_interval_s == 300
    driveway = Charger.objects.get(charge_point_id="charger-driveway")
    assert (driveway.max_power_w, driveway.phases, driveway.password_env) == (22000, 3, "")
    assert driveway.heartbeat_interval_s == 300


@pytest.mark.django_db
def test_importing_the_same_file_twice_changes_nothing_the_second_time():
    ocpp_config_import(data=spec_config())
    chargers_before, sites_before = charger_rows(), site_rows()

    report = ocpp_config_import(data=spec_config())

    assert not report.changed
    assert report.created == []
    assert report.updated == {}
    assert report.unchanged == ["charger 'charger-garage'", "charger 'charger-driveway'"]
    assert report.lines()[-1] == "Nothing changed."
    assert charger_rows() == chargers_before
    assert site_rows() == sites_before


@pytest.mark.django_db
def test_a_changed_value_is_updated_and_reported_with_old_and_new():
    ocpp_config_import(data=spec_config())

    report = ocpp_config_import(data=spec_config((("ocpp", "chargers", 1, "max_power_w"), 11000)))

    assert report.updated == {"charger 'charger-driveway'": {"max_power_w": (22000, 11000)}}
    assert "updated charger 'charger-driveway': max_power_w 22000 -> 11000" in report.lines()
    assert Charger.objects.get(charge_point_id="charger-driveway").max_power_w == 11000


@pytest.mark.django_db
def test_keys_left_out_leave_values_as_they_are():
    ocpp_config_import(data=spec_config())
    Charger.objects.filter(charge_point_id="charger-garage").update(name="Renamed in the admin")

    report = ocpp_config_import(data=spec_config((("ocpp", "chargers", 0, "name"), DELETE), (("ocpp", "auth"), DELETE)))

    garage = Charger.objects.get(charge_point_id="charger-garage")
    assert (garage.name, garage.password_env) == ("Renamed in the admin", "OCPP_CHARGER_GARAGE_PW")
    assert not report.changed


@pytest.mark.django_db
def test_chargers_not_in_the_file_are_kept_and_listed():
    site = make_site(name="Home")
    make_charger(charge_point_id="shed", site=site)

    report = ocpp_config_import(data=spec_config())

    assert Charger.objects.filter(charge_point_id="shed").exists()
    assert any("not in the file" in note and "shed" in note for note in report.notes)


@pytest.mark.django_db
def test_chargers_join_the_only_site_when_the_file_names_none():
    site = make_site(name="Cottage")

    report = ocpp_config_import(data=spec_config())

    assert "site 'Home'" not in report.created
    assert set(Charger.objects.values_list("site", flat=True)) == {site.pk}


@pytest.mark.django_db
def test_several_sites_and_no_site_block_is_an_error_that_changes_nothing():
    make_site(name="Cottage")
    make_site(name="Barn")

    with pytest.raises(ConfigError, match=r"^site: missing; the database has several sites"):
        ocpp_config_import(data=spec_config())

    assert not Charger.objects.exists()


@pytest.mark.django_db
def test_a_site_block_creates_or_updates_the_named_site():
    make_site(name="Cottage")
    home = make_site(name="Home", time_zone="Europe/London", circuit_limit_a=63)

    report = ocpp_config_import(
        data=spec_config((("site",), {"name": "Home", "time_zone": "Europe/Paris", "circuit_limit_a": 40}))
    )

    assert report.updated["site 'Home'"] == {
        "time_zone": ("Europe/London", "Europe/Paris"),
        "circuit_limit_a": (63, 40),
    }
    home.refresh_from_db()
    assert (home.time_zone, home.circuit_limit_a) == ("Europe/Paris", 40)
    assert set(Charger.objects.values_list("site", flat=True)) == {home.pk}


@pytest.mark.django_db
def test_a_charger_moved_to_another_site_leaves_its_old_circuit():
    old_site = make_site(name="Cottage")
    charger = make_charger(
        charge_point_id="charger-garage", site=old_site, circuit=make_circuit(site=old_site), name="Garage Charger"
    )

    report = ocpp_config_import(data=spec_config((("site",), {"name": "Home"})))

    charger.refresh_from_db()
    assert charger.site.name == "Home"
    assert charger.circuit is None
    assert set(report.updated["charger 'charger-garage'"]) >= {"site", "circuit"}


@pytest.mark.django_db
def test_a_pending_charger_in_the_file_is_pointed_out():
    make_charger(charge_point_id="charger-garage", registration=Charger.Registration.PENDING, site=make_site())

    report = ocpp_config_import(data=spec_config())

    assert any("charger 'charger-garage' is pending approval" in note for note in report.notes)


OPEN_DRIVEWAY = (
    "warning: ocpp.chargers[1] (charger-driveway) has no credentials: any device presenting this id is accepted."
)


@pytest.mark.django_db
def test_the_import_command_warns_about_a_charger_anyone_can_connect_as(tmp_path):
    path = tmp_path / "ocpp.yaml"
    path.write_text(SPEC_YAML)
    out, again = StringIO(), StringIO()

    call_command("import_config", str(path), stdout=out)
    call_command("import_config", str(path), stdout=again)

    assert any(line.startswith(OPEN_DRIVEWAY) for line in out.getvalue().splitlines())
    assert "Set password_env" in out.getvalue()
    assert "(charger-garage) has no credentials" not in out.getvalue()
    # Said again on every import while the charger stays open.
    assert any(line.startswith(OPEN_DRIVEWAY) for line in again.getvalue().splitlines())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "secure",
    [
        lambda charger: charger_set_password(charger=charger, password="typed-in-the-admin"),
        lambda charger: Charger.objects.filter(pk=charger.pk).update(password_env="FROM_AN_EARLIER_FILE"),
        lambda charger: Charger.objects.filter(pk=charger.pk).update(enabled=False),
    ],
    ids=["password set in the admin", "password_env from an earlier import", "disabled"],
)
def test_a_charger_with_credentials_kept_from_before_or_disabled_is_not_called_open(secure):
    secure(make_charger(charge_point_id="charger-driveway", site=make_site(name="Home")))

    report = ocpp_config_import(data=spec_config())

    assert not [warning for warning in report.warnings if "no credentials" in warning]


@pytest.mark.django_db
def test_giving_the_charger_a_password_env_silences_the_warning(monkeypatch):
    monkeypatch.setenv("OCPP_CHARGER_DRIVEWAY_PW", "driveway-password")
    credentials = [
        {"charger_id": "charger-garage", "password_env": "OCPP_CHARGER_GARAGE_PW"},
        {"charger_id": "charger-driveway", "password_env": "OCPP_CHARGER_DRIVEWAY_PW"},
    ]

    report = ocpp_config_import(data=spec_config((("ocpp", "auth", "credentials"), credentials)))

    assert not [warning for warning in report.warnings if "no credentials" in warning]
    assert Charger.objects.get(charge_point_id="charger-driveway").password_env == "OCPP_CHARGER_DRIVEWAY_PW"


@pytest.mark.django_db
def test_export_writes_the_spec_format_back():
    ocpp_config_import(data=spec_config())

    data = ocpp_config_export()

    assert list(data) == ["site", "ocpp"]
    assert data["ocpp"] == {
        "enabled": True,
        "protocol": {"version": "1.6", "heartbeat_interval": 300},
        "auth": {
            "method": "basic",
            "credentials": [{"charger_id": "charger-garage", "password_env": "OCPP_CHARGER_GARAGE_PW"}],
        },
        "chargers": [
            {
                "id": "charger-driveway",
                "name": "Driveway Charger",
                "location": "driveway",
                "max_power_w": 22000,
                "phases": 3,
            },
            {"id": "charger-garage", "name": "Garage Charger", "location": "garage", "max_power_w": 7400, "phases": 1},
        ],
    }


@pytest.mark.django_db
def test_importing_an_export_changes_nothing():
    site = make_site(name="Home", time_zone="Europe/Berlin", circuit_limit_a=35)
    make_charger(charge_point_id="a", site=site, heartbeat_interval_s=300, password_env="A_PW")
    make_charger(charge_point_id="b", site=site, heartbeat_interval_s=300, name="B", location="drive")
    make_charger(charge_point_id="c", site=site, heartbeat_interval_s=60, phases=3, max_power_w=11000)
    make_charger(charge_point_id="d", site=site, heartbeat_interval_s=None)
    chargers_before, sites_before = charger_rows(), site_rows()
    exported = ocpp_config_export()

    # Through YAML text, as the commands do.
    report = ocpp_config_import(data=yaml.safe_load(yaml.safe_dump(exported, sort_keys=False)))

    assert not report.changed, report.lines()
    assert charger_rows() == chargers_before
    assert site_rows() == sites_before
    assert ocpp_config_export() == exported


@pytest.mark.django_db
def test_a_mixed_site_exports_what_most_chargers_have_once_and_the_rest_per_charger():
    site = make_site(name="Home")
    make_charger(charge_point_id="a", site=site, protocol="ocpp2.0.1", security_profile=3)
    make_charger(charge_point_id="b", site=site, protocol="ocpp2.0.1", security_profile=3)
    make_charger(charge_point_id="c", site=site, protocol="ocpp1.6", security_profile=2)
    chargers_before = charger_rows()

    exported = ocpp_config_export()

    assert exported["ocpp"]["protocol"]["version"] == "2.0.1"
    assert exported["ocpp"]["auth"]["method"] == "certificate"
    entries = {entry["id"]: entry for entry in exported["ocpp"]["chargers"]}
    assert "protocol" not in entries["a"] and "security_profile" not in entries["a"]
    assert (entries["c"]["protocol"], entries["c"]["security_profile"]) == ("1.6", 2)
    report = ocpp_config_import(data=yaml.safe_load(yaml.safe_dump(exported, sort_keys=False)))
    assert not report.changed, report.lines()
    assert charger_rows() == chargers_before


@pytest.mark.django_db
def test_export_with_several_sites_needs_a_choice():
    cottage = make_site(name="Cottage")
    make_site(name="Barn")
    make_charger(charge_point_id="cottage-1", site=cottage)

    with pytest.raises(ConfigError, match="several sites"):
        ocpp_config_export()
    assert [c["id"] for c in ocpp_config_export(site=cottage)["ocpp"]["chargers"]] == ["cottage-1"]


@pytest.mark.django_db
def test_the_import_command_prints_the_report(tmp_path):
    path = tmp_path / "ocpp.yaml"
    path.write_text(SPEC_YAML)
    out = StringIO()

    call_command("import_config", str(path), stdout=out)

    assert "created charger 'charger-garage'" in out.getvalue()
    assert Charger.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ocpp: [unclosed\n", "is not valid YAML"),
        ("", "is empty"),
        (SPEC_YAML.replace("max_power_w: 22000", "max_power_w: 22kW"), "ocpp.chargers[1].max_power_w: must be"),
        (SPEC_YAML.replace('version: "1.6"', 'version: "2.1"'), "ocpp.protocol.version: '2.1' is not an OCPP version"),
    ],
)
def test_a_bad_file_fails_the_import_command_and_changes_nothing(tmp_path, text, message):
    site = make_site(name="Home")
    make_charger(charge_point_id="charger-garage", site=site, max_power_w=3700)
    chargers_before, sites_before = charger_rows(), site_rows()
    path = tmp_path / "ocpp.yaml"
    path.write_text(text)

    with pytest.raises(CommandError, match="nothing was changed") as raised:
        call_command("import_config", str(path), stdout=StringIO())

    assert message in str(raised.value)
    assert charger_rows() == chargers_before
    assert site_rows() == sites_before


@pytest.mark.django_db
def test_the_import_command_names_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_config", str(tmp_path / "nope.yaml"))


@pytest.mark.django_db
def test_the_export_command_writes_yaml_to_stdout_or_a_file(tmp_path):
    ocpp_config_import(data=spec_config())
    out = StringIO()

    call_command("export_config", stdout=out)
    call_command("export_config", str(tmp_path / "out.yaml"), stdout=StringIO())

    # The command writes the energy settings too (tests/energy/test_energy_configuration.py).
    assert yaml.safe_load(out.getvalue()) == config_file_export()
    assert yaml.safe_load((tmp_path / "out.yaml").read_text()) == config_file_export()
    assert "version: '1.6'" in out.getvalue()


@pytest.mark.django_db
def test_the_export_command_chooses_a_site_by_name():
    make_site(name="Cottage")
    make_site(name="Barn")

    with pytest.raises(CommandError, match="several sites"):
        call_command("export_config", stdout=StringIO())
    with pytest.raises(CommandError, match="no site named 'Shed'"):
        call_command("export_config", "--site", "Shed", stdout=StringIO())
    out = StringIO()
    call_command("export_config", "--site", "Barn", stdout=out)
    assert yaml.safe_load(out.getvalue())["site"]["name"] == "Barn"
