from django.urls import re_path

from chargers.consumers import OcppConsumer

websocket_urlpatterns = [
    # Anything up to the next slash; the consumer validates it and refuses what is unknown.
    re_path(r"^ocpp/(?P<charge_point_id>[^/]+)/?$", OcppConsumer.as_asgi()),
]
