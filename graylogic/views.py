from django.conf import settings
from django.http import HttpRequest, JsonResponse

from graylogic import embedded_jobs
from graylogic.health import channel_layer_check, database_check, health_failures, mqtt_check
from graylogic.runtime.django_logging import unlogged


async def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers: 200 when this node can serve chargers, else 503 naming what failed."""
    checks = {"database": database_check, "channel_layer": channel_layer_check}
    bridge = embedded_jobs.mqtt_bridge
    if settings.MQTT_URL and bridge is not None:
        checks["mqtt"] = mqtt_check(bridge.client.is_connected)
    failed = await health_failures(checks)
    if failed:
        # Django logs every 5xx ("Service Unavailable: /healthz"), a line per poll of the load
        # balancer; the checks log each outage once per interval instead.
        return unlogged(JsonResponse({"status": "unavailable", "failed": failed}, status=503))
    return JsonResponse({"status": "ok"})
