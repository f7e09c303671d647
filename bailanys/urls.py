from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from bailanys.api import api


def healthz(request: HttpRequest) -> JsonResponse:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("accounts/", include("bailanys.accounts.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("console/review/", include("bailanys.parsing.urls")),
    path("", include("bailanys.channels.urls")),
    path("", include("bailanys.relay.urls")),
    path("", include("bailanys.proxies.urls")),
    path("", include("bailanys.bulletins.urls")),
    path("", include("bailanys.outages.urls")),
]

if settings.BAILANYS_BENCH_ENDPOINTS:  # bench/intake_load.py only, never in production
    from bailanys.benchbare import bare

    urlpatterns.insert(0, path("bench/bare", bare, name="bench_bare"))
