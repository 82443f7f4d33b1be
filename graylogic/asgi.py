"""One port serves both the admin (HTTP) and OCPP WebSockets at /ocpp/<charge_point_id>."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "graylogic.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (needs Django set up)

from chargers.routing import websocket_urlpatterns  # noqa: E402

# No origin validation on this router: chargers send no Origin header.
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
