"""What a homeowner or another program tells energy control over the REST API (issue 28): a
charger's mode and target, a site's dynamic prices and solar forecast.

The rules are energy.owner_controls' (the Now page and MQTT share them): these views only read
JSON into typed values and turn an OwnerInputError into a 400 with its sentence; nothing is
stored then. Each answer shows what is now in force, with the charger's plan.
"""

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chargers import events
from chargers.apis import requested_by, visible_charger_or_404
from chargers.models import Charger
from energy.apis import FiniteFloatField, visible_site
from energy.models import ChargerControl, PriceSlot, Site, SolarForecastSlot
from energy.owner_controls import (
    SERIES_MAX_SLOTS,
    OwnerInputError,
    SeriesSlot,
    charger_mode_set,
    charger_target_set,
    site_prices_store,
    site_solar_forecast_store,
)
from energy.sources import ChargeMode
from graylogic.api import StrictIntegerField, error_responses

CHARGER_TAGS = ["chargers"]
ENERGY_TAGS = ["energy"]
# The planner's slots: each ends where the next starts, the last one this long after its start.
PLAN_SLOT_S = 900


@contextmanager
def owner_input() -> Iterator[None]:
    """A refused input is a 400 whose detail is owner_controls' sentence."""
    try:
        yield
    except OwnerInputError as error:
        raise exceptions.ValidationError(str(error)) from error


# --- the charger's controls, as every answer shows them ------------------------------------


@dataclass(frozen=True)
class PlanSlot:
    start: dt.datetime
    end: dt.datetime
    power_w: int


def plan_slots(plan: list | None) -> list[PlanSlot]:
    """The stored plan, [[slot start (Unix s), power (W)], ...], as slots with their ends."""
    rows = plan or []
    slots = []
    for i, (start_s, power_w) in enumerate(rows):
        end_s = rows[i + 1][0] if i + 1 < len(rows) else start_s + PLAN_SLOT_S
        slots.append(
            PlanSlot(
                start=dt.datetime.fromtimestamp(start_s, dt.UTC),
                end=dt.datetime.fromtimestamp(end_s, dt.UTC),
                power_w=round(power_w),
            )
        )
    return slots


def target_of(control: ChargerControl) -> dict | None:
    """The owner's target, or None when the charger follows the site's rules."""
    if control.target_ready_by is None:
        return None
    return {
        "ready_by": control.target_ready_by,
        "energy_wh": control.target_energy_wh,
        "soc_percent": control.target_soc_percent,
        "battery_capacity_wh": control.battery_capacity_wh,
        "set_at": control.target_set_at,
        "set_by": control.target_set_by,
    }


def owner_controls_of(charger: Charger, control: ChargerControl) -> dict:
    return {
        "charger_id": charger.charge_point_id,
        "mode": control.mode,
        "target": target_of(control),
        "plan_summary": control.plan_summary,
        "plan": plan_slots(control.plan),
        "plan_cost": control.plan_cost,
        "plan_made_at": control.plan_made_at,
    }


@extend_schema_serializer(component_name="ChargerOwnerControls")
class OwnerControlsSerializer(serializers.Serializer):
    @extend_schema_serializer(component_name="ChargerTarget")
    class TargetSerializer(serializers.Serializer):
        ready_by = serializers.TimeField(format="%H:%M", help_text="Site-local time, HH:MM.")
        energy_wh = serializers.IntegerField(allow_null=True, help_text="Energy to add; null with a SoC target.")
        soc_percent = serializers.IntegerField(allow_null=True, help_text="State of charge wanted; null with energy.")
        battery_capacity_wh = serializers.IntegerField(allow_null=True)
        set_at = serializers.DateTimeField(allow_null=True, default_timezone=dt.UTC)
        set_by = serializers.CharField(help_text='Who set it: "api:<user>", "mqtt", "page:<user>".')

    @extend_schema_serializer(component_name="PlanSlot")
    class PlanSlotSerializer(serializers.Serializer):
        start = serializers.DateTimeField(default_timezone=dt.UTC)
        end = serializers.DateTimeField(default_timezone=dt.UTC)
        power_w = serializers.IntegerField()

    charger_id = serializers.CharField()
    mode = serializers.ChoiceField(choices=[m.value for m in ChargeMode])
    target = TargetSerializer(allow_null=True, help_text="Null: the charger follows the site's rules.")
    plan_summary = serializers.CharField(help_text='The plan in words; "" until the planner has made one.')
    plan = PlanSlotSerializer(many=True, help_text="The planned power per 15-minute slot, ascending.")
    plan_cost = serializers.FloatField(allow_null=True, help_text="What the plan costs, in the tariff's currency.")
    plan_made_at = serializers.DateTimeField(allow_null=True, default_timezone=dt.UTC)


