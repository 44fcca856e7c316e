from django.urls import path

from webapp.datasets import views

app_name = "datasets"
urlpatterns = [
    path("export/", views.export, name="export"),
    path("export/jobs/<int:job_id>/progress/", views.export_progress, name="export_progress"),
    path("export/jobs/<int:job_id>/download/", views.export_download, name="export_download"),
    path("export/jobs/<int:job_id>/card/", views.export_card, name="export_card"),
    path("prompts/import/", views.import_prompts, name="import_prompts"),
    path("prompts/import/jobs/<int:job_id>/progress/", views.import_progress, name="import_progress"),
]
