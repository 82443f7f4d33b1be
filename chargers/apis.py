"""The REST API of chargers (spec: "API Endpoints"): live state, remote start/stop, limits.

Commands are sync views calling the sync remote-control services, which wait for the
charger's real answer over the channel layer; failures become the envelope of graylogic.api.
"""

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chargers.models import Charger
from chargers.selectors import (
    ConnectionStatus,
    charger_connection_status,
    charger_get_visible,
    charger_limit_in_force,
    charger_list_visible,
    charger_main_connector,
)
from energy.diagnosis import charger_diagnose
from energy.remote import charger_clear_limit, charger_remote_start, charger_remote_stop, charger_set_limit
from energy.troubleshooting import SYMPTOM_LABELS, Status, Symptom
from graylogic.api import StrictIntegerField, error_responses
from sessions.selectors import charger_state

MAX_LIMIT_DURATION_S = 7 * 24 * 3600
# The largest id a Connector row holds (PositiveSmallIntegerField).
MAX_CONNECTOR_ID = 32767
TAGS = ["chargers"]


def visible_charger_or_404(request: Request, charger_id: str) -> Charger:
    """Unknown and not-yours look the same: 404 either way."""
    charger = charger_get_visible(user=request.user, charge_point_id=charger_id)
    if charger is None:
        raise exceptions.NotFound(f"no charger {charger_id!r}")
    return charger


def requested_by(request: Request) -> str:
    """Who asked, as the command log shows it."""
    return f"api:{request.user.get_username()}"


@extend_schema_serializer(component_name="ChargerLimits")
class LimitsSerializer(serializers.Serializer):
    max_power_w = serializers.IntegerField()
    current_limit_w = serializers.IntegerField(help_text="The limit in force, or max_power_w when there is none.")
    limit_source = serializers.CharField(help_text='Who set the limit ("manual", "solar"...), or "none".')
    reason = serializers.CharField(
        help_text="Why this limit, in plain words (e.g. a manual limit below the charger's minimum pauses it)."
    )


@extend_schema_serializer(component_name="CommandAccepted")
class CommandAcceptedSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="Always Accepted: any other answer is a 502.")
    charger_response = serializers.DictField(
        child=serializers.JSONField(), help_text="The charger's answer (OCPP payload, camelCase)."
    )


def command_accepted(answer: dict) -> dict:
    return {"status": answer["status"], "charger_response": answer}


class ChargerListApi(APIView):
    @extend_schema_serializer(component_name="ChargerList")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="ChargerListItem")
        class ChargerSerializer(serializers.Serializer):
            id = serializers.CharField(source="charge_point_id", help_text="The charger's OCPP identity.")
            name = serializers.SerializerMethodField()
            model = serializers.SerializerMethodField(help_text='"Vendor Model" as the charger reports them.')
            status = serializers.SerializerMethodField()
            connector_status = serializers.SerializerMethodField(help_text="Connector 1's status; null if unknown.")

            def get_name(self, charger: Charger) -> str:
                return str(charger)

            def get_model(self, charger: Charger) -> str:
                return f"{charger.vendor} {charger.model}".strip()

            def get_status(self, charger: Charger) -> ConnectionStatus:
                return charger_connection_status(charger=charger)

            def get_connector_status(self, charger: Charger) -> str | None:
                connector = charger_main_connector(charger=charger)
                return connector.status if connector is not None else None

        chargers = ChargerSerializer(many=True)

    @extend_schema(
        operation_id="chargers_list",
        tags=TAGS,
        summary="The chargers you may see",
        responses={200: OutputSerializer, **error_responses(401, 403)},
    )
    def get(self, request: Request) -> Response:
        chargers = charger_list_visible(user=request.user)
        return Response(self.OutputSerializer({"chargers": chargers}).data)


