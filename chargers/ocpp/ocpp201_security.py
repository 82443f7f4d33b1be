"""OCPP 2.0.1 security (part 2, A02): a station asks for its certificate with SignCertificate;
the server's CA (chargers/certificates.py) signs the CSR when it names the station and the
operator, answers Accepted, then sends the chain with CertificateSigned. The certificate is kept
for the admin once the station accepted it."""

import datetime as dt

from channels.db import database_sync_to_async
from cryptography import x509
from django.conf import settings
from ocpp.routing import after, on
from ocpp.v201 import call, call_result
from ocpp.v201.datatypes import StatusInfoType
from ocpp.v201.enums import Action, CertificateSigningUseEnumType, GenericStatusEnumType

from chargers.certificates import (
    CertificateRefused,
    certificate_record,
    chain_pem,
    charger_identities,
    server_ca,
    station_certificate_issue,
)
from chargers.models import Certificate, ChargerEvent
from chargers.protocols import ChargerCall, wire_payload
from chargers.services import charger_event_record

db = database_sync_to_async
# requested_by of the CertificateSigned this connection sends, in the command log.
CERTIFICATE_SIGNED_REQUESTED_BY = "SignCertificate from the station"


def _issue(*, charger_pk: int, csr: str) -> tuple[x509.Certificate, str]:
    """The station's certificate and the chain to send; CertificateRefused says why not."""
    ca = server_ca()
    certificate = station_certificate_issue(
        ca,
        csr,
        identities=charger_identities(charger_pk=charger_pk),
        organization=settings.OCPP_CERTIFICATE_ORGANIZATION,
        now=dt.datetime.now(dt.UTC),
    )
    return certificate, chain_pem(certificate, ca)


class SecurityHandlers201:
    """Mixed into ChargePoint201: the security messages a station sends."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # CSR -> (certificate, chain) signed in on_sign_certificate, sent by its after-handler.
        self._signed: dict[str, tuple[x509.Certificate, str]] = {}

    async def _security_record(self, message: str, payload: dict | None = None) -> None:
        await db(charger_event_record)(
            charge_point_id=self.id,
            charger_pk=self.charger_pk,
            kind=ChargerEvent.Kind.CERTIFICATE,
            message=message,
            remote_address=self.remote_address,
            payload=payload,
        )

    @on(Action.sign_certificate, skip_schema_validation=True)
    async def on_sign_certificate(self, csr: str, certificate_type: str | None = None, **kwargs):
        """Sign the station's CSR now (Rejected, and why in the log, if it names another station
        or operator); the chain follows in CertificateSigned once this is answered."""
        wanted = certificate_type or CertificateSigningUseEnumType.charging_station_certificate
        if wanted != CertificateSigningUseEnumType.charging_station_certificate:
            reason = f"{wanted} is signed by the V2G PKI, not by this server"
        else:
            try:
                signed = await db(_issue, thread_sensitive=False)(charger_pk=self.charger_pk, csr=csr)
            except CertificateRefused as error:
                reason = f"CSR refused: {error}"
            else:
                self._signed[csr] = signed
                return call_result.SignCertificate(status=GenericStatusEnumType.accepted)
        await self._security_record(f"SignCertificate rejected: {reason}")
        return call_result.SignCertificate(
            status=GenericStatusEnumType.rejected, status_info=StatusInfoType(reason_code="InvalidCSR")
        )

    @after(Action.sign_certificate)
    async def after_sign_certificate(self, csr: str, **kwargs):
        """CertificateSigned with the chain; kept for the admin once the station accepts it."""
        signed = self._signed.pop(csr, None)
        if signed is None:
            return
        certificate, chain = signed
        request = call.CertificateSigned(
            certificate_chain=chain, certificate_type=CertificateSigningUseEnumType.charging_station_certificate
        )
        reply = await self.call_and_record(
            ChargerCall(action="CertificateSigned", payload=wire_payload(request)), CERTIFICATE_SIGNED_REQUESTED_BY
        )
        status = (reply.get("response") or {}).get("status")
        if status != "Accepted":
            await self._security_record(f"CertificateSigned not accepted: {status or reply.get('error')}")
            return
        row = await db(certificate_record)(
            charger_pk=self.charger_pk, kind=Certificate.Kind.CHARGING_STATION, certificate=certificate
        )
        await self._security_record(f"certificate issued: {row.subject}, expires {row.not_after:%Y-%m-%d}")
