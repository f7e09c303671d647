from base64 import b32encode
from functools import wraps

import django_otp
import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from bailanys.accounts import selectors, services
from bailanys.accounts.forms import CodeForm, InvitationForm, JoinForm, LoginForm
from bailanys.accounts.models import User
from bailanys.relay.services import volunteer_suspend


def coordinator_required(view):
    """Logged in and a coordinator; anyone else gets a 404 (the page does not admit it exists)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_coordinator:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


# --- Login --------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


def login_locked(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """What axes shows once a username and address have failed too often (429)."""
    context = {
        "form": LoginForm(request),
        "locked_minutes": settings.BAILANYS_LOGIN_COOLOFF_MINUTES,
        "next": _next_url(request) if request.POST.get("next") else "",
    }
    return render(request, "accounts/login.html", context, status=429)


# --- Invitations --------------------------------------------------------------


@never_cache
def join(request: HttpRequest, token: str) -> HttpResponse:
    """Sign up with an invitation link; the account then waits for approval."""
    try:
        invitation = services.invitation_check(token=token)
    except services.InvitationUnknown:
        raise Http404 from None
    except services.InvitationGone:
        return render(request, "accounts/join_gone.html", status=410)
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_accept(
                token=token,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                request=request,
            )
        except services.InvitationGone:
            return render(request, "accounts/join_gone.html", status=410)
        return render(request, "accounts/join_done.html", status=201)
    status = 422 if request.method == "POST" else 200
    return render(
        request, "accounts/join.html", {"form": form, "invitation": invitation}, status=status
    )


def _invite_base(request: HttpRequest) -> str:
    return settings.BAILANYS_PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")


@never_cache
@coordinator_required
def invitations(request: HttpRequest) -> HttpResponse:
    """Make an invitation (its link is shown once, on this response) and see the open ones."""
    form = InvitationForm(request.POST or None)
    link = ""
    if request.method == "POST" and form.is_valid():
        _invitation, token = services.invitation_create(
            coordinator=request.user, role=form.cleaned_data["role"], request=request
        )
        link = _invite_base(request) + reverse("accounts:join", args=[token])
        form = InvitationForm()
    context = {
        "form": form,
        "link": link,
        "open": selectors.invitations_open(),
        "days": settings.BAILANYS_INVITATION_DAYS,
    }
    return render(request, "accounts/invitations.html", context)


@require_POST
@coordinator_required
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    if services.invitation_revoke(
        coordinator=request.user, invitation_id=invitation_id, request=request
    ):
        messages.success(request, _("The invitation was revoked; its link no longer works."))
    return redirect("accounts:invitations")


# --- Approval and suspension ------------------------------------------------


@never_cache
@coordinator_required
def volunteers(request: HttpRequest) -> HttpResponse:
    return render(
        request, "accounts/volunteers.html", {"accounts": selectors.accounts_for_coordinator()}
    )


ACCOUNT_ACTIONS = {
    "approve": services.account_approve,
    # The relay gives back the cases the account held, in the same transaction.
    "suspend": volunteer_suspend,
    "reactivate": services.account_reactivate,
}


@require_POST
@coordinator_required
def volunteer_action(request: HttpRequest, user_id: int, action: str) -> HttpResponse:
    if action not in ACCOUNT_ACTIONS:
        raise Http404
    account = get_object_or_404(User, pk=user_id)
    try:
        ACCOUNT_ACTIONS[action](coordinator=request.user, user=account, request=request)
    except PermissionDenied:
        messages.error(request, _("You cannot do that to this account."))
        return redirect("accounts:volunteers")
    done = {
        "approve": _("%(name)s is approved and can log in now."),
        "suspend": _(
            "%(name)s is suspended: logged out everywhere, API tokens revoked, "
            "held cases back in the queue."
        ),
        "reactivate": _("%(name)s can log in again."),
    }
    messages.success(request, done[action] % {"name": account.username})
    return redirect("accounts:volunteers")


# --- Two-factor ---------------------------------------------------------------


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@never_cache
@login_required
def twofactor_setup(request: HttpRequest) -> HttpResponse:
    """First login of a coordinator: add the key to an app, then prove it with a code."""
    user = request.user
    if not user.needs_two_factor or user.is_verified():
        return redirect(_next_url(request))
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return redirect(reverse("accounts:twofactor_verify") + "?" + request.GET.urlencode())
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = services.totp_device_confirm(
            user=user, token=form.cleaned_data["code"], request=request
        )
        if device is not None:
            request.session.cycle_key()
            django_otp.login(request, device)
            messages.success(request, _("Two-step login is set up."))
            return redirect(_next_url(request))
        form.add_error(
            "code", _("That code did not match. Check the phone's clock and try the next code.")
        )
    device = services.totp_device_start(user=user)
    secret = b32encode(device.bin_key).decode()
    context = {
        "form": form,
        "secret": _grouped(secret),
        "uri": device.config_url,
        "qr": mark_safe(  # noqa: S308  segno's own SVG of our URI: no user text in it
            segno.make(device.config_url, error="m").svg_inline(
                scale=5, border=4, light="#fff", title=_("Two-step login key")
            )
        ),
        "next": _next_url(request),
    }
    status = 422 if request.method == "POST" else 200
    return render(request, "accounts/twofactor_setup.html", context, status=status)


@never_cache
@login_required
def twofactor_verify(request: HttpRequest) -> HttpResponse:
    """Every login of a coordinator: the code from their app."""
    user = request.user
    if not user.needs_two_factor or user.is_verified():
        return redirect(_next_url(request))
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return redirect(reverse("accounts:twofactor_setup") + "?" + request.GET.urlencode())
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = django_otp.match_token(user, form.cleaned_data["code"])
        if device is not None:
            request.session.cycle_key()
            django_otp.login(request, device)
            return redirect(_next_url(request))
        form.add_error(
            "code",
            _(
                "That code did not work. Wait for the next code; after several wrong codes "
                "each try has to wait longer."
            ),
        )
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "accounts/twofactor_verify.html",
        {"form": form, "next": _next_url(request)},
        status=status,
    )
