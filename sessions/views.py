"""The homeowner pages: Now (live state, refreshed by a small poll; each charger's mode and
target, the site's next hours), History (with month totals and a CSV export of the same filter)
and one session's detail with its power chart. Reads come from sessions/pages.py, the owner's
settings go through energy/owner_controls.py; these views only pick the form and the template."""

import csv
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.messages.storage.base import Message
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from chargers.models import Charger
from chargers.selectors import charger_list_visible
from energy.diagnosis import charger_diagnose
from energy.owner_controls import OwnerInputError, charger_mode_set, charger_target_set
from energy.sources import MODE_LABELS, ChargeMode
from sessions import pages
from sessions.accounting import calendar_safe
from sessions.charts import describe_power, power_chart_svg

PAGE_SIZE = 50
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
FIRST_MONTH_YEAR, LAST_MONTH_YEAR = 2, 9998
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class HistoryFilter(forms.Form):
    charger = forms.ChoiceField(required=False, label="Charger")
    month = forms.CharField(
        required=False,
        label="Month",
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"}),
        help_text="The month the session started, in the site's time.",
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        chargers = charger_list_visible(user=user).order_by("name", "charge_point_id")
        self.fields["charger"].choices = [("", "All chargers")] + [(c.charge_point_id, str(c)) for c in chargers]

    def clean_month(self) -> dt.date | None:
        value = self.cleaned_data["month"].strip()
        if not value:
            return None
        match = MONTH.match(value)
        if not match:
            raise forms.ValidationError("Use a month as YYYY-MM, e.g. 2026-01.")
        if not FIRST_MONTH_YEAR <= int(match[1]) <= LAST_MONTH_YEAR:
            # The month's first and last instant in a site's zone must fit in a datetime.
            raise forms.ValidationError(f"Use a month from {FIRST_MONTH_YEAR:04d}-01 to {LAST_MONTH_YEAR}-12.")
        return dt.date(int(match[1]), int(match[2]), 1)


def _filtered(request: HttpRequest) -> tuple[HistoryFilter, list[pages.SessionRow]]:
    form = HistoryFilter(request.GET or None, user=request.user)
    filters = form.cleaned_data if form.is_valid() else {}
    sessions = pages.session_list_visible(
        user=request.user, charge_point_id=filters.get("charger") or None, month=filters.get("month")
    )
    if form.is_bound and not form.is_valid():
        sessions = sessions.none()
    return form, pages.session_rows(sessions=sessions)


class ControlsForm(forms.Form):
    """A charger's mode and target as a person types them (kWh, not Wh). The rules (a time with
    an amount, amounts in range) are energy/owner_controls.py's, so the API says the same."""

    mode = forms.ChoiceField(label="Mode", choices=[(m.value, MODE_LABELS[m]) for m in ChargeMode])
    ready_by = forms.TimeField(
        label="Ready by", required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    energy_kwh = forms.DecimalField(
        label="Energy to add (kWh)",
        required=False,
        max_digits=9,
        decimal_places=3,
        widget=forms.NumberInput(attrs={"step": "any"}),
    )
    soc_percent = forms.IntegerField(label="or charge to (%)", required=False)
    battery_kwh = forms.DecimalField(
        label="Battery size (kWh)",
        required=False,
        max_digits=9,
        decimal_places=3,
        widget=forms.NumberInput(attrs={"step": "any"}),
    )

    @staticmethod
    def initial_for(charger: Charger) -> dict:
        control = charger.control
        return {
            "mode": control.mode,
            "ready_by": control.target_ready_by,
            "energy_kwh": _kwh(control.target_energy_wh),
            "soc_percent": control.target_soc_percent,
            "battery_kwh": _kwh(control.battery_capacity_wh),
        }


def _kwh(wh: int | None) -> Decimal | None:
    return Decimal(wh) / 1000 if wh is not None else None


def _wh(kwh: Decimal | None) -> int | None:
    return round(kwh * 1000) if kwh is not None else None


@dataclass(frozen=True)
class ChargerControls:
    """One charger's form on the Now page, and what became of its last post."""

    now: pages.ChargerNow
    form: ControlsForm
    notes: list[Message]


def _chargers_now(request: HttpRequest) -> list[pages.ChargerNow]:
    """Each charger's card, with what troubleshooting finds about it."""
    return [pages.now_diagnosed(c, charger_diagnose(charger=c.charger)) for c in pages.chargers_now(user=request.user)]


@require_GET
@login_required
def now(request: HttpRequest) -> HttpResponse:
    chargers = _chargers_now(request)
    notes: dict[str, list[Message]] = {}
    for message in messages.get_messages(request):
        notes.setdefault(message.extra_tags, []).append(message)
    controls = [
        ChargerControls(
            now=c,
            form=ControlsForm(initial=ControlsForm.initial_for(c.charger), auto_id=f"id_{c.charger.pk}_%s"),
            notes=notes.get(f"charger-{c.charger.pk}", []),
        )
        for c in chargers
    ]
    context = {"chargers": chargers, "controls": controls, "sites": pages.sites_now(chargers=chargers), "nav": "now"}
    return render(request, "homeowner/now.html", context)


@require_POST
@login_required
def charger_controls(request: HttpRequest, pk: int) -> HttpResponse:
    """The Now page's form for one charger: both mode and target are stored, or neither (then
    the reason shows beside the form). Redirects back to the page either way."""
    charger = get_object_or_404(charger_list_visible(user=request.user), pk=pk)
    tag = f"charger-{charger.pk}"
    form = ControlsForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items())
        messages.error(request, f"Nothing saved. {problems}", extra_tags=tag)
        return redirect(reverse("homeowner:now") + f"#controls-{charger.pk}")
    data = form.cleaned_data
    clearing = request.POST.get("action") == "clear"
    set_by = f"Now page ({request.user.get_username()})"
    try:
        with transaction.atomic():
            charger_mode_set(charger=charger, mode=data["mode"], set_by=set_by)
            control = charger_target_set(
                charger=charger,
                ready_by=None if clearing else data["ready_by"],
                energy_wh=None if clearing else _wh(data["energy_kwh"]),
                soc_percent=None if clearing else data["soc_percent"],
                battery_capacity_wh=None if clearing else _wh(data["battery_kwh"]),
                set_by=set_by,
            )
    except OwnerInputError as error:
        messages.error(request, f"Nothing saved: {error}.", extra_tags=tag)
    else:
        target = pages.target_words(control=control) or "no target"
        messages.success(request, f"Saved: {MODE_LABELS[ChargeMode(control.mode)]}; {target}.", extra_tags=tag)
    return redirect(reverse("homeowner:now") + f"#controls-{charger.pk}")


@require_GET
@login_required
def now_live(request: HttpRequest) -> HttpResponse:
    """The Now page's charger cards alone, fetched every few seconds by static/homeowner/now.js."""
    response = render(request, "homeowner/_chargers.html", {"chargers": _chargers_now(request)})
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@login_required
def history(request: HttpRequest) -> HttpResponse:
    form, rows = _filtered(request)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "homeowner/history.html",
        {
            "form": form,
            "page": page,
            "totals": pages.session_month_totals(rows=rows),
            "query": query.urlencode(),
            "nav": "history",
        },
    )


