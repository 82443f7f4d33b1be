"""The server's small certificate authority for OCPP security profile 3 (OCPP 2.0.1 part 2, A00
and A02; the 1.6 security whitepaper): it signs the charging stations' own certificates from
their CSRs (SignCertificate), and checks the client certificate a station connects with.

The CA lives as two files in OCPP_CA_DIR, created on first use (the key readable by the server's
user only, never in the database): `ca.crt` and `ca.key`. An installer with a CA of their own
puts its certificate and key there instead.

A station's certificate names the station in its CN (its charger id, or its serial number as
the whitepaper has it) and the operator in its O (OCPP_CERTIFICATE_ORGANIZATION).
"""

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

from chargers.models import Certificate, Charger

CA_CERT_FILE = "ca.crt"
CA_KEY_FILE = "ca.key"
CA_VALIDITY = dt.timedelta(days=20 * 365)
# A station renews its certificate itself before it expires (A02); two years is the usual span.
STATION_CERTIFICATE_VALIDITY = dt.timedelta(days=2 * 365)
# The CA's clock and a station's may differ: a new certificate is valid from a little earlier.
BACKDATE = dt.timedelta(minutes=5)


class CertificateRefused(ValueError):
    """A CSR or certificate this server will not sign or accept; the message says why."""


@dataclass(frozen=True)
class LocalCA:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class CertificateFacts:
    """What the admin lists of a certificate (the fields of chargers.models.Certificate)."""

    serial_number: str
    subject: str
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime
    fingerprint_sha256: str
    pem: str


def _name_value(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if len(values) == 1 else None


def certificate_from_pem(text: str) -> x509.Certificate:
    """The first certificate of a PEM text."""
    try:
        return x509.load_pem_x509_certificate(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as error:
        raise CertificateRefused(f"not a PEM certificate ({error})") from error


def forwarded_certificate_pem(header: bytes) -> str:
    """nginx's $ssl_client_escaped_cert is the PEM URL-encoded; the older $ssl_client_cert is the
    PEM with its line breaks turned into tabs."""
    text = unquote(header.decode("latin-1")).strip()
    return text if "\n" in text else text.replace("\t", "\n")


def certificate_facts(certificate: x509.Certificate) -> CertificateFacts:
    return CertificateFacts(
        serial_number=f"{certificate.serial_number:x}",
        subject=certificate.subject.rfc4514_string()[:300],
        issuer=certificate.issuer.rfc4514_string()[:300],
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        fingerprint_sha256=hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest(),
        pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    )


def subject_problem(name: x509.Name, *, identities: set[str], organization: str) -> str | None:
    """A00: the CN is the station (its id or serial number), the O the operator."""
    common_name = _name_value(name, NameOID.COMMON_NAME)
    if common_name is None or common_name not in identities:
        return f"CN {common_name!r} is not this charger's id or serial number ({', '.join(sorted(identities))})"
    found = _name_value(name, NameOID.ORGANIZATION_NAME)
    if found != organization:
        return f"O {found!r} is not the operator {organization!r}"
    return None


def client_certificate_problem(
    certificate: x509.Certificate,
    *,
    ca_certificate: x509.Certificate,
    identities: set[str],
    organization: str,
    now: dt.datetime,
) -> str | None:
    """Why a station's client certificate is refused, or None: not issued by our CA, outside its
    validity, or naming another station or operator."""
    try:
        certificate.verify_directly_issued_by(ca_certificate)
    except (ValueError, TypeError, InvalidSignature):
        return f"not issued by this server's CA (issuer {certificate.issuer.rfc4514_string()!r})"
    if now < certificate.not_valid_before_utc:
        return f"not valid before {certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
    if now > certificate.not_valid_after_utc:
        return f"expired at {certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
    return subject_problem(certificate.subject, identities=identities, organization=organization)


def station_identities(*, charge_point_id: str, serial_number: str) -> set[str]:
    return {charge_point_id, serial_number} - {""}


def station_certificate_issue(
    ca: LocalCA,
    csr_pem: str,
    *,
    identities: set[str],
    organization: str,
    now: dt.datetime,
    validity: dt.timedelta = STATION_CERTIFICATE_VALIDITY,
) -> x509.Certificate:
    """Sign a station's CSR (A02): its signature proves it holds the key, and its subject must
    name the station and the operator; the CA copies only the subject and the key."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as error:
        raise CertificateRefused(f"not a PEM certificate signing request ({error})") from error
    if not csr.is_signature_valid:
        raise CertificateRefused("the CSR's signature does not match its key")
    problem = subject_problem(csr.subject, identities=identities, organization=organization)
    if problem is not None:
        raise CertificateRefused(problem)
    return (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + validity, ca.certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )


def chain_pem(certificate: x509.Certificate, ca: LocalCA) -> str:
    """CertificateSigned's certificateChain: the station's certificate, then the CA's."""
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (certificate, ca.certificate)).decode("ascii")


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _new_ca(organization: str, now: dt.datetime) -> LocalCA:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organization} charging stations CA"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return LocalCA(certificate, key)


