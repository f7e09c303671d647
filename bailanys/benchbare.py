"""A bare endpoint for bench/intake_load.py: one row inserted, nothing checked.

Mounted at /bench/bare only when BAILANYS_BENCH_ENDPOINTS is set (never in a real
deployment). It runs behind the same server, middleware and database as the intake,
so the intake's throughput can be quoted as a ratio to it, measured in the same run.
It stores the request body's length, never the body.
"""

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

_ready = False


def _table() -> None:
    global _ready
    if not _ready:
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS bench_bare (id BIGINT, length INTEGER NOT NULL)"
            )
        _ready = True


@csrf_exempt
def bare(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    _table()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_bare (length) VALUES (%s)", [len(request.body)])
    return HttpResponse(status=201)
