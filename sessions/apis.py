"""The REST API of charging history (spec: "Charging History")."""

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chargers.apis import visible_charger_or_404
from graylogic.api import error_responses
from sessions.billing import session_figures_live
from sessions.selectors import session_list


@extend_schema_field({"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]})
class DateOrDateTimeField(serializers.Field):
    """A date (the whole day in the site's time zone) or a date-time (naive: the site's zone)."""

    default_error_messages = {"invalid": "Use a date (2026-01-13) or a date-time (2026-01-13T09:00:00Z)."}

    def to_internal_value(self, data: Any) -> dt.date | dt.datetime:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            # Date first: Django's parse_datetime also takes a bare date, as midnight.
            parsed = parse_date(data) or parse_datetime(data)
        except ValueError:
            parsed = None
        if parsed is None:
            self.fail("invalid")
        return parsed


def _as_utc(value: dt.date | dt.datetime, *, end_of_day: bool, zone: dt.tzinfo) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time.max if end_of_day else dt.time.min)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, zone)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise serializers.ValidationError("Out of range.") from None


class ChargerSessionListApi(APIView):
    class Pagination(LimitOffsetPagination):
        default_limit = 50
        max_limit = 500

    class FilterSerializer(serializers.Serializer):
        from_ = DateOrDateTimeField(required=False, help_text="Sessions started at or after this (a date: that day).")
        to = DateOrDateTimeField(required=False, help_text="Sessions started at or before this (a date: that day).")

        def get_fields(self) -> dict[str, serializers.Field]:
            # `from` is a Python keyword, so the field is declared as from_ and renamed here.
            fields = super().get_fields()
            fields["from"] = fields.pop("from_")
            return fields

        def validate(self, attrs: dict) -> dict:
            zone = self.context["zone"]
            bounds = {}
            for name, end_of_day in (("from", False), ("to", True)):
                if name in attrs:
                    try:
                        bounds[name] = _as_utc(attrs[name], end_of_day=end_of_day, zone=zone)
                    except serializers.ValidationError as error:
                        raise serializers.ValidationError({name: error.detail}) from None
            if "from" in bounds and "to" in bounds and bounds["from"] > bounds["to"]:
                raise serializers.ValidationError({"to": "Must not be before from."})
            return bounds

    @extend_schema_serializer(component_name="ChargerSessionList")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="ChargerSession")
        class SessionSerializer(serializers.Serializer):
            id = serializers.IntegerField(source="transaction_id", help_text="The OCPP transactionId.")
            # In UTC whatever the server's TIME_ZONE: a stored year 1 or 9999 overflows other zones.
            started = serializers.DateTimeField(source="started_at", default_timezone=dt.UTC)
            ended = serializers.DateTimeField(
                source="stopped_at", default_timezone=dt.UTC, allow_null=True, help_text="Null while running."
            )
            energy_wh = serializers.IntegerField(
                source="figures.energy_wh", allow_null=True, help_text="Delivered (so far, while running)."
            )
            cost = serializers.DecimalField(
                source="figures.cost",
                max_digits=10,
                decimal_places=2,
                coerce_to_string=False,
                allow_null=True,
                help_text="In the site tariff's currency, each stretch of the session priced at the site's "
                "posted price then, else the tariff period then in force (so far, while running); null when "
                "some of it had neither.",
            )
            solar_percent = serializers.FloatField(
                source="figures.solar_percent",
                allow_null=True,
                help_text="Share of the energy covered by the site's solar surplus (so far, while running); "
                "null when the site reported no meter readings during the session.",
            )

        count = serializers.IntegerField()
        next = serializers.URLField(allow_null=True)
        previous = serializers.URLField(allow_null=True)
        sessions = SessionSerializer(many=True)

    @extend_schema(
        operation_id="chargers_sessions_list",
        tags=["sessions"],
        summary="A charger's charging history, newest first",
        parameters=[
            FilterSerializer,
            OpenApiParameter("limit", OpenApiTypes.INT, description="Page size (default 50, at most 500)."),
            OpenApiParameter("offset", OpenApiTypes.INT, description="Sessions to skip."),
        ],
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request, charger_id: str) -> Response:
        charger = visible_charger_or_404(request, charger_id)
        filters = self.FilterSerializer(data=request.query_params, context={"zone": charger.site.zone})
        filters.is_valid(raise_exception=True)
        sessions = session_list(
            charger=charger,
            started_from=filters.validated_data.get("from"),
            started_to=filters.validated_data.get("to"),
        )
        paginator = self.Pagination()
        page = paginator.paginate_queryset(sessions, request, view=self)
        for session in page:
            session.charger = charger  # one site, one tariff: no query per session
            session.figures = session_figures_live(session=session)
        data = {
            "count": paginator.count,
            "next": paginator.get_next_link(),
            "previous": paginator.get_previous_link(),
            "sessions": page,
        }
        return Response(self.OutputSerializer(data).data)