def local_ca(directory: Path, *, organization: str, now: dt.datetime) -> LocalCA:
    """The CA in `directory`, created on first use: the key is written first, exclusively and
    0600, so two processes starting at once cannot end up with two CAs."""
    cert_path, key_path = directory / CA_CERT_FILE, directory / CA_KEY_FILE
    if not cert_path.exists():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        ca = _new_ca(organization, now)
        key_pem = ca.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process is creating it, or the installer left a key without its certificate
        else:
            with os.fdopen(descriptor, "wb") as key_file:
                key_file.write(key_pem)
            temporary = cert_path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_bytes(ca.certificate.public_bytes(serialization.Encoding.PEM))
            temporary.replace(cert_path)
            return ca
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    return LocalCA(certificate, key)


def server_ca() -> LocalCA:
    """This server's CA, from the settings."""
    return local_ca(
        Path(settings.OCPP_CA_DIR),
        organization=settings.OCPP_CERTIFICATE_ORGANIZATION,
        now=dt.datetime.now(dt.UTC),
    )


def server_ca_certificate() -> x509.Certificate:
    """The CA's certificate alone, what checking a client needs (its key may be kept elsewhere
    by an installer whose stations get their certificates some other way)."""
    cert_path = Path(settings.OCPP_CA_DIR) / CA_CERT_FILE
    if cert_path.exists():
        return x509.load_pem_x509_certificate(cert_path.read_bytes())
    return server_ca().certificate


# --- The database side: what a charger holds -----------------------------------------------------


def certificate_record(*, charger_pk: int, kind: Certificate.Kind, certificate: x509.Certificate) -> Certificate:
    """Keep a certificate issued to or installed on a charger, for the admin's expiry list; the
    same certificate again is the same row."""
    facts = certificate_facts(certificate)
    row, _ = Certificate.objects.update_or_create(
        charger_id=charger_pk,
        kind=kind,
        fingerprint_sha256=facts.fingerprint_sha256,
        defaults={
            "serial_number": facts.serial_number,
            "subject": facts.subject,
            "issuer": facts.issuer,
            "not_before": facts.not_before,
            "not_after": facts.not_after,
            "pem": facts.pem,
        },
    )
    return row


def charger_identities(*, charger_pk: int) -> set[str]:
    """The names a station's certificate may carry in its CN."""
    charge_point_id, serial_number = Charger.objects.values_list("charge_point_id", "serial_number").get(pk=charger_pk)
    return station_identities(charge_point_id=charge_point_id, serial_number=serial_number)


def station_certificate_sign(*, charger_pk: int, csr: str) -> tuple[x509.Certificate, str]:
    """A charger's SignCertificate: its certificate and the chain to send it (CertificateRefused
    says why not)."""
    ca = server_ca()
    certificate = station_certificate_issue(
        ca,
        csr,
        identities=charger_identities(charger_pk=charger_pk),
        organization=settings.OCPP_CERTIFICATE_ORGANIZATION,
        now=dt.datetime.now(dt.UTC),
    )
    return certificate, chain_pem(certificate, ca)
