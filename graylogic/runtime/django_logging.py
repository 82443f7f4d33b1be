"""Django's request log, told a response is logged already."""

from django.http import HttpResponse

from graylogic.runtime.upstream import Upstream

# unlogged() sets the private _has_been_logged that django.utils.log.log_response (Django 5.2)
# checks before logging a response: it logs every 5xx, so a load balancer polling /healthz during
# an outage made a line per poll, while the health checks log each outage once per interval.
UPSTREAM = (Upstream("django.utils.log.log_response", "9e4646dc28f9a7ec"),)


def unlogged(response: HttpResponse) -> HttpResponse:
    """The response, which Django's request log will not log (whatever its status)."""
    response._has_been_logged = True
    return response
