"""Energy inputs over the REST API: meter readings and grid demand-response signals.

Both store the input and ask for a rebalance (throttled by the site's min_interval_s); the
new limits reach the chargers within seconds.
"""

import datetime as dt
import math

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from energy.grid import level_percents
from energy.models import READING_MAX_AHEAD, GridResponse, Site
from energy.rebalance import rebalancer
from energy.services import energy_reading_record, grid_level_set
from graylogic.api import error_responses

TAGS = ["energy"]
READING_FIELDS = ("grid_w", "solar_w", "house_w", "grid_l1_a", "grid_l2_a", "grid_l3_a", "frequency_hz")


def sites_visible(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Site]:
    if getattr(user, "is_staff", False):
        return Site.objects.all()
    return Site.objects.filter(owners=user) if user.is_authenticated else Site.objects.none()


def visible_site(request: Request, name: str | None) -> Site:
    """The named site, or the user's only site when no name is given."""
    sites = sites_visible(user=request.user)
    if name:
        site = sites.filter(name=name).first()
        if site is None:
            raise exceptions.NotFound(f"no site {name!r}")
        return site
    if sites.count() != 1:
        raise exceptions.ValidationError({"site": "name the site: you can see more than one (or none)"})
    return sites.get()


class FiniteFloatField(serializers.FloatField):
    """A JSON number (not a string), and never NaN or infinity."""

    def to_internal_value(self, data):
        if isinstance(data, str | bool):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


class EnergyReadingApi(APIView):
    @extend_schema_serializer(component_name="EnergyReadingInput")
    class InputSerializer(serializers.Serializer):
        site = serializers.CharField(required=False, help_text="Site name; optional when you have one site.")
        measured_at = serializers.DateTimeField(required=False, help_text="ISO 8601 with zone; default now.")
        grid_w = FiniteFloatField(required=False, min_value=-1e6, max_value=1e6, help_text="Import +, export -.")
        solar_w = FiniteFloatField(required=False, min_value=0, max_value=1e6)
        house_w = FiniteFloatField(required=False, min_value=0, max_value=1e6, help_text="Chargers included.")
        grid_l1_a = FiniteFloatField(required=False, min_value=-1000, max_value=1000)
        grid_l2_a = FiniteFloatField(required=False, min_value=-1000, max_value=1000)
        grid_l3_a = FiniteFloatField(required=False, min_value=-1000, max_value=1000)
        frequency_hz = FiniteFloatField(required=False, min_value=40, max_value=70)

        def validate_measured_at(self, measured_at: dt.datetime) -> dt.datetime:
            ahead = measured_at - timezone.now()
            if ahead > READING_MAX_AHEAD:
                raise serializers.ValidationError(
                    f"is {ahead.total_seconds():,.0f} s ahead of the server's clock; a reading may be at most "
                    f"{READING_MAX_AHEAD.total_seconds():.0f} s ahead (check the meter's clock)"
                )
            return measured_at

        def validate(self, attrs: dict) -> dict:
            if not any(field in attrs for field in READING_FIELDS):
                raise serializers.ValidationError(f"give at least one of {', '.join(READING_FIELDS)}")
            return attrs

    @extend_schema_serializer(component_name="EnergyReadingStored")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        site = serializers.CharField(source="site.name")
        measured_at = serializers.DateTimeField()

    @extend_schema(
        tags=TAGS,
        summary="Post an energy reading",
        description="Solar production, house consumption or grid power (per phase in amps, and frequency). "
        "Energy control uses it at once: solar surplus, dynamic load management, frequency response.",
        request=InputSerializer,
        responses={201: OutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        site = visible_site(request, values.pop("site", None))
        measured_at = values.pop("measured_at", None) or timezone.now()
        reading = energy_reading_record(
            site=site, measured_at=measured_at, source=f"api:{request.user.get_username()}", **values
        )
        rebalancer().request(site.pk, "energy reading")
        return Response(self.OutputSerializer(reading).data, status=status.HTTP_201_CREATED)


class GridSignalApi(APIView):
    @extend_schema_serializer(component_name="GridSignalInput")
    class InputSerializer(serializers.Serializer):
        site = serializers.CharField(required=False, help_text="Site name; optional when you have one site.")
        level = serializers.ChoiceField(choices=GridResponse.Level.choices)

    @extend_schema_serializer(component_name="GridSignal")
    class OutputSerializer(serializers.Serializer):
        site = serializers.CharField()
        level = serializers.CharField()
        limit_percent = serializers.IntegerField(help_text="Share of each charger's maximum now allowed.")
        enabled = serializers.BooleanField(help_text="Grid response is on for this site (admin).")

    @extend_schema(
        tags=TAGS,
        summary="Set the grid demand-response level",
        description="normal = 100 %, moderate = 50 %, high = 0 % of each charger's maximum (spec defaults; "
        "per site in the admin).",
        request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        site = visible_site(request, data.validated_data.get("site"))
        grid = grid_level_set(
            site=site, level=data.validated_data["level"], source=f"api:{request.user.get_username()}"
        )
        rebalancer().request(site.pk, f"grid level {grid.level}")
        levels = level_percents(moderate_percent=grid.moderate_limit_percent, high_percent=grid.high_limit_percent)
        body = {"site": site.name, "level": grid.level, "limit_percent": levels[grid.level], "enabled": grid.enabled}
        return Response(self.OutputSerializer(body).data)
