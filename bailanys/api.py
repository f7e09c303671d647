"""The HTTP API, version 1. OpenAPI schema at /api/v1/openapi.json."""

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.docs import Swagger
from ninja.parser import Parser

from bailanys.bulletins.api import router as bulletins_router
from bailanys.middleware import unreadable_detail
from bailanys.outages.api import router as outages_router
from bailanys.privacy.crypto import DecryptionError
from bailanys.privacy.ratelimit import Throttled
from bailanys.proxies.api import router as proxies_router
from bailanys.relay.api import router as relay_router
from bailanys.relay.services import InputError


class NotJson(Exception):
    """A body sent without Content-Type: application/json."""


class JsonOnly(Parser):
    """A body must say it is JSON. A page on another site can make a browser send
    text/plain or a form without asking first (no CORS preflight); not application/json."""

    def parse_body(self, request: HttpRequest):
        if request.content_type != "application/json":
            raise NotJson
        return super().parse_body(request)


api = NinjaAPI(
    title="Bailanys",
    parser=JsonOnly(),
    version="1",
    description="Requests for relatives who cannot be reached, and the volunteers who call them.",
    urls_namespace="api",
    docs_url="/docs",
    # No validator badge: Swagger UI would fetch it from validator.swagger.io.
    docs=Swagger(settings={"validatorUrl": None}),
)


# Every endpoint names its JSON body parameter `payload`: ninja puts that name in an
# error's location ("body", "payload", "recipient") where our own checks say
# ("body", "recipient", "phone"). It is no part of the request, and is dropped.
BODY_PARAM = "payload"
# Inputs our own checks refuse that come in a header, not in the body.
HEADERS = frozenset({"Idempotency-Key"})


def error_location(loc) -> list[str | int]:
    """Where a bad input is, the same shape from ninja and from our own checks:
    [source, field, ...] with source "body", "header", "query" or "path"."""
    loc = list(loc)
    if len(loc) > 1 and loc[0] == "body" and loc[1] == BODY_PARAM:
        del loc[1]
    return loc


def field_errors(detail: list[dict]) -> dict[str, str]:
    """The error list as {dotted field: reason}: the location without its source."""
    errors = {}
    for item in detail:
        loc = [str(part) for part in item.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header"):
            loc = loc[1:]
        errors[".".join(loc) or "body"] = item.get("msg", "invalid")
    return errors


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError):
    detail = [
        {"loc": error_location(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors
    ]
    return api.create_response(
        request, {"detail": detail, "errors": field_errors(detail)}, status=422
    )


@api.exception_handler(InputError)
def on_input_error(request: HttpRequest, exc: InputError):
    detail = [
        {"loc": ["header" if k in HEADERS else "body", *k.split(".")], "msg": v}
        for k, v in exc.errors.items()
    ]
    return api.create_response(request, {"detail": detail, "errors": exc.errors}, status=422)


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError):
    if isinstance(exc.__cause__, NotJson):  # ninja wraps what the parser raised
        detail = _("Send the body as JSON, with Content-Type: application/json.")
        return api.create_response(request, {"detail": detail}, status=415)
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


@api.exception_handler(DecryptionError)
def on_unreadable(request: HttpRequest, exc: DecryptionError):
    # A row sealed under a key that is gone is absent (see UnreadableRecordMiddleware).
    return api.create_response(request, {"detail": unreadable_detail()}, status=404)


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError):
    return api.create_response(
        request,
        {"detail": _("A valid 'Authorization: Bearer <token>' header is required.")},
        status=401,
    )


@api.exception_handler(Throttled)
def on_throttled(request: HttpRequest, exc: Throttled):
    response = api.create_response(
        request,
        {
            "detail": _("Too many requests from here. Try again in %(n)d seconds.")
            % {"n": exc.retry_after}
        },
        status=429,
    )
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def on_database_busy(request: HttpRequest, exc: Exception):
    # A deadlock, a lock timeout or a lost connection: the work was rolled back, so
    # the same call again is safe (and, with its Idempotency-Key, stored once).
    response = api.create_response(
        request,
        {"detail": _("The database is busy. Send the same request again in a moment.")},
        status=503,
    )
    response["Retry-After"] = "1"
    return response


api.add_router("/", relay_router)
api.add_router("/", proxies_router)
api.add_router("/", bulletins_router)
api.add_router("/", outages_router)
