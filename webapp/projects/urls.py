from django.urls import path

from webapp.projects import views

app_name = "projects"
urlpatterns = [
    path("", views.detail, name="detail"),
    path("members/", views.members, name="members"),
    path("settings/", views.project_settings, name="settings"),
]