def owner_controls_answer(charger: Charger, control: ChargerControl) -> Response:
    return Response(OwnerControlsSerializer(owner_controls_of(charger, control)).data)


def controls_changed(charger: Charger) -> None:
    """MQTT republishes the charger's state (mode, target) at once, not at its next refresh."""
    events.charger_changed(charger_pk=charger.pk)


@extend_schema_field({"type": "string", "enum": [m.value for m in ChargeMode]})
class ModeField(serializers.CharField):
    """A mode as text: which ones exist is energy.owner_controls' rule (its sentence on refusal)."""


class ChargerTargetApi(APIView):
    @extend_schema_serializer(component_name="ChargerTargetInput")
    class InputSerializer(serializers.Serializer):
        ready_by = serializers.TimeField(input_formats=["%H:%M"], help_text="Site-local time, HH:MM.")
        energy_wh = StrictIntegerField(required=False, allow_null=True, help_text="Energy to add (Wh).")
        soc_percent = StrictIntegerField(
            required=False, allow_null=True, help_text="Instead of energy_wh: the state of charge wanted."
        )
        battery_capacity_wh = StrictIntegerField(
            required=False, allow_null=True, help_text="The battery's size (Wh); needed with soc_percent."
        )

    @extend_schema(
        operation_id="chargers_target_retrieve",
        tags=CHARGER_TAGS,
        summary="The charger's target, mode and plan",
        responses={200: OwnerControlsSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, charger_id: str) -> Response:
        charger = visible_charger_or_404(request, charger_id)
        return owner_controls_answer(charger, charger.control)

    @extend_schema(
        operation_id="chargers_target_set",
        tags=CHARGER_TAGS,
        summary='Set a target: "ready by HH:MM with N Wh" (or a state of charge with the battery\'s size)',
        description=(
            "Give energy_wh, or soc_percent with battery_capacity_wh. Energy control plans the "
            "charger to meet it (mode smart) and runs at once; the answer has the plan in force."
        ),
        request=InputSerializer,
        responses={200: OwnerControlsSerializer, **error_responses(400, 401, 403, 404)},
    )
    def put(self, request: Request, charger_id: str) -> Response:
        charger = visible_charger_or_404(request, charger_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with owner_input():
            control = charger_target_set(
                charger=charger,
                ready_by=data["ready_by"],
                energy_wh=data.get("energy_wh"),
                soc_percent=data.get("soc_percent"),
                battery_capacity_wh=data.get("battery_capacity_wh"),
                set_by=requested_by(request),
            )
        controls_changed(charger)
        return owner_controls_answer(charger, control)

    @extend_schema(
        operation_id="chargers_target_clear",
        tags=CHARGER_TAGS,
        summary="Clear the target",
        description="The charger is planned by the site's rules again (or by what its car asks for).",
        request=None,
        responses={200: OwnerControlsSerializer, **error_responses(401, 403, 404)},
    )
    def delete(self, request: Request, charger_id: str) -> Response:
        charger = visible_charger_or_404(request, charger_id)
        control = charger_target_set(charger=charger, ready_by=None, set_by=requested_by(request))
        controls_changed(charger)
        return owner_controls_answer(charger, control)


class ChargerModeApi(APIView):
    @extend_schema_serializer(component_name="ChargerModeInput")
    class InputSerializer(serializers.Serializer):
        mode = ModeField(
            help_text="off; now: as fast as the fuses allow; solar: surplus only; smart: the planner "
            "(solar, cheapest hours, the target)."
        )

    @extend_schema(
        operation_id="chargers_mode_retrieve",
        tags=CHARGER_TAGS,
        summary="The charger's mode, target and plan",
        responses={200: OwnerControlsSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, charger_id: str) -> Response:
        charger = visible_charger_or_404(request, charger_id)
        return owner_controls_answer(charger, charger.control)

    @extend_schema(
        operation_id="chargers_mode_set",
        tags=CHARGER_TAGS,
        summary="Set the charger's mode",
        description="Energy control runs at once: off pauses the charger, now gives it all the fuses allow.",
        request=InputSerializer,
        responses={200: OwnerControlsSerializer, **error_responses(400, 401, 403, 404)},
    )
    def put(self, request: Request, charger_id: str) -> Response:
        charger = visible_charger_or_404(request, charger_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with owner_input():
            control = charger_mode_set(
                charger=charger, mode=serializer.validated_data["mode"], set_by=requested_by(request)
            )
        controls_changed(charger)
        return owner_controls_answer(charger, control)


# --- a site's series: dynamic prices and the solar forecast ---------------------------------


class SeriesTimeField(serializers.DateTimeField):
    """ISO 8601, kept as given: a time without a zone reaches owner_controls as such, which
    refuses it with its sentence (DRF would quietly read it in the server's zone)."""

    def enforce_timezone(self, value: dt.datetime) -> dt.datetime:
        return value


def series_site(request: Request) -> Site:
    return visible_site(request, request.query_params.get("site"))


def upcoming(slots: QuerySet) -> QuerySet:
    """What is still to come (or running now), at most a week of quarter-hours."""
    return slots.filter(end__gt=timezone.now()).order_by("start")[:SERIES_MAX_SLOTS]


SITE_PARAMETER = OpenApiParameter(
    "site", str, required=False, description="Site name; optional when you have one site."
)


# Each series adds its value field to a slot, and its slots to the input and the output (the
# schema shows a class docstring, so these bases have none).
class SeriesSlotInput(serializers.Serializer):
    start = SeriesTimeField(help_text="ISO 8601 with an offset.")
    end = SeriesTimeField(help_text="15 minutes or an hour after start.")


class SeriesSlotOutput(serializers.Serializer):
    start = serializers.DateTimeField(default_timezone=dt.UTC)
    end = serializers.DateTimeField(default_timezone=dt.UTC)


class SeriesInput(serializers.Serializer):
    site = serializers.CharField(required=False, help_text="Site name; optional when you have one site.")


class SeriesOutput(serializers.Serializer):
    site = serializers.CharField(source="site.name")


SLOTS_HELP = "The slots still to come, ascending."


# GET what is still to come of a series, POST new slots. A subclass names its value field, model,
# owner_controls rule and serializers, and puts its schema on with extend_schema_view (no
# docstring: the schema would show it as both operations' description).
class SeriesApi(APIView):
    value_field: str
    model: type[PriceSlot | SolarForecastSlot]
    store: Callable[..., int]
    InputSerializer: type[SeriesInput]
    OutputSerializer: type[SeriesOutput]

    def get(self, request: Request) -> Response:
        return self.answer(series_site(request))

    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        site = visible_site(request, data.get("site"))
        slots = [SeriesSlot(start=s["start"], end=s["end"], value=s[self.value_field]) for s in data["slots"]]
        with owner_input():
            self.store(site=site, slots=slots, source=requested_by(request))
        return self.answer(site)

    def answer(self, site: Site) -> Response:
        slots = upcoming(self.model.objects.filter(site=site))
        return Response(self.OutputSerializer({"site": site, "slots": slots}).data)


@extend_schema_serializer(component_name="PriceSlotInput")
class PriceSlotInput(SeriesSlotInput):
    price_per_kwh = FiniteFloatField(help_text="In the tariff's currency; may be negative.")


@extend_schema_serializer(component_name="PriceSeriesInput")
class PriceSeriesInput(SeriesInput):
    slots = PriceSlotInput(many=True, allow_empty=True)


@extend_schema_serializer(component_name="PriceSlot")
class PriceSlotOutput(SeriesSlotOutput):
    price_per_kwh = serializers.FloatField()


@extend_schema_serializer(component_name="PriceSeries")
class PriceSeriesOutput(SeriesOutput):
    slots = PriceSlotOutput(many=True, help_text=SLOTS_HELP)


@extend_schema_view(
    get=extend_schema(
        operation_id="energy_prices_retrieve",
        tags=ENERGY_TAGS,
        summary="The dynamic tariff's prices still to come",
        parameters=[SITE_PARAMETER],
        responses={200: PriceSeriesOutput, **error_responses(400, 401, 403, 404)},
    ),
    post=extend_schema(
        operation_id="energy_prices_store",
        tags=ENERGY_TAGS,
        summary="Post a dynamic tariff's prices",
        description=(
            "15-minute or hourly slots, up to 7 days ahead; they replace what was stored over the "
            "same span. Where slots cover an instant they set its price (the planner's and a "
            "session's cost); elsewhere the tariff's periods do. Refused whole, with a sentence, "
            "if one slot is wrong."
        ),
        request=PriceSeriesInput,
        responses={200: PriceSeriesOutput, **error_responses(400, 401, 403, 404)},
    ),
)
class PriceSeriesApi(SeriesApi):
    value_field = "price_per_kwh"
    model = PriceSlot
    store = staticmethod(site_prices_store)
    InputSerializer = PriceSeriesInput
    OutputSerializer = PriceSeriesOutput


@extend_schema_serializer(component_name="SolarForecastSlotInput")
class SolarForecastSlotInput(SeriesSlotInput):
    solar_w = FiniteFloatField(help_text="The site's forecast production (W).")


@extend_schema_serializer(component_name="SolarForecastInput")
class SolarForecastInput(SeriesInput):
    slots = SolarForecastSlotInput(many=True, allow_empty=True)


@extend_schema_serializer(component_name="SolarForecastSlot")
class SolarForecastSlotOutput(SeriesSlotOutput):
    solar_w = serializers.FloatField()


@extend_schema_serializer(component_name="SolarForecast")
class SolarForecastOutput(SeriesOutput):
    slots = SolarForecastSlotOutput(many=True, help_text=SLOTS_HELP)


@extend_schema_view(
    get=extend_schema(
        operation_id="energy_solar_forecast_retrieve",
        tags=ENERGY_TAGS,
        summary="The solar forecast still to come",
        parameters=[SITE_PARAMETER],
        responses={200: SolarForecastOutput, **error_responses(400, 401, 403, 404)},
    ),
    post=extend_schema(
        operation_id="energy_solar_forecast_store",
        tags=ENERGY_TAGS,
        summary="Post a solar forecast",
        description=(
            "15-minute (or hourly) slots, up to 7 days ahead; they replace what was stored over the "
            "same span, and the planner uses them instead of its own forecast from recent days. "
            "Refused whole, with a sentence, if one slot is wrong."
        ),
        request=SolarForecastInput,
        responses={200: SolarForecastOutput, **error_responses(400, 401, 403, 404)},
    ),
)
class SolarForecastApi(SeriesApi):
    value_field = "solar_w"
    model = SolarForecastSlot
    store = staticmethod(site_solar_forecast_store)
    InputSerializer = SolarForecastInput
    OutputSerializer = SolarForecastOutput
