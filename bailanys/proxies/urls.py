from django.urls import path

from bailanys.proxies import views

app_name = "proxies"
urlpatterns = [
    path("coordinate/proxies/", views.coordinate, name="coordinate"),
    path("proxies/vouch/", views.vouch, name="vouch"),
]
