from django.apps import AppConfig


class ChargingSessionsConfig(AppConfig):
    # django.contrib.sessions already owns the label "sessions".
    name = "sessions"
    label = "charging_sessions"
    verbose_name = "Charging sessions"
