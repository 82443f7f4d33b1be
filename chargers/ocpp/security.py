"""Signing a station's certificate, in words of no OCPP version (OCPP 2.0.1 part 2, A02; the
OCPP 1.6 security whitepaper's SignCertificate): the CSR is signed when SignCertificate comes
(answered Rejected, and why in the log, if it names another station or operator); once it is
answered, CertificateSigned carries the chain, and the certificate is kept for the admin when
the station accepts it. The version mixins (ocpp16_security, ocpp201_security) route the
messages here."""

from channels.db import database_sync_to_async
from cryptography import x509

from chargers.certificates import CertificateRefused, certificate_record, station_certificate_sign
from chargers.models import Certificate, ChargerEvent
from chargers.protocols import ChargerCall
from chargers.services import charger_event_record

db = database_sync_to_async
# requested_by of the CertificateSigned a connection sends, in the command log.
CERTIFICATE_SIGNED_REQUESTED_BY = "SignCertificate from the station"


class StationCertificates:
    """Mixed into a version's ChargePoint, before CentralSystemChargePoint."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # CSR -> the certificate signed for it, until its CertificateSigned goes out.
        self._signed: dict[str, tuple[x509.Certificate, str]] = {}

    async def security_record(self, message: str) -> None:
        await db(charger_event_record)(
            charge_point_id=self.id,
            charger_pk=self.charger_pk,
            kind=ChargerEvent.Kind.CERTIFICATE,
            message=message,
            remote_address=self.remote_address,
        )

    async def csr_sign(self, csr: str) -> bool:
        """Sign now; whether SignCertificate is answered Accepted."""
        try:
            self._signed[csr] = await db(station_certificate_sign, thread_sensitive=False)(
                charger_pk=self.charger_pk, csr=csr
            )
        except CertificateRefused as error:
            await self.security_record(f"SignCertificate rejected: CSR refused: {error}")
            return False
        return True

    async def certificate_deliver(self, csr: str, request: ChargerCall) -> None:
        """CertificateSigned (request, built by the version from signed_chain(csr)) for the CSR
        signed by csr_sign; the certificate is kept once the station accepts it."""
        certificate, _ = self._signed.pop(csr)
        reply = await self.call_and_record(request, CERTIFICATE_SIGNED_REQUESTED_BY)
        status = (reply.get("response") or {}).get("status")
        if status != "Accepted":
            await self.security_record(f"CertificateSigned not accepted: {status or reply.get('error')}")
            return
        row = await db(certificate_record)(
            charger_pk=self.charger_pk, kind=Certificate.Kind.CHARGING_STATION, certificate=certificate
        )
        await self.security_record(f"certificate issued: {row.subject}, expires {row.not_after:%Y-%m-%d}")

    def signed_chain(self, csr: str) -> str | None:
        """The chain signed for this CSR, if SignCertificate was accepted."""
        signed = self._signed.get(csr)
        return signed[1] if signed else None
