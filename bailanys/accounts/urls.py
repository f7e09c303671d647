from django.contrib.auth import views as auth_views
from django.urls import path

from bailanys.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("join/<str:token>/", views.join, name="join"),
    path("invitations/", views.invitations, name="invitations"),
    path(
        "invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("volunteers/", views.volunteers, name="volunteers"),
    path(
        "volunteers/<int:user_id>/<str:action>/",
        views.volunteer_action,
        name="volunteer_action",
    ),
    path("2fa/setup/", views.twofactor_setup, name="twofactor_setup"),
    path("2fa/verify/", views.twofactor_verify, name="twofactor_verify"),
]
