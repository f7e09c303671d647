"""Cross-cutting HTTP guards."""

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from bailanys.privacy.crypto import DecryptionError

logger = logging.getLogger("bailanys.privacy")


def unreadable_detail() -> str:
    return _("This record can no longer be read: the key it was sealed with is gone.")


class UnreadableRecordMiddleware:
    """A row sealed under a key that is gone (a backup restored after a wipe, a lost key
    file) is absent, not a server error: 404, with a reason."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not isinstance(exception, DecryptionError):
            return None
        # The table's name only: nothing personal, nothing of the ciphertext.
        logger.warning("unreadable sealed row in %s: answered 404", exception)
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": unreadable_detail()}, status=404)
        return render(request, "404.html", {"reason": unreadable_detail()}, status=404)


class BodySizeLimitMiddleware:
    """Refuse an oversized body before anything reads it (413, with a reason)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": _("Content-Length is not a number.")}, status=400)
        limit = settings.BAILANYS_MAX_BODY_BYTES
        if length > limit:
            return JsonResponse(
                {
                    "detail": _("The request is too large (at most %(limit)d bytes).")
                    % {"limit": limit}
                },
                status=413,
            )
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Pages may load nothing from another host, and nothing personal is cached."""

    POLICY = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.POLICY)
        # Pages and API answers carry personal data: no cache, shared or private,
        # may keep them. (Static files are answered before this middleware.)
        response.headers.setdefault("Cache-Control", "no-store")
        return response
