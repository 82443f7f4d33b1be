"""The security buttons of a charger's admin page (OCPP 2.0.1 only): install this server's CA as
the station's CSMS root (InstallCertificate), raise its security profile and change its HTTP
Basic password (SetVariables on SecurityCtrlr). The server changes what it expects of the
charger only once the station answered Accepted, so a refused change never locks it out.
Also the certificates issued to or installed on chargers, listed read-only with their expiry."""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from ocpp.v201 import call
from ocpp.v201.datatypes import ComponentType, SetVariableDataType, VariableType
from ocpp.v201.enums import InstallCertificateUseEnumType

from chargers.certificates import certificate_record, pem, server_ca
from chargers.commands import CommandFailed, charger_command_sync
from chargers.failures import failure_sentence
from chargers.models import OCPP201, Certificate, Charger, SecurityProfile
from chargers.protocols import wire_payload
from chargers.services import charger_set_password
from graylogic.admin_utils import ReadOnlyTabularInline

logger = logging.getLogger(__name__)
T = TypeVar("T")

# OCPP 2.0.1 part 2, A00: BasicAuthPassword is 16 to 40 characters.
PASSWORD_MIN_CHARS, PASSWORD_MAX_CHARS = 16, 40
CERTIFICATE_FIELDS = ["kind", "subject", "issuer", "not_before", "not_after", "serial_number", "fingerprint_sha256"]


def security_variable_set(variable: str, value: str) -> dict:
    """SetVariables of one SecurityCtrlr variable, as its wire payload."""
    data = SetVariableDataType(
        attribute_value=value, component=ComponentType(name="SecurityCtrlr"), variable=VariableType(name=variable)
    )
    return wire_payload(call.SetVariables(set_variable_data=[data]))


def set_variable_accepted(answer: dict) -> bool:
    results = answer.get("setVariableResult") or []
    return len(results) == 1 and results[0].get("attributeStatus") == "Accepted"


@dataclass(frozen=True)
class Outcome:
    level: str  # as the messages framework names it
    summary: str
    answer: dict

    @property
    def answer_json(self) -> str:
        return json.dumps(self.answer, indent=2, ensure_ascii=False)


class NoParametersForm(forms.Form):
    def __init__(self, *args, charger: Charger, **kwargs):
        super().__init__(*args, **kwargs)
        self.charger = charger


class RaiseProfileForm(NoParametersForm):
    security_profile = forms.TypedChoiceField(
        coerce=int,
        help_text="A station never goes back to a lower profile (A05). Before 3 it needs its own "
        "certificate (it asks with SignCertificate) and before 2 or 3 this server's root.",
    )

    def __init__(self, *args, charger: Charger, **kwargs):
        super().__init__(*args, charger=charger, **kwargs)
        self.fields["security_profile"].choices = [
            (value, label) for value, label in SecurityProfile.choices if value > charger.security_profile
        ]


class ChangePasswordForm(NoParametersForm):
    new_password = forms.CharField(
        strip=False,
        min_length=PASSWORD_MIN_CHARS,
        max_length=PASSWORD_MAX_CHARS,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=f"{PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters, as OCPP 2.0.1 requires.",
    )

    def clean(self) -> dict:
        if self.charger.password_env:
            raise forms.ValidationError(
                f"This charger's password comes from the environment variable {self.charger.password_env}: "
                "clear it under Credentials first."
            )
        return super().clean()


def root_install(*, charger: Charger, cleaned: dict, requested_by: str) -> Outcome:
    """The CA's certificate becomes the station's CSMS root: what it checks our TLS server against."""
    certificate = server_ca().certificate
    request = call.InstallCertificate(
        certificate_type=InstallCertificateUseEnumType.csms_root_certificate, certificate=pem(certificate)
    )
    answer = charger_command_sync(
        charge_point_id=charger.charge_point_id,
        action="InstallCertificate",
        payload=wire_payload(request),
        requested_by=requested_by,
    )
    if answer.get("status") != "Accepted":
        return Outcome("error", f"The station did not install the root certificate: {answer.get('status')}.", answer)
    certificate_record(charger_pk=charger.pk, kind=Certificate.Kind.CSMS_ROOT, certificate=certificate)
    return Outcome("success", "The station installed this server's root certificate.", answer)


def profile_raise(*, charger: Charger, cleaned: dict, requested_by: str) -> Outcome:
    """SecurityCtrlr.SecurityProfile; on Accepted the station reconnects with it, and only then
    does the server require it."""
    profile = cleaned["security_profile"]
    answer = charger_command_sync(
        charge_point_id=charger.charge_point_id,
        action="SetVariables",
        payload=security_variable_set("SecurityProfile", str(profile)),
        requested_by=requested_by,
    )
    if not set_variable_accepted(answer):
        return Outcome("error", f"The station kept security profile {charger.security_profile}.", answer)
    Charger.objects.filter(pk=charger.pk).update(security_profile=profile)
    return Outcome("success", f"Security profile {profile}: the station reconnects with it.", answer)


