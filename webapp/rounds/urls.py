from django.urls import path

from webapp.rounds import views

app_name = "rounds"
urlpatterns = [
    path("", views.round_list, name="list"),
    path("start/", views.start, name="start"),
    path("<int:number>/", views.detail, name="detail"),
    path("<int:number>/progress/", views.progress, name="progress"),
    path("<int:number>/summary/", views.summary, name="summary"),
    path("<int:number>/cancel/", views.cancel, name="cancel"),
    path("<int:number>/retry/", views.retry, name="retry"),
]
