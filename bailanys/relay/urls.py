from django.urls import path

from bailanys.relay import views

app_name = "relay"
urlpatterns = [
    path("", views.request_new, name="request_new"),
    path("s/<str:token>/", views.request_status, name="status"),
    path("console/", views.console, name="console"),
    path("console/take/", views.console_take, name="take"),
    path("console/hard-cases/", views.console_hard_cases, name="hard_cases"),
    path("console/claims/<int:claim_id>/outcome/", views.console_outcome, name="outcome"),
    path("console/claims/<int:claim_id>/renew/", views.console_renew, name="renew"),
    path("console/claims/<int:claim_id>/release/", views.console_release, name="release"),
    path("console/coordinator/", views.coordinator, name="coordinator"),
    path("console/cases/<int:case_id>/take/", views.coordinator_take, name="coordinator_take"),
    path("console/audit/", views.audit_log, name="audit"),
    path("console/stats.csv", views.coordinator_stats_csv, name="stats_csv"),
    path("console/retain/", views.coordinator_retain, name="retain"),
    path("console/need-to-talk/", views.console_need_talk, name="need_talk"),
    path(
        "console/volunteers/<int:user_id>/talked/",
        views.coordinator_talked,
        name="coordinator_talked",
    ),
]
