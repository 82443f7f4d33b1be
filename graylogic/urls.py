from django.contrib import admin
from django.urls import path

from graylogic.views import healthz

admin.site.site_header = "Gray Logic EV charging"
admin.site.site_title = "Gray Logic EV charging"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]
