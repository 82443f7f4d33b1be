"""A charger's known quirks and the profile fallbacks its rejections taught energy control, on its
admin page; the whole registry of known quirks on a page of its own; an action that forgets the
learned fallbacks once the installer fixed the charger."""

from collections import Counter

from django.contrib import admin, messages
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from chargers.models import Charger
from chargers.quirks import REGISTRY, Quirk, learned_in_words, quirks_by_id
from chargers.services import charger_limit_fallbacks_forget

QUIRKS_FIELDS = ["known_quirks", "learned_fallbacks"]


def quirk_changes(quirk: Quirk) -> str:
    return "; ".join(quirk.changes) or "advice only"


class ChargerQuirksAdmin:
    """For ChargerAdmin: read-only fields, the registry page and the forget action."""

    @admin.display(description="known quirks")
    def known_quirks(self, charger: Charger) -> str:
        registry = format_html('<a href="{}">All known quirks</a>', reverse("admin:chargers_charger_known_quirks"))
        matched = quirks_by_id(charger.quirks or [])
        if not matched:
            return format_html("None matched its vendor, model and firmware at its last boot. {}", registry)
        rows = format_html_join(
            "",
            '<li>{} <em>({})</em> <a href="{}" rel="noreferrer">source</a></li>',
            ((quirk.sentence, quirk_changes(quirk), quirk.source) for quirk in matched),
        )
        return format_html("<ul>{}</ul>{}", rows, registry)

    @admin.display(description="profile fallbacks learned")
    def learned_fallbacks(self, charger: Charger) -> str:
        steps = learned_in_words(charger.limit_fallbacks)
        if not steps:
            return "None: the charger took every limit as sent."
        rows = format_html_join("", "<li>{}.</li>", ((step,) for step in steps))
        return format_html(
            "<ul>{}</ul>Once the charger is fixed, the action “Forget learned profile fallbacks” in the "
            "charger list starts it again from its configuration and known quirks.",
            rows,
        )

    @admin.action(description="Forget learned profile fallbacks")
    def forget_limit_fallbacks(self, request: HttpRequest, queryset) -> None:
        chargers = list(queryset.exclude(limit_fallbacks={}))
        for charger in chargers:
            charger_limit_fallbacks_forget(charger_pk=charger.pk)
        self.message_user(
            request,
            f"Forgot the learned profile fallbacks of {len(chargers)} charger(s); their next limits go "
            "out as their configuration and known quirks say.",
            messages.SUCCESS,
        )

    def get_urls(self):
        return [
            path(
                "known-quirks/",
                self.admin_site.admin_view(self.known_quirks_view),
                name="chargers_charger_known_quirks",
            ),
            *super().get_urls(),
        ]

    def known_quirks_view(self, request: HttpRequest) -> TemplateResponse:
        """Every entry of chargers/quirks.py: what it matches, what it changes, its source."""
        # JSON containment is not a lookup SQLite has: counted here, one query.
        booted_with = Counter(quirk_id for ids in Charger.objects.values_list("quirks", flat=True) for quirk_id in ids)
        rows = [
            {
                "quirk": quirk,
                "model": quirk.model_prefix + "…" if quirk.model_prefix else "any",
                "firmware": f"below {quirk.firmware_below}" if quirk.firmware_below else "any",
                "changes": quirk_changes(quirk),
                "chargers": booted_with[quirk.id],
            }
            for quirk in REGISTRY
        ]
        context = {**self.admin_site.each_context(request), "opts": self.opts, "title": "Known charger quirks"}
        return TemplateResponse(request, "admin/chargers/charger/known_quirks.html", {**context, "rows": rows})
