from django.urls import path

from webapp.annotation import views

app_name = "annotation"
urlpatterns = [
    path("", views.annotate, name="annotate"),
    path("stats/", views.stats, name="stats"),
    path("<int:assignment_id>/", views.submit, name="submit"),
    path("<int:assignment_id>/skip/", views.skip, name="skip"),
]