class ChargerDetailApi(APIView):
    @extend_schema_serializer(component_name="ChargerDetail")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="ChargerConnection")
        class ConnectionSerializer(serializers.Serializer):
            status = serializers.ChoiceField(choices=["connected", "disconnected"])
            protocol = serializers.CharField()
            last_heartbeat = serializers.DateTimeField(allow_null=True)

        @extend_schema_serializer(component_name="ChargerConnector")
        class ConnectorSerializer(serializers.Serializer):
            id = serializers.IntegerField(source="connector_id")
            status = serializers.CharField(
                help_text="OCPP ChargePointStatus, e.g. Available, Charging (OCPP 2.0.1: Available, Occupied...)."
            )
            error = serializers.CharField(source="error_code", help_text="OCPP ChargePointErrorCode, e.g. NoError.")

        @extend_schema_serializer(component_name="ChargerTransaction")
        class TransactionSerializer(serializers.Serializer):
            id = serializers.IntegerField(help_text="The OCPP transactionId.")
            started = serializers.DateTimeField()
            energy_wh = serializers.IntegerField(allow_null=True, help_text="Delivered so far.")
            power_w = serializers.IntegerField(allow_null=True, help_text="Latest reported charging power.")

        id = serializers.CharField(source="charger.charge_point_id")
        name = serializers.CharField(source="charger")
        vendor = serializers.CharField(source="charger.vendor")
        model = serializers.CharField(source="charger.model")
        firmware = serializers.CharField(source="charger.firmware_version")
        connection = ConnectionSerializer()
        connector = ConnectorSerializer(allow_null=True, help_text="Connector 1 (or the first); null until reported.")
        connectors = ConnectorSerializer(
            many=True, source="charger.connectors", help_text="Each connector as last reported (OCPP 2.0.1: each EVSE)."
        )
        transaction = TransactionSerializer(allow_null=True, help_text="The running session; null when none.")
        limits = LimitsSerializer()

    @extend_schema(
        operation_id="chargers_retrieve",
        tags=TAGS,
        summary="A charger's live state",
        responses={200: OutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, charger_id: str) -> Response:
        charger = visible_charger_or_404(request, charger_id)
        return Response(self.OutputSerializer(charger_state(charger=charger)).data)


class ChargerDiagnosisApi(APIView):
    @extend_schema_serializer(component_name="ChargerDiagnosis")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="ChargerFinding")
        class FindingSerializer(serializers.Serializer):
            symptom = serializers.ChoiceField(choices=[s.value for s in Symptom])
            title = serializers.SerializerMethodField(help_text="The symptom as the spec names it.")
            status = serializers.ChoiceField(choices=[s.value for s in Status])
            finding = serializers.CharField(help_text="What is wrong, or that nothing is, in one sentence.")
            fix = serializers.CharField(help_text="What fixes it, in one sentence; empty when nothing is wrong.")
            evidence = serializers.ListField(child=serializers.CharField(), help_text="What the server saw.")
            seen_at = serializers.DateTimeField(allow_null=True, help_text="When the newest evidence was seen.")
            homeowner = serializers.CharField(help_text="The finding in a homeowner's words; empty if none.")

            def get_title(self, finding) -> str:
                return SYMPTOM_LABELS[finding.symptom]

        id = serializers.CharField(source="charger.charge_point_id")
        status = serializers.ChoiceField(
            choices=[s.value for s in Status], help_text="problem when any symptom's finding is one."
        )
        findings = FindingSerializer(many=True, help_text="One per symptom of the spec's troubleshooting list.")

    @extend_schema(
        operation_id="chargers_diagnosis",
        tags=TAGS,
        summary="What is wrong with a charger, from what the server saw of it, and the fix",
        responses={200: OutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, charger_id: str) -> Response:
        charger = visible_charger_or_404(request, charger_id)
        findings = charger_diagnose(charger=charger)
        problem = any(f.status is Status.PROBLEM for f in findings)
        body = {"charger": charger, "status": Status.PROBLEM if problem else Status.OK, "findings": findings}
        return Response(self.OutputSerializer(body).data)


class ChargerStartApi(APIView):
    @extend_schema_serializer(component_name="ChargerStart")
    class InputSerializer(serializers.Serializer):
        connector_id = StrictIntegerField(min_value=1, max_value=MAX_CONNECTOR_ID, default=1)

        def validate_connector_id(self, connector_id: int) -> int:
            count = self.context["charger"].number_of_connectors
            if count and connector_id > count:
                raise serializers.ValidationError(f"This charger has {count} connector(s).")
            return connector_id

    @extend_schema(
        operation_id="chargers_start",
        tags=TAGS,
        summary="Start charging (RemoteStartTransaction, idTag GrayLogic)",
        request=InputSerializer,
        responses={200: CommandAcceptedSerializer, **error_responses(400, 401, 403, 404, 409, 502, 504)},
    )
    def post(self, request: Request, charger_id: str) -> Response:
        charger = visible_charger_or_404(request, charger_id)
        serializer = self.InputSerializer(data=request.data, context={"charger": charger})
        serializer.is_valid(raise_exception=True)
        answer = charger_remote_start(
            charger=charger, requested_by=requested_by(request), connector_id=serializer.validated_data["connector_id"]
        )
        return Response(CommandAcceptedSerializer(command_accepted(answer)).data)


class ChargerStopApi(APIView):
    @extend_schema(
        operation_id="chargers_stop",
        tags=TAGS,
        summary="Stop the running session (RemoteStopTransaction)",
        request=None,
        responses={200: CommandAcceptedSerializer, **error_responses(401, 403, 404, 409, 502, 504)},
    )
    def post(self, request: Request, charger_id: str) -> Response:
        charger = visible_charger_or_404(request, charger_id)
        answer = charger_remote_stop(charger=charger, requested_by=requested_by(request))
        return Response(CommandAcceptedSerializer(command_accepted(answer)).data)


class ChargerLimitApi(APIView):
    @extend_schema_serializer(component_name="ChargerLimit")
    class InputSerializer(serializers.Serializer):
        limit_w = StrictIntegerField(
            min_value=0,
            allow_null=True,
            help_text="0 pauses charging; at most the charger's max_power_w; null removes the limit (as DELETE).",
        )
        reason = serializers.CharField(max_length=200, required=False, allow_blank=True, allow_null=True)
        duration_seconds = StrictIntegerField(
            min_value=1,
            max_value=MAX_LIMIT_DURATION_S,
            required=False,
            allow_null=True,
            help_text="The limit lapses after this; absent or null: until changed.",
        )

        def validate_limit_w(self, limit_w: int | None) -> int | None:
            max_power_w = self.context["charger"].max_power_w
            if limit_w is not None and limit_w > max_power_w:
                raise serializers.ValidationError(f"Ensure this value is at most the charger's {max_power_w} W.")
            return limit_w

    @extend_schema_serializer(component_name="LimitAccepted")
    class OutputSerializer(CommandAcceptedSerializer):
        limits = LimitsSerializer(help_text="The limit now in force, as the charger detail shows it.")

    @extend_schema(
        operation_id="chargers_limit",
        tags=TAGS,
        summary="Cap the charger's power (SetChargingProfile, ChargePointMaxProfile)",
        description=(
            "Combined with fuses, solar, tariffs and the grid by energy control. Sent in the unit the charger "
            "accepts: amps are W / (230 V x phases), rounded down to 0.1 A. Below the charger's minimum "
            "(6 A on each of its phases) it pauses, or charges on one phase when the charger can switch; "
            "`limits` says what is in force and why."
        ),
        request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 404, 409, 502, 504)},
    )
    def post(self, request: Request, charger_id: str) -> Response:
        charger = visible_charger_or_404(request, charger_id)
        serializer = self.InputSerializer(data=request.data, context={"charger": charger})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["limit_w"] is None:
            answer = charger_clear_limit(charger=charger, requested_by=requested_by(request))
        else:
            answer = charger_set_limit(
                charger=charger,
                limit_w=data["limit_w"],
                reason=data.get("reason") or "",
                duration_s=data.get("duration_seconds"),
                requested_by=requested_by(request),
            )
        return self.answered(charger, answer)

    @extend_schema(
        operation_id="chargers_limit_clear",
        tags=TAGS,
        summary="Remove the manual limit",
        description="Energy control gives the charger its share again and sends what changed.",
        request=None,
        responses={200: OutputSerializer, **error_responses(401, 403, 404, 409, 502, 504)},
    )
    def delete(self, request: Request, charger_id: str) -> Response:
        charger = visible_charger_or_404(request, charger_id)
        answer = charger_clear_limit(charger=charger, requested_by=requested_by(request))
        return self.answered(charger, answer)

    def answered(self, charger: Charger, answer: dict) -> Response:
        """The charger's answer and the limit now in force, with why."""
        limits = charger_limit_in_force(charger=charger)
        return Response(self.OutputSerializer({**command_accepted(answer), "limits": limits}).data)
