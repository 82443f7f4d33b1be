"""OCPP security profiles 2 and 3 (OCPP 2.0.1 part 2, A00-A05): a charger set to profile 2 or 3
is refused on plain ws; 2 connects over TLS with its password (daphne's own TLS), 3 with a client
certificate from this server's CA naming it and the operator, forwarded by a TLS proxy trusted by
its address. The station (tests/chargepoint_sim201.py) makes its key and CSR itself and checks
what it is sent; the certificates of the refusals are made here, with `cryptography`, by a CA
the test writes into OCPP_CA_DIR as an installer bringing their own would."""

import asyncio
import datetime as dt
import html
import io
import os
import re
import ssl
import stat
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.management import call_command
from django.urls import reverse

from chargers import door
from chargers.admission import RefusalKind, Transport, address_trusted, security_refusal, transport_of
from chargers.certificates import (
    CertificateRefused,
    LocalCA,
    client_certificate_problem,
    forwarded_certificate_pem,
    station_certificate_issue,
    subject_problem,
)
from chargers.credentials import charger_password_matches
from chargers.models import OCPP16, OCPP201, Certificate, Charger, ChargerEvent, SecurityProfile
from tests.chargepoint_sim import sim_charger
from tests.chargepoint_sim201 import SimStation, sim_station
from tests.conftest import start_server, stop_server
from tests.factories import make_charger
from tests.ocpp_client import basic_auth, eventually, in_a_thread
from tests.test_admin_commands import HTTP_TIMEOUT_S, admin_session

PASSWORD = "garage-secret-201"
OPERATOR = "Gray Logic"
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


# --- Certificates made by the test, with cryptography alone ---------------------------------------


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_ca(common_name: str = "Test operator CA") -> LocalCA:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name, OPERATOR)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=3650))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return LocalCA(certificate, key)


