"""The homeowner pages and their own login (not the admin's)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from sessions import views

app_name = "homeowner"

urlpatterns = [
    path("", views.now, name="now"),
    path("chargers/", views.now, name="chargers"),
    path("chargers/live", views.now_live, name="now-live"),
    path("chargers/<int:pk>/controls", views.charger_controls, name="charger-controls"),
    path("sessions/", views.history, name="history"),
    path("sessions.csv", views.history_csv, name="history-csv"),
    path("sessions/<int:transaction_id>/", views.session_detail, name="session-detail"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="homeowner/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="homeowner:login"), name="logout"),
]
