from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from chargers.apis import (
    ChargerDetailApi,
    ChargerDiagnosisApi,
    ChargerLimitApi,
    ChargerListApi,
    ChargerStartApi,
    ChargerStopApi,
)
from energy.apis import EnergyReadingApi, GridSignalApi
from energy.apis_commissioning import SiteCommissioningApi
from energy.apis_owner import ChargerModeApi, ChargerTargetApi, PriceSeriesApi, SolarForecastApi
from graylogic.views import healthz
from sessions.apis import ChargerSessionListApi

admin.site.site_header = "Gray Logic EV charging"
admin.site.site_title = "Gray Logic EV charging"

# The spec's paths, without trailing slashes.
api_v1 = [
    path("chargers", ChargerListApi.as_view(), name="charger-list"),
    path("chargers/<str:charger_id>", ChargerDetailApi.as_view(), name="charger-detail"),
    path("chargers/<str:charger_id>/start", ChargerStartApi.as_view(), name="charger-start"),
    path("chargers/<str:charger_id>/stop", ChargerStopApi.as_view(), name="charger-stop"),
    path("chargers/<str:charger_id>/limit", ChargerLimitApi.as_view(), name="charger-limit"),
    path("chargers/<str:charger_id>/sessions", ChargerSessionListApi.as_view(), name="charger-sessions"),
    path("chargers/<str:charger_id>/target", ChargerTargetApi.as_view(), name="charger-target"),
    path("chargers/<str:charger_id>/mode", ChargerModeApi.as_view(), name="charger-mode"),
    path("chargers/<str:charger_id>/diagnosis", ChargerDiagnosisApi.as_view(), name="charger-diagnosis"),
    path("sites/<str:site>/commissioning", SiteCommissioningApi.as_view(), name="site-commissioning"),
    path("energy/readings", EnergyReadingApi.as_view(), name="energy-readings"),
    path("energy/grid-signal", GridSignalApi.as_view(), name="energy-grid-signal"),
    path("energy/prices", PriceSeriesApi.as_view(), name="energy-prices"),
    path("energy/solar-forecast", SolarForecastApi.as_view(), name="energy-solar-forecast"),
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include(api_v1)),
    path("", include("sessions.urls")),
]
