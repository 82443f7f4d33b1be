"""The commissioning checklist over the REST API: the same items the admin's commissioning page
shows, for an installer's tools and records. Staff only: it names every charger's URL and state."""

import re
from enum import StrEnum

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from energy.checklist import Group, Item
from energy.commissioning import site_commissioning
from energy.models import Site
from energy.sources import CheckStatus
from graylogic.api import error_responses

SITE_ID = re.compile(r"[0-9]{1,18}")


def site_by_id_or_name(site: str) -> Site:
    """A site by its number or its name (a site named like a number is found by name too)."""
    # ASCII digits that fit a database integer: "²" is a digit to str.isdigit, 10**30 fits no column.
    found = Site.objects.filter(pk=int(site)).first() if SITE_ID.fullmatch(site) else None
    found = found or Site.objects.filter(name=site).first()
    if found is None:
        raise exceptions.NotFound(f"no site {site!r}")
    return found


def _choices(enum: type[StrEnum]) -> list[tuple[str, str]]:
    """As ENUM_NAME_OVERRIDES reads an enum, so the schema names it (CommissioningItemEnum...)."""
    return [(member.value, member.name) for member in enum]


@extend_schema_serializer(component_name="CommissioningItem")
class CommissioningItemSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The item, and for a charger's items `/<charger id>`: connected/drive-cp.")
    item = serializers.ChoiceField(choices=_choices(Item))
    group = serializers.ChoiceField(choices=_choices(Group))
    title = serializers.CharField()
    charger = serializers.CharField(allow_null=True, help_text="The charger's OCPP id; null for the site's items.")
    status = serializers.ChoiceField(choices=_choices(CheckStatus))
    evidence = serializers.CharField(allow_blank=True, help_text="What was seen, in words.")
    seen_at = serializers.DateTimeField(allow_null=True, help_text="When it was seen; null if never.")
    next_step = serializers.CharField(allow_blank=True, help_text="What to do next; empty when ok.")


@extend_schema_serializer(component_name="Commissioning")
class CommissioningSerializer(serializers.Serializer):
    site = serializers.CharField()
    checked_at = serializers.DateTimeField()
    items = CommissioningItemSerializer(many=True)


class SiteCommissioningApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        tags=["commissioning"],
        summary="A site's commissioning checklist",
        description="The spec's checklist item by item: ticked (ok) from live data with the evidence and when it "
        "was seen, failed, or not_yet with the next step. The tests (remote start/stop, a power limit, load "
        "balancing, the TOU schedule) show their last result; run them on the site's commissioning page in the "
        "admin. Staff only. `site`: the site's id or name.",
        parameters=[OpenApiParameter("site", str, OpenApiParameter.PATH, description="The site's id or name.")],
        responses={200: CommissioningSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, site: str) -> Response:
        found = site_by_id_or_name(site)
        now = timezone.now()
        items = site_commissioning(site=found, host=request.get_host(), now=now)
        body = {"site": found.name, "checked_at": now, "items": [item.__dict__ for item in items]}
        return Response(CommissioningSerializer(body).data)
