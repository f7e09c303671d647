"""Account guards that hold for every request, so no view has to remember them."""

from urllib.parse import urlencode

from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

# Pages a coordinator may open before the second factor: the two steps
# themselves, logging out, choosing a language, and what is public anyway.
TWO_FACTOR_EXEMPT = {
    "accounts:twofactor_setup",
    "accounts:twofactor_verify",
    "accounts:logout",
    "set_language",
    "healthz",
    "relay:request_new",
    "relay:status",
    "outages:status",
}
# The API authenticates every call with its bearer token, never the session.
TWO_FACTOR_EXEMPT_NAMESPACES = {"api"}


class AccountGuardMiddleware:
    """Ends dead sessions and keeps unverified coordinators on the 2FA steps.

    1. A session whose account was suspended (or is waiting for approval, or was
       deleted) is flushed on its next request, whatever the session store.
       Django's ModelBackend already treats such a user as anonymous; flushing
       also removes what the session held.
    2. Coordinators and admins (anyone who `needs_two_factor`) are sent to
       /accounts/2fa/setup/ (no confirmed device yet) or /accounts/2fa/verify/
       for every page, /admin/ included, until this session is verified.

    Must come after AuthenticationMiddleware and django_otp's OTPMiddleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if SESSION_KEY in request.session and not request.user.is_authenticated:
            request.session.flush()
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        user = request.user
        if not user.is_authenticated or not user.needs_two_factor or user.is_verified():
            return None
        match = request.resolver_match
        if match is not None and (
            match.view_name in TWO_FACTOR_EXEMPT
            or TWO_FACTOR_EXEMPT_NAMESPACES.intersection(match.namespaces)
        ):
            return None
        has_device = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        step = reverse("accounts:twofactor_verify" if has_device else "accounts:twofactor_setup")
        if request.method == "GET":
            step += "?" + urlencode({"next": request.get_full_path()})
        return redirect(step)