CSV_COLUMNS = [
    "session",
    "charger",
    "started",
    "ended",
    "duration_min",
    "energy_kwh",
    "cost",
    "currency",
    "solar_percent",
    "id_tag",
    "stop_reason",
]


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@require_GET
@login_required
def history_csv(request: HttpRequest) -> HttpResponse:
    """Exactly the sessions the History page shows for the same filter (all pages)."""
    form, rows = _filtered(request)
    if form.is_bound and not form.is_valid():
        return HttpResponseBadRequest("; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="charging-sessions.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        s, f = row.session, row.figures
        writer.writerow(
            [
                s.transaction_id,
                _cell(str(s.charger)),
                row.started.isoformat(),
                row.ended.isoformat() if row.ended else "",
                round(row.duration.total_seconds() / 60) if row.duration is not None else "",
                f"{f.energy_wh / 1000:.3f}" if f.energy_wh is not None else "",
                f"{f.cost:.2f}" if f.cost is not None else "",
                f.currency,
                f"{f.solar_percent:.1f}" if f.solar_percent is not None else "",
                _cell(s.id_tag),
                _cell(s.stop_reason),
            ]
        )
    return response


@require_GET
@login_required
def session_detail(request: HttpRequest, transaction_id: int) -> HttpResponse:
    session = pages.session_get_visible(user=request.user, transaction_id=transaction_id)
    if session is None:
        raise Http404("No such session.")
    detail = pages.session_detail(session=session)
    zone = session.charger.site.zone
    # A start stored in year 1 or 9999 cannot be drawn in a zone: the chart keeps inside the range.
    start = calendar_safe(session.started_at)
    end = calendar_safe(session.stopped_at or dt.datetime.now(dt.UTC))
    chart = power_chart_svg(
        start=start,
        end=end,
        tz=zone,
        power=detail.power,
        limit=detail.limit,
        title=f"Power during session {session.transaction_id}",
        description=describe_power(power=detail.power, limit=detail.limit, start=start, end=end, tz=zone),
    )
    return render(request, "homeowner/session_detail.html", {"detail": detail, "row": detail.row, "chart": chart})
