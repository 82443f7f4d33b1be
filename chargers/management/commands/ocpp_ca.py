"""Make the local CA of OCPP security profile 3 now, as the user the servers run as, and print
its certificate (the CSMS root a charger is given). Scaled servers run read-only (systemd
ProtectSystem=strict): they read the CA in OCPP_CA_DIR but cannot make it on first use."""

from django.conf import settings
from django.core.management.base import BaseCommand

from chargers.certificates import certificate_facts, pem, server_ca


class Command(BaseCommand):
    help = "Make the local CA in OCPP_CA_DIR if it is missing, and print its certificate (PEM) and expiry."

    def handle(self, *args, **options) -> None:
        ca = server_ca()
        facts = certificate_facts(ca.certificate)
        self.stderr.write(f"{settings.OCPP_CA_DIR}: {facts.subject}, expires {facts.not_after:%Y-%m-%d}")
        self.stdout.write(pem(ca.certificate), ending="")
