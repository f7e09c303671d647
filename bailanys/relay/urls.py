from django.urls import path

from bailanys.bulletins import views_status
from bailanys.relay import views, views_care, views_coordination

app_name = "relay"
urlpatterns = [
    path("", views.request_new, name="request_new"),
    path("s/<str:token>/", views.request_status, name="status"),
    path("s/<str:token>/bulletins/", views_status.status_bulletins, name="status_bulletins"),
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
urlpatterns += [
    path("console/dashboard/", views.dashboard, name="dashboard"),
]
# Volunteer care: phone credit, top-ups, cheap operators.
urlpatterns += [
    path("console/credit/", views_care.console_credit, name="credit"),
    path("console/operators/", views_care.console_operators, name="operators"),
    path(
        "console/volunteers/<int:user_id>/topup/",
        views_care.coordinator_topup,
        name="coordinator_topup",
    ),
]
# Coordinator tools: holders, take back, reassign, close, merge, split, broadcast.
urlpatterns += [
    path("console/cases/", views_coordination.cases, name="coordinator_cases"),
    path(
        "console/cases/<int:case_id>/break/",
        views_coordination.case_break,
        name="coordinator_break",
    ),
    path(
        "console/cases/<int:case_id>/reassign/",
        views_coordination.case_reassign,
        name="coordinator_reassign",
    ),
    path(
        "console/cases/<int:case_id>/close/",
        views_coordination.case_close,
        name="coordinator_close",
    ),
    path("console/cases/merge/", views_coordination.case_merge, name="coordinator_merge"),
    path(
        "console/cases/<int:case_id>/split/",
        views_coordination.case_split,
        name="coordinator_split",
    ),
    path("console/broadcast/", views_coordination.broadcast, name="coordinator_broadcast"),
]
