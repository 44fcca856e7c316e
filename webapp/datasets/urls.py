from django.urls import path

from webapp.datasets import views

app_name = "datasets"
urlpatterns = [
    path("export/", views.export, name="export"),
    path("prompts/import/", views.import_prompts, name="import_prompts"),
]
