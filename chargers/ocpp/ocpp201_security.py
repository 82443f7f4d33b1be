"""OCPP 2.0.1 security messages from a station (part 2, A02): SignCertificate, answered by the
server's CA (chargers/ocpp/security.py), then CertificateSigned with the chain."""

from ocpp.routing import after, on
from ocpp.v201 import call, call_result
from ocpp.v201.datatypes import StatusInfoType
from ocpp.v201.enums import Action, CertificateSigningUseEnumType, GenericStatusEnumType

from chargers.ocpp.security import StationCertificates
from chargers.protocols import ChargerCall, wire_payload


class SecurityHandlers201(StationCertificates):
    """Mixed into ChargePoint201: the security messages a station sends."""

    @on(Action.sign_certificate, skip_schema_validation=True)
    async def on_sign_certificate(self, csr: str, certificate_type: str | None = None, **kwargs):
        """Sign the station's CSR now (Rejected if it names another station or operator, or asks
        for a V2G certificate, which the V2G PKI signs); the chain follows in CertificateSigned."""
        wanted = certificate_type or CertificateSigningUseEnumType.charging_station_certificate
        if wanted != CertificateSigningUseEnumType.charging_station_certificate:
            await self.security_record(f"SignCertificate rejected: {wanted} is signed by the V2G PKI, not here")
        elif await self.csr_sign(csr):
            return call_result.SignCertificate(status=GenericStatusEnumType.accepted)
        return call_result.SignCertificate(
            status=GenericStatusEnumType.rejected, status_info=StatusInfoType(reason_code="InvalidCSR")
        )

    @after(Action.sign_certificate)
    async def after_sign_certificate(self, csr: str, **kwargs):
        """CertificateSigned with the chain; kept for the admin once the station accepts it."""
        chain = self.signed_chain(csr)
        if chain is None:
            return
        request = call.CertificateSigned(
            certificate_chain=chain, certificate_type=CertificateSigningUseEnumType.charging_station_certificate
        )
        await self.certificate_deliver(csr, ChargerCall(action="CertificateSigned", payload=wire_payload(request)))