def password_change(*, charger: Charger, cleaned: dict, requested_by: str) -> Outcome:
    """SecurityCtrlr.BasicAuthPassword; the new password is stored only once the station took it."""
    password = cleaned["new_password"]
    answer = charger_command_sync(
        charge_point_id=charger.charge_point_id,
        action="SetVariables",
        payload=security_variable_set("BasicAuthPassword", password),
        requested_by=requested_by,
    )
    if not set_variable_accepted(answer):
        return Outcome("error", "The station kept its password; the server expects the old one still.", answer)
    charger_set_password(charger=charger, password=password)
    return Outcome("success", "New password stored: the station uses it from its next connection.", answer)


@dataclass(frozen=True)
class SecurityCommand:
    slug: str
    label: str
    action: str
    description: str
    form: type[NoParametersForm]
    send: Callable[..., Outcome]


SECURITY_COMMANDS = {
    command.slug: command
    for command in (
        SecurityCommand(
            "install-root",
            "Install the CSMS root certificate",
            "InstallCertificate",
            "Sends this server's CA certificate as the station's CSMSRootCertificate.",
            NoParametersForm,
            root_install,
        ),
        SecurityCommand(
            "raise-profile",
            "Raise security profile",
            "SetVariables",
            "Sets SecurityCtrlr.SecurityProfile; the station reconnects with the new profile.",
            RaiseProfileForm,
            profile_raise,
        ),
        SecurityCommand(
            "change-password",
            "Change the charger's password",
            "SetVariables",
            "Sets SecurityCtrlr.BasicAuthPassword; the server stores it once the station accepts it.",
            ChangePasswordForm,
            password_change,
        ),
    )
}


def security_command_links(charger: Charger) -> list[dict]:
    """The security buttons on a 2.0.1 charger's page."""
    if charger.protocol != OCPP201:
        return []
    return [
        {
            "label": command.label,
            "url": reverse("admin:chargers_charger_security", args=[charger.pk, command.slug]),
            "supported": True,
        }
        for command in SECURITY_COMMANDS.values()
    ]


class CertificateInline(ReadOnlyTabularInline):
    model = Certificate
    fields = CERTIFICATE_FIELDS
    verbose_name_plural = "certificates (issued to or installed on this charger)"


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    list_display = ["charger", "kind", "subject", "not_after", "serial_number"]
    list_filter = ["kind"]
    list_select_related = ["charger"]
    search_fields = ["charger__charge_point_id", "subject", "serial_number", "fingerprint_sha256"]
    fields = ["charger", *CERTIFICATE_FIELDS, "pem", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ChargerSecurityAdmin:
    """Mixed into ChargerAdmin: one page per security button, and how any button's failure is
    told to the installer (_command_sent, which the command buttons use too)."""

    def get_urls(self):
        return [
            path(
                "<path:object_id>/security/<slug:slug>/",
                self.admin_site.admin_view(self.security_view),
                name="chargers_charger_security",
            ),
            *super().get_urls(),
        ]

    def security_view(self, request: HttpRequest, object_id: str, slug: str) -> HttpResponse:
        """GET: the form. POST: send it and show the station's answer on the same page."""
        charger = self.get_object(request, unquote(object_id))
        if charger is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, charger):
            raise PermissionDenied
        command = SECURITY_COMMANDS.get(slug)
        if command is None or charger.protocol != OCPP201:
            raise Http404(f"No security command {slug!r} for this charger")
        result = None
        form = command.form(request.POST or None, charger=charger)
        if request.method == "POST" and form.is_valid():
            result = self._security_send(request, charger, command, form.cleaned_data)
        return self._command_page(request, charger, command, form=form, result=result, supported=True)

    def _command_page(self, request: HttpRequest, charger: Charger, command, **context) -> TemplateResponse:
        """A button's page of the charger (its form, then the charger's answer), any button's."""
        context = {
            **self.admin_site.each_context(request),
            "title": f"{command.label}: {charger}",
            "subtitle": None,
            "opts": self.opts,
            "original": charger,
            "charger": charger,
            "command": command,
            "command_links": self.command_links(charger),
            "has_view_permission": self.has_view_permission(request, charger),
            **context,
        }
        return TemplateResponse(request, "admin/chargers/charger/command.html", context)

    def _command_sent(self, request: HttpRequest, charger: Charger, what: str, send: Callable[[str], T]) -> T | None:
        """send(requested_by) for a button of the charger's page: what it returns, or None once
        the installer was told why it failed (a message, never a server error page)."""
        try:
            return send(f"admin:{request.user.get_username()}")
        except CommandFailed as failure:
            message = failure_sentence(
                charge_point_id=charger.charge_point_id, failure=failure, timeout_s=settings.OCPP_COMMAND_TIMEOUT_S
            )
            self.message_user(request, message, messages.ERROR)
        except Exception:
            logger.exception("%s: admin command %s failed", charger.charge_point_id, what)
            self.message_user(
                request, "The command failed unexpectedly; the server log has the details.", messages.ERROR
            )
        return None

    def _security_send(
        self, request: HttpRequest, charger: Charger, command: SecurityCommand, cleaned: dict
    ) -> Outcome | None:
        outcome = self._command_sent(
            request,
            charger,
            command.slug,
            lambda requested_by: command.send(charger=charger, cleaned=cleaned, requested_by=requested_by),
        )
        if outcome is not None:
            self.message_user(request, outcome.summary, getattr(messages, outcome.level.upper()))
        return outcome
