from django.apps import apps
from django.http import HttpRequest, JsonResponse

from graylogic.health import channel_layer_check, database_check, health_failures, mqtt_check
from graylogic.runtime.django_logging import unlogged


async def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers: 200 when this node can serve chargers, else 503 naming what failed."""
    platform = apps.get_app_config("graylogic")
    checks = {"database": database_check, "channel_layer": channel_layer_check}
    if platform.mqtt_connected is not None:  # the MQTT bridge runs in this process
        checks["mqtt"] = mqtt_check(platform.mqtt_connected)
    failed = await health_failures(checks, platform.health_outage_logs)
    if failed:
        # Django logs every 5xx ("Service Unavailable: /healthz"), a line per poll of the load
        # balancer; the checks log each outage once per interval instead.
        return unlogged(JsonResponse({"status": "unavailable", "failed": failed}, status=503))
    return JsonResponse({"status": "ok"})
