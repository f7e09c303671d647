from django.urls import path

from bailanys.parsing import views

app_name = "parsing"
urlpatterns = [
    path("", views.review_queue, name="review_queue"),
    path("<int:post_id>/", views.review_post, name="review_post"),
]
