"""Volunteer care pages: phone credit, top-ups and the operators a volunteer calls cheaply."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from bailanys.relay import credit
from bailanys.relay.services import InputError, NotYourClaim


def _say_errors(request: HttpRequest, exc: InputError) -> None:
    for reason in exc.errors.values():
        messages.error(request, reason)


@login_required
@require_http_methods(["GET", "POST"])
def console_credit(request: HttpRequest) -> HttpResponse:
    """GET: the volunteer's own spend and balance. POST: they record their own top-up."""
    if request.method == "POST":
        try:
            topup = credit.credit_topup(
                volunteer_id=request.user.pk,
                minutes=request.POST.get("minutes", ""),
                marked_by=request.user,
            )
        except InputError as exc:
            _say_errors(request, exc)
        else:
            messages.success(
                request, _("Top-up of %(n)d minutes saved. Thank you.") % {"n": topup.minutes}
            )
        return redirect("relay:credit")
    return render(
        request,
        "relay/credit.html",
        {
            "summary": credit.credit_summary(request.user),
            "topups": credit.credit_topups_recent(request.user),
            "operators": credit.operators_choices(request.user),
        },
    )


@login_required
@require_POST
def console_operators(request: HttpRequest) -> HttpResponse:
    """The volunteer ticks the operators they call cheaply (none ticked: no preference)."""
    try:
        credit.operators_set(volunteer=request.user, names=request.POST.getlist("operator"))
    except InputError as exc:
        _say_errors(request, exc)
    else:
        messages.success(request, _("Saved. Cases on these operators will come to you first."))
    return redirect("relay:credit")


@login_required
@require_POST
def coordinator_topup(request: HttpRequest, user_id: int) -> HttpResponse:
    """A coordinator marks credit put on a volunteer's phone. 404 for anyone else."""
    if not request.user.is_coordinator:
        raise Http404
    try:
        topup = credit.credit_topup(
            volunteer_id=user_id, minutes=request.POST.get("minutes", ""), marked_by=request.user
        )
    except NotYourClaim:
        raise Http404 from None
    except InputError as exc:
        _say_errors(request, exc)
    else:
        messages.success(request, _("Top-up of %(n)d minutes marked.") % {"n": topup.minutes})
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(back)
    return redirect("relay:coordinator")
