from django.urls import path

from webapp.catalog import views

app_name = "catalog"
urlpatterns = [
    path("", views.policies, name="policies"),
    path("v<int:number>/activate/", views.activate, name="activate"),
    path("v<int:number>/download/", views.download, name="download"),
]
