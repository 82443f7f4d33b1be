"""The OCPP 1.6 security extension's SignCertificate (the 1.6 security whitepaper, use case
A02): a charge point asks for its certificate, answered by the server's CA
(chargers/ocpp/security.py), then CertificateSigned with the chain, as in 2.0.1."""

from ocpp.routing import after, on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action, GenericStatus

from chargers.ocpp.security import StationCertificates
from chargers.protocols import ChargerCall, wire_payload


class SecurityHandlers16(StationCertificates):
    """Mixed into ChargePoint16: the security extension's messages a charge point sends."""

    @on(Action.sign_certificate, skip_schema_validation=True)
    async def on_sign_certificate(self, csr: str, **kwargs):
        """Sign the charge point's CSR now (Rejected if it names another charger or operator)."""
        status = GenericStatus.accepted if await self.csr_sign(csr) else GenericStatus.rejected
        return call_result.SignCertificate(status=status)

    @after(Action.sign_certificate)
    async def after_sign_certificate(self, csr: str, **kwargs):
        """CertificateSigned with the chain; kept for the admin once the charge point accepts it."""
        chain = self.signed_chain(csr)
        if chain is not None:
            request = call.CertificateSigned(certificate_chain=chain)
            await self.certificate_deliver(csr, ChargerCall(action="CertificateSigned", payload=wire_payload(request)))
