from django.urls import path

from bailanys.outages import views

app_name = "outages"
urlpatterns = [
    path("status/", views.status, name="status"),
    path("coordinate/status/", views.coordinate, name="coordinate"),
]
