"""URL map: each app owns its own urls module."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from webapp.api import views as api_views
from webapp.api.api import api
from webapp.projects import views as project_views

urlpatterns = [
    path("", project_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("p/<slug:slug>/", include("webapp.projects.urls")),
    path("p/<slug:slug>/annotate/", include("webapp.annotation.urls")),
    path("p/<slug:slug>/rounds/", include("webapp.rounds.urls")),
    path("p/<slug:slug>/policies/", include("webapp.catalog.urls")),
    path("p/<slug:slug>/", include("webapp.datasets.urls")),  # export/, prompts/import/
    path("account/tokens/", api_views.tokens_page, name="api_tokens"),
    path("api/", api.urls),
    path("healthz", project_views.healthz, name="healthz"),
]