def issue(
    ca: LocalCA,
    *,
    common_name: str,
    organization: str = OPERATOR,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> x509.Certificate:
    """A client certificate signed by `ca`, for `key` (a new one if none)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(days=1))
        .not_valid_after(not_after or now + dt.timedelta(days=365))
        .sign(ca.key, hashes.SHA256())
    )


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    pkcs8 = serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption())


def write_ca(ca: LocalCA, directory: Path) -> Path:
    """The CA as an installer puts their own in OCPP_CA_DIR (the key 0600)."""
    directory.mkdir(exist_ok=True)
    (directory / "ca.crt").write_bytes(ca.certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "ca.key").write_bytes(key_pem(ca.key))
    (directory / "ca.key").chmod(0o600)
    return directory


def csr(common_name: str, organization: str = OPERATOR) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    request = x509.CertificateSigningRequestBuilder().subject_name(_name(common_name, organization))
    return request.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def pem_text(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def proxy_headers(certificate: x509.Certificate | None) -> dict[str, str]:
    """What nginx (deploy/nginx/graylogic.conf) adds: the scheme and $ssl_client_escaped_cert."""
    headers = {"X-Forwarded-Proto": "https"}
    if certificate is not None:
        headers["X-SSL-Client-Cert"] = quote(pem_text(certificate), safe="")
    return headers


# --- The pure rules: tables, no database ------------------------------------------------------------

TABLE_CA = make_ca()
OTHER_CA = make_ca("Someone else's CA")
IDENTITIES = {"ST3-1", "SERIAL-77"}


def _at(days: int) -> dt.datetime:
    return NOW + dt.timedelta(days=days)


@pytest.mark.parametrize(
    ("certificate", "problem"),
    [
        (issue(TABLE_CA, common_name="ST3-1", not_before=_at(-1), not_after=_at(30)), None),
        (issue(TABLE_CA, common_name="SERIAL-77", not_before=_at(-1), not_after=_at(30)), None),
        (issue(TABLE_CA, common_name="ST3-2", not_before=_at(-1), not_after=_at(30)), "CN 'ST3-2' is not"),
        (
            issue(TABLE_CA, common_name="ST3-1", organization="Evil", not_before=_at(-1), not_after=_at(30)),
            "O 'Evil' is not the operator 'Gray Logic'",
        ),
        (issue(TABLE_CA, common_name="ST3-1", not_before=_at(-30), not_after=_at(-1)), "expired at"),
        (issue(TABLE_CA, common_name="ST3-1", not_before=_at(1), not_after=_at(30)), "not valid before"),
        (issue(OTHER_CA, common_name="ST3-1", not_before=_at(-1), not_after=_at(30)), "not issued by this server's CA"),
    ],
)
def test_a_client_certificate_is_checked_for_its_issuer_dates_cn_and_o(certificate, problem):
    found = client_certificate_problem(
        certificate, ca_certificate=TABLE_CA.certificate, identities=IDENTITIES, organization=OPERATOR, now=NOW
    )
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize(
    ("common_name", "organization", "refused"),
    [
        ("ST3-1", OPERATOR, None),
        ("SERIAL-77", OPERATOR, None),
        ("ST3-2", OPERATOR, "CN 'ST3-2'"),
        ("ST3-1", "Other Operator", "O 'Other Operator'"),
    ],
)
def test_a_csr_is_signed_only_when_it_names_the_station_and_the_operator(common_name, organization, refused):
    request = csr(common_name, organization)
    if refused:
        with pytest.raises(CertificateRefused, match=re.escape(refused)):
            station_certificate_issue(TABLE_CA, request, identities=IDENTITIES, organization=OPERATOR, now=NOW)
        return
    signed = station_certificate_issue(TABLE_CA, request, identities=IDENTITIES, organization=OPERATOR, now=NOW)
    signed.verify_directly_issued_by(TABLE_CA.certificate)
    assert subject_problem(signed.subject, identities=IDENTITIES, organization=OPERATOR) is None
    assert signed.not_valid_before_utc <= NOW < signed.not_valid_after_utc


def test_a_csr_that_is_not_one_is_refused():
    with pytest.raises(CertificateRefused, match="not a PEM certificate signing request"):
        station_certificate_issue(TABLE_CA, "garbage", identities=IDENTITIES, organization=OPERATOR, now=NOW)


CERT_HEADER = quote(pem_text(TABLE_CA.certificate), safe="").encode()


@pytest.mark.parametrize(
    ("peer", "direct_tls", "headers", "trusted", "expected"),
    [
        ("10.0.0.5", False, {}, [], Transport(tls=False)),
        ("10.0.0.5", True, {}, [], Transport(tls=True)),
        # From an address that is no trusted proxy, the headers are the charger's own words: ignored.
        ("10.0.0.5", False, {b"x-forwarded-proto": b"https", b"x-ssl-client-cert": CERT_HEADER}, [], Transport(False)),
        ("127.0.0.1", False, {b"x-forwarded-proto": b"https"}, ["10.0.0.0/8"], Transport(tls=False)),
        (
            "127.0.0.1",
            False,
            {b"x-forwarded-proto": b"https", b"x-ssl-client-cert": CERT_HEADER},
            ["127.0.0.1"],
            Transport(tls=True, client_certificate_header=CERT_HEADER),
        ),
        ("10.1.2.3", False, {b"x-forwarded-proto": b"http"}, ["10.0.0.0/8"], Transport(tls=False)),
        ("10.1.2.3", False, {b"x-forwarded-proto": b"https"}, ["not an address", "10.0.0.0/8"], Transport(tls=True)),
    ],
)
def test_tls_and_the_client_certificate_are_believed_only_from_trusted_proxies(
    peer, direct_tls, headers, trusted, expected
):
    assert transport_of(peer=peer, direct_tls=direct_tls, headers=headers, trusted_proxies=trusted) == expected


def test_unparsable_peers_are_never_trusted_proxies():
    assert not address_trusted("", ["0.0.0.0/0"]) and address_trusted("192.0.2.1", ["0.0.0.0/0"])


@pytest.mark.parametrize(
    ("tls_required", "certificate_required", "tls", "problem", "refusal"),
    [
        (False, False, False, None, None),  # profile 1: today's behaviour
        (True, False, False, None, RefusalKind.TLS_REQUIRED),
        (True, False, True, None, None),
        (True, True, False, None, RefusalKind.TLS_REQUIRED),
        (True, True, True, "expired", RefusalKind.CERTIFICATE_REFUSED),
        (True, True, True, None, None),
    ],
)
def test_profiles_2_and_3_need_tls_and_3_a_good_certificate(tls_required, certificate_required, tls, problem, refusal):
    found = security_refusal(
        tls_required=tls_required, certificate_required=certificate_required, tls=tls, certificate_problem=problem
    )
    assert (found and found[0]) == refusal


def test_nginx_escaped_and_tab_separated_certificates_are_read_back():
    text = pem_text(TABLE_CA.certificate)
    assert forwarded_certificate_pem(quote(text, safe="").encode()) == text.strip()
    assert forwarded_certificate_pem(text.strip().replace("\n", "\t").encode()) == text.strip()


# --- Live servers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def operator_ca(tmp_path_factory) -> tuple[LocalCA, Path]:
    """The installer's own CA in OCPP_CA_DIR."""
    ca = make_ca()
    directory = write_ca(ca, tmp_path_factory.mktemp("ca"))
    return ca, directory


@pytest.fixture(scope="module")
def proxied_server(django_db_setup, tmp_path_factory, operator_ca):
    """Plain ws behind a TLS proxy on this machine (127.0.0.1 trusted), as deploy/nginx has it."""
    process, server = start_server(
        tmp_path_factory.mktemp("proxied"),
        {"OCPP_CA_DIR": str(operator_ca[1]), "OCPP_TRUSTED_PROXIES": "127.0.0.1"},
    )
    yield server
    stop_server(process)


@pytest.fixture(scope="module")
def tls_server(django_db_setup, tmp_path_factory):
    """daphne's own TLS; OCPP_CA_DIR empty, so the CA is made on first use."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "ocpp.crt", directory / "ocpp.key"
    self_signed = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    subprocess.run(
        [*self_signed, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    ca_dir = directory / "ca"
    env = {"TLS_CERT_FILE": str(cert), "TLS_KEY_FILE": str(key), "OCPP_CA_DIR": str(ca_dir)}
    process, server = start_server(directory, env, scheme="https")
    yield server, cert, ca_dir
    stop_server(process)


def run(scenario):
    return asyncio.run(scenario())


def station(charge_point_id: str, profile: int, **fields) -> Charger:
    return make_charger(
        charge_point_id=charge_point_id, password=PASSWORD, protocol=OCPP201, security_profile=profile, **fields
    )


async def refused(server, charge_point_id: str, *, headers=None, subprotocol="ocpp2.0.1", ssl_context=None) -> int:
    """The HTTP status a handshake is refused with."""
    with pytest.raises(websockets.InvalidStatus) as refusal:
        async with websockets.connect(
            f"{server.ws_url}/ocpp/{charge_point_id}",
            subprotocols=[subprotocol],
            additional_headers={**basic_auth(charge_point_id, PASSWORD), **(headers or {})},
            ssl=ssl_context,
            open_timeout=10,
        ):
            pass
    return refusal.value.response.status_code


def refusal_message(charge_point_id: str) -> str:
    """The newest refusal's reason (events are ordered newest first)."""
    event = ChargerEvent.objects.filter(charge_point_id=charge_point_id, kind=ChargerEvent.Kind.REFUSED).first()
    return event.message if event else ""


@pytest.mark.django_db(transaction=True)
def test_a_profile_2_charger_is_refused_on_plain_ws_in_either_ocpp_version(proxied_server):
    station("ST2-PLAIN", SecurityProfile.TLS_BASIC_AUTH)
    make_charger(charge_point_id="CP16-PLAIN", password=PASSWORD, security_profile=SecurityProfile.TLS_BASIC_AUTH)

    async def scenario():
        return (
            await refused(proxied_server, "ST2-PLAIN"),
            await refused(proxied_server, "CP16-PLAIN", subprotocol=OCPP16),
        )

    assert run(scenario) == (403, 403)
    for charge_point_id in ("ST2-PLAIN", "CP16-PLAIN"):
        assert "security profile 2 needs TLS (wss://): refused on plain ws" in refusal_message(charge_point_id)
        assert not Charger.objects.get(charge_point_id=charge_point_id).is_connected


@pytest.mark.django_db(transaction=True)
def test_a_profile_2_charger_connects_over_daphnes_tls_with_its_password(tls_server):
    server, cert, _ = tls_server
    charger = station("ST2-TLS", SecurityProfile.TLS_BASIC_AUTH)
    trust = ssl.create_default_context(cafile=str(cert))  # profile 2: no client certificate
    trust.check_hostname = False

    async def scenario():
        st = SimStation("ST2-TLS", password=PASSWORD)
        await st.connect(server, ssl_context=trust)
        try:
            answer = await st.boot()
        finally:
            await st.close()
        wrong = await refused(server, "ST2-TLS", headers=basic_auth("ST2-TLS", "not-the-password"), ssl_context=trust)
        return answer, wrong

    answer, wrong = run(scenario)
    assert server.ws_url.startswith("wss://")
    assert answer["status"] == "Accepted"
    assert Charger.objects.get(pk=charger.pk).vendor == "SimVendor 2.0.1 Stations Ltd"
    assert wrong == 403 and refusal_message("ST2-TLS") == "wrong password"


@pytest.mark.django_db(transaction=True)
def test_profile_3_admits_a_certificate_from_our_ca_naming_the_station_and_refuses_every_other(
    proxied_server, operator_ca
):
    ca, _ = operator_ca
    now = dt.datetime.now(dt.UTC)
    station("ST3-GOOD", SecurityProfile.TLS_CLIENT_CERTIFICATE)
    station("ST3-SERIAL", SecurityProfile.TLS_CLIENT_CERTIFICATE, serial_number="SN-4711")
    wrong = {
        "ST3-CN": (issue(ca, common_name="ST3-OTHER"), "CN 'ST3-OTHER' is not this charger's id or serial number"),
        "ST3-O": (issue(ca, common_name="ST3-O", organization="Evil Inc"), "O 'Evil Inc' is not the operator"),
        "ST3-EXPIRED": (
            issue(
                ca, common_name="ST3-EXPIRED", not_before=now - dt.timedelta(days=9), not_after=now - dt.timedelta(1)
            ),
            "expired at",
        ),
        "ST3-FOREIGN": (issue(OTHER_CA, common_name="ST3-FOREIGN"), "not issued by this server's CA"),
        "ST3-NONE": (None, "none presented"),
    }
    for charge_point_id in wrong:
        station(charge_point_id, SecurityProfile.TLS_CLIENT_CERTIFICATE)

    async def scenario():
        booted = []
        # The certificate alone authenticates a profile 3 station: it sends no password.
        for charge_point_id, common_name, serial in (
            ("ST3-GOOD", "ST3-GOOD", "SIM-1"),
            ("ST3-SERIAL", "SN-4711", "SN-4711"),
        ):
            st = SimStation(charge_point_id, serial_number=serial)
            await st.connect(proxied_server, headers=proxy_headers(issue(ca, common_name=common_name)))
            try:
                booted.append((await st.boot())["status"])
            finally:
                await st.close()
        statuses = {
            charge_point_id: await refused(proxied_server, charge_point_id, headers=proxy_headers(certificate))
            for charge_point_id, (certificate, _) in wrong.items()
        }
        return booted, statuses

    booted, statuses = run(scenario)
    assert booted == ["Accepted", "Accepted"]
    assert statuses == dict.fromkeys(wrong, 403)
    for charge_point_id, (_, reason) in wrong.items():
        message = refusal_message(charge_point_id)
        assert message.startswith("client certificate refused: ") and reason in message, message


@pytest.mark.django_db(transaction=True)
def test_the_forwarded_certificate_is_ignored_from_an_address_that_is_no_trusted_proxy(ocpp_server, operator_ca):
    """The session's server trusts no proxy: the same headers from 127.0.0.1 are the charger's own
    words, so it is on plain ws without a certificate."""
    station("ST3-UNTRUSTED", SecurityProfile.TLS_CLIENT_CERTIFICATE)
    certificate = issue(operator_ca[0], common_name="ST3-UNTRUSTED")

    assert run(lambda: refused(ocpp_server, "ST3-UNTRUSTED", headers=proxy_headers(certificate))) == 403
    assert refusal_message("ST3-UNTRUSTED") == "security profile 3 needs TLS (wss://): refused on plain ws"


def press_security(session, server, charger: Charger, slug: str, data: dict | None = None) -> str:
    """Post a security button's form on the charger's admin page; the page that comes back."""
    url = f"{server.http_url}/admin/chargers/charger/{charger.pk}/security/{slug}/"
    session.get(url, timeout=HTTP_TIMEOUT_S).raise_for_status()
    response = session.post(
        url, data={**(data or {}), "csrfmiddlewaretoken": session.cookies["csrftoken"]}, timeout=HTTP_TIMEOUT_S
    )
    assert response.status_code == 200, response.text[:2000]
    return html.unescape(response.text)


@pytest.mark.django_db(transaction=True)
def test_sign_certificate_issues_the_stations_certificate_which_the_admin_lists_and_profile_3_accepts(
    proxied_server, operator_ca
):
    ca, _ = operator_ca
    charger = station("ST3-SIGN", SecurityProfile.BASIC_AUTH)
    seen = {}

    async def scenario():
        async with sim_station(proxied_server, "ST3-SIGN", password=PASSWORD) as st:
            seen["answer"] = await st.sign_certificate()
            await st.wait_for(lambda: st.certificate_pem, what="CertificateSigned")
            seen["other"] = await st.sign_certificate(common_name="ST3-SOMEONE-ELSE")
            seen["station"] = st
        row = await in_a_thread(eventually, lambda: Certificate.objects.filter(charger=charger).first(), 10)
        await in_a_thread(lambda: Charger.objects.filter(pk=charger.pk).update(security_profile=3))
        again = SimStation("ST3-SIGN")  # the same station, its key and new certificate, no password
        again._key = st.key
        await again.connect(
            proxied_server, headers=proxy_headers(x509.load_pem_x509_certificate(st.certificate_pem.encode()))
        )
        try:
            seen["heartbeat"] = await again.heartbeat()
        finally:
            await again.close()
        session = await in_a_thread(admin_session, proxied_server)
        seen["list"] = await in_a_thread(session.get, f"{proxied_server.http_url}/admin/chargers/certificate/")
        seen["page"] = await in_a_thread(
            session.get, f"{proxied_server.http_url}/admin/chargers/charger/{charger.pk}/change/"
        )
        return row

    row = run(scenario)
    st = seen["station"]
    assert seen["answer"] == {"status": "Accepted"}
    [signed] = st.sent("CertificateSigned")
    assert signed["certificateType"] == "ChargingStationCertificate"
    leaf = x509.load_pem_x509_certificate(st.certificate_pem.encode())
    leaf.verify_directly_issued_by(ca.certificate)
    assert leaf.subject.rfc4514_string() == "CN=ST3-SIGN,O=Gray Logic"
    assert seen["other"]["status"] == "Rejected"
    assert "SignCertificate rejected: CSR refused: CN 'ST3-SOMEONE-ELSE'" in " ".join(
        ChargerEvent.objects.filter(charger=charger, kind=ChargerEvent.Kind.CERTIFICATE).values_list(
            "message", flat=True
        )
    )
    assert "currentTime" in seen["heartbeat"]

    assert (row.kind, row.subject, row.not_after) == (
        Certificate.Kind.CHARGING_STATION,
        "CN=ST3-SIGN,O=Gray Logic",
        leaf.not_valid_after_utc,
    )
    expires = f"{leaf.not_valid_after_utc:%b}"  # the admin's date format names the month
    for page in (seen["list"], seen["page"]):
        text = html.unescape(page.text)
        assert page.status_code == 200 and "CN=ST3-SIGN,O=Gray Logic" in text and expires in text
        assert str(leaf.not_valid_after_utc.year) in text


@pytest.mark.django_db(transaction=True)
def test_an_ocpp16_charge_point_gets_its_certificate_by_the_security_extensions_sign_certificate(
    proxied_server, operator_ca
):
    charger = make_charger(charge_point_id="CP16-SIGN", password=PASSWORD)

    async def scenario():
        async with sim_charger(proxied_server, "CP16-SIGN", password=PASSWORD) as cp:
            answer = await cp.sign_certificate()
            await cp.wait_for(lambda: cp.certificate_pem, what="CertificateSigned")
            other = await cp.sign_certificate(common_name="CP16-OTHER")
        row = await in_a_thread(eventually, lambda: Certificate.objects.filter(charger=charger).first(), 10)
        return answer, other, cp, row

    answer, other, cp, row = run(scenario)
    assert (answer, other) == ({"status": "Accepted"}, {"status": "Rejected"})
    leaf = x509.load_pem_x509_certificate(cp.certificate_pem.encode())
    leaf.verify_directly_issued_by(operator_ca[0].certificate)
    assert [set(sent) for sent in cp.sent("CertificateSigned")] == [{"certificateChain"}]
    assert (row.kind, row.subject) == (Certificate.Kind.CHARGING_STATION, "CN=CP16-SIGN,O=Gray Logic")


@pytest.mark.django_db(transaction=True)
def test_the_ca_is_made_on_first_use_with_its_key_readable_by_the_server_alone(tls_server):
    server, cert, ca_dir = tls_server
    assert not (ca_dir / "ca.key").exists()
    station("ST-FIRST-CA", SecurityProfile.TLS_BASIC_AUTH)
    trust = ssl.create_default_context(cafile=str(cert))
    trust.check_hostname = False

    async def scenario():
        st = SimStation("ST-FIRST-CA", password=PASSWORD)
        await st.connect(server, ssl_context=trust)
        try:
            await st.boot()
            answer = await st.sign_certificate()
            await st.wait_for(lambda: st.certificate_pem, what="CertificateSigned")
        finally:
            await st.close()
        return answer, st

    answer, st = run(scenario)
    assert answer["status"] == "Accepted"
    ca = x509.load_pem_x509_certificate((ca_dir / "ca.crt").read_bytes())
    x509.load_pem_x509_certificate(st.certificate_pem.encode()).verify_directly_issued_by(ca)
    assert ca.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == OPERATOR
    assert stat.S_IMODE(os.stat(ca_dir / "ca.key").st_mode) == 0o600


@pytest.mark.django_db(transaction=True)
def test_the_admin_installs_our_root_and_raises_the_security_profile_once_the_station_accepts(
    proxied_server, operator_ca
):
    ca, _ = operator_ca
    charger = station("ST-RAISE", SecurityProfile.BASIC_AUTH)
    seen = {}

    async def scenario():
        async with sim_station(proxied_server, "ST-RAISE", password=PASSWORD) as st:
            # Raised to 2, it reconnects through the TLS proxy (which says so in X-Forwarded-Proto).
            st.secure_reconnect = {"headers": proxy_headers(None)}
            session = await in_a_thread(admin_session, proxied_server)
            page = await in_a_thread(
                session.get, f"{proxied_server.http_url}/admin/chargers/charger/{charger.pk}/change/"
            )
            seen["buttons"] = html.unescape(page.text)
            seen["root"] = await in_a_thread(press_security, session, proxied_server, charger, "install-root")
            seen["raise"] = await in_a_thread(
                press_security, session, proxied_server, charger, "raise-profile", {"security_profile": 2}
            )
            await st.follow_ups_done()
            seen["heartbeat"] = await st.heartbeat()  # on its new connection
            seen["station"] = st
        seen["plain"] = await refused(proxied_server, "ST-RAISE")

    run(scenario)
    st = seen["station"]
    for label in ("Install the CSMS root certificate", "Raise security profile", "Change the charger's password"):
        assert label in seen["buttons"]
    assert "The station installed this server's root certificate." in seen["root"]
    assert st.installed_roots["CSMSRootCertificate"] == pem_text(ca.certificate)
    assert Certificate.objects.get(charger=charger, kind=Certificate.Kind.CSMS_ROOT).subject == (
        "CN=Test operator CA,O=Gray Logic"
    )

    [set_variables] = [
        p for p in st.sent("SetVariables") if p["setVariableData"][0]["variable"]["name"] == "SecurityProfile"
    ]
    assert set_variables["setVariableData"] == [
        {"attributeValue": "2", "component": {"name": "SecurityCtrlr"}, "variable": {"name": "SecurityProfile"}}
    ]
    assert "Security profile 2: the station reconnects with it." in seen["raise"]
    assert Charger.objects.get(pk=charger.pk).security_profile == SecurityProfile.TLS_BASIC_AUTH
    assert "currentTime" in seen["heartbeat"]
    assert seen["plain"] == 403 and "security profile 2 needs TLS" in refusal_message("ST-RAISE")


@pytest.mark.django_db(transaction=True)
def test_the_admin_changes_the_password_and_the_station_reconnects_with_the_new_one(proxied_server):
    charger = station("ST-NEWPW", SecurityProfile.BASIC_AUTH)
    new_password = "a-brand-new-password-42"
    seen = {}

    async def scenario():
        async with sim_station(proxied_server, "ST-NEWPW", password=PASSWORD) as st:
            session = await in_a_thread(admin_session, proxied_server)
            seen["short"] = await in_a_thread(
                press_security, session, proxied_server, charger, "change-password", {"new_password": "too-short"}
            )
            seen["page"] = await in_a_thread(
                press_security, session, proxied_server, charger, "change-password", {"new_password": new_password}
            )
            await st.follow_ups_done()
            await st.reconnect()
            seen["heartbeat"] = await st.heartbeat()
            seen["station"] = st
        seen["old"] = await refused(proxied_server, "ST-NEWPW")

    run(scenario)
    st = seen["station"]
    assert "Ensure this value has at least 16 characters" in seen["short"]
    assert [p["setVariableData"] for p in st.sent("SetVariables") if "BasicAuthPassword" in str(p)] == [
        [
            {
                "attributeValue": new_password,
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"},
            }
        ]
    ]
    assert "New password stored: the station uses it from its next connection." in seen["page"]
    stored = Charger.objects.get(pk=charger.pk)
    assert charger_password_matches(password=new_password, password_hash=stored.password_hash, password_env="")
    assert st.password == new_password and "currentTime" in seen["heartbeat"]
    assert seen["old"] == 403 and refusal_message("ST-NEWPW") == "wrong password"


@pytest.mark.django_db(transaction=True)
def test_a_profile_the_station_refuses_changes_nothing_on_the_server(proxied_server):
    """Without our root installed a station refuses profile 2 (A05): the server keeps expecting 1."""
    charger = station("ST-NORAISE", SecurityProfile.BASIC_AUTH)
    seen = {}

    async def scenario():
        async with sim_station(proxied_server, "ST-NORAISE", password=PASSWORD) as st:
            session = await in_a_thread(admin_session, proxied_server)
            seen["page"] = await in_a_thread(
                press_security, session, proxied_server, charger, "raise-profile", {"security_profile": 2}
            )
            await st.follow_ups_done()
            seen["heartbeat"] = await st.heartbeat()  # the same connection, still profile 1
        async with sim_station(proxied_server, "ST-NORAISE", password=PASSWORD, boot=False) as again:
            seen["plain ws"] = await again.heartbeat()

    run(scenario)
    assert "The station kept security profile 1." in seen["page"]
    assert Charger.objects.get(pk=charger.pk).security_profile == SecurityProfile.BASIC_AUTH
    assert "currentTime" in seen["heartbeat"] and "currentTime" in seen["plain ws"]


def test_manage_ocpp_ca_makes_the_ca_once_and_prints_its_certificate(tmp_path, settings):
    settings.OCPP_CA_DIR = tmp_path / "ca"
    printed = [io.StringIO(), io.StringIO()]
    for out in printed:
        call_command("ocpp_ca", stdout=out, stderr=io.StringIO())

    first, second = (x509.load_pem_x509_certificate(out.getvalue().encode()) for out in printed)
    assert first == second == x509.load_pem_x509_certificate((tmp_path / "ca" / "ca.crt").read_bytes())
    assert first.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert stat.S_IMODE(os.stat(tmp_path / "ca" / "ca.key").st_mode) == 0o600


def test_a_ca_that_cannot_be_read_or_made_refuses_the_certificate_instead_of_failing_the_handshake(tmp_path, settings):
    (tmp_path / "a-file").write_text("")
    settings.OCPP_CA_DIR = tmp_path / "a-file" / "ca"  # read-only installs: nowhere to make it
    header = quote(pem_text(issue(TABLE_CA, common_name="ST3-1")), safe="").encode()

    problem = door._certificate_problem(
        charger=Charger(charge_point_id="ST3-1"), transport=Transport(tls=True, client_certificate_header=header)
    )
    assert problem == "this server's CA cannot be read (the server log says why)"


@pytest.mark.django_db
def test_a_profile_3_charger_without_a_password_is_not_shown_as_open_to_anyone(admin_client):
    by_certificate = make_charger(charge_point_id="ST3-NOPW", security_profile=SecurityProfile.TLS_CLIENT_CERTIFICATE)
    open_one = make_charger(charge_point_id="ST1-NOPW")

    def page(charger: Charger) -> str:
        response = admin_client.get(reverse("admin:chargers_charger_change", args=[charger.pk]))
        assert response.status_code == 200
        return response.content.decode()

    assert 'id="charger-open-warning"' not in page(by_certificate)
    assert 'id="charger-open-warning"' in page(open_one)


@pytest.mark.django_db(transaction=True)
def test_the_admin_takes_a_station_to_profile_3_once_it_holds_our_root_and_its_own_certificate(proxied_server):
    """The path docs/security.md gives: profile 3 is refused by the station until it has our root
    and its certificate; then it reconnects with the certificate alone."""
    charger = station("ST-TO3", SecurityProfile.BASIC_AUTH)
    seen = {}

    async def scenario():
        async with sim_station(proxied_server, "ST-TO3", password=PASSWORD) as st:
            session = await in_a_thread(admin_session, proxied_server)
            raise_to_3 = (press_security, session, proxied_server, charger, "raise-profile", {"security_profile": 3})
            seen["too early"] = await in_a_thread(*raise_to_3)
            await in_a_thread(press_security, session, proxied_server, charger, "install-root")
            await st.sign_certificate()
            await st.wait_for(lambda: st.certificate_pem, what="CertificateSigned")
            own = x509.load_pem_x509_certificate(st.certificate_pem.encode())
            st.password, st.secure_reconnect = None, {"headers": proxy_headers(own)}
            seen["raised"] = await in_a_thread(*raise_to_3)
            await st.follow_ups_done()
            seen["heartbeat"] = await st.heartbeat()
        seen["with the password only"] = await refused(proxied_server, "ST-TO3")

    run(scenario)
    assert "The station kept security profile 1." in seen["too early"]
    assert "Security profile 3: the station reconnects with it." in seen["raised"]
    assert Charger.objects.get(pk=charger.pk).security_profile == SecurityProfile.TLS_CLIENT_CERTIFICATE
    assert "currentTime" in seen["heartbeat"]
    assert seen["with the password only"] == 403
    assert refusal_message("ST-TO3") == "security profile 3 needs TLS (wss://): refused on plain ws"
