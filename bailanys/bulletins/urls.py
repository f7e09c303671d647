from django.urls import path

from bailanys.bulletins import views

app_name = "bulletins"
urlpatterns = [
    path("coordinate/bulletins/", views.bulletins, name="list"),
    path("coordinate/bulletins/parts/", views.parts, name="parts"),
    path("coordinate/bulletins/<int:pk>/", views.bulletin, name="bulletin"),
    path("coordinate/bulletins/<int:pk>/progress/", views.progress, name="progress"),
]
