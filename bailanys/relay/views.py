import re
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bailanys.bulletins.views_status import bulletin_offer
from bailanys.privacy.ratelimit import Throttled, intake_throttle
from bailanys.relay import coordination, credit, selectors, services
from bailanys.relay.forms import OutcomeForm, RequestForm, RetainForm, form_data
from bailanys.relay.models import Outcome


def request_new(request: HttpRequest) -> HttpResponse:
    """The public intake form: no login, the same request as the API makes."""
    language = translation.get_language() or "en"
    language = language if language in services.LANGUAGES else "en"
    data, not_utf8 = form_data(request)
    form = RequestForm(data if data or not_utf8 else None, language=language, not_utf8=not_utf8)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data["data"]
        try:
            intake_throttle(request=request, contact=data.requester_contact)
        except Throttled as exc:
            form.add_error(
                None,
                _("Too many requests from here. Try again in %(n)d seconds.")
                % {"n": exc.retry_after},
            )
            response = render(request, "relay/request_new.html", {"form": form}, status=429)
            response["Retry-After"] = str(exc.retry_after)
            return response
        created, _new = services.request_create(data=data, channel="web")
        return redirect("relay:status", token=created.status_token)
    status = 422 if request.method == "POST" else 200
    return render(request, "relay/request_new.html", {"form": form}, status=status)


def request_status(request: HttpRequest, token: str) -> HttpResponse:
    """The requester's page, in one language with the rest of the site: the one asked for
    with ?lang= (older links, the bulletins form), else the one chosen with the site's
    buttons (the language cookie; the page's own buttons set it too), else the language
    the request was made in. A ?lang= is remembered as the buttons' choice is, so the
    other pages follow it."""
    status = selectors.request_status(token=token, http_request=request)
    asked = request.GET.get("lang")
    remembered = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    if asked in services.LANGUAGES:
        language = asked
    elif remembered in services.LANGUAGES:
        language = remembered
    else:
        language = status.language
    context = {"status": status, "token": token, "lang": language, "offer": bulletin_offer(token)}
    with translation.override(language):
        # A message to the requester already says it: the page does not say it twice.
        warning = services.never_money_line()
        context["money_said"] = any(warning in note for note in status.notifications)
        response = render(request, "relay/status.html", context)
    response["Content-Language"] = language  # LocaleMiddleware would say the cookie's
    # The page's own 30-second refresh re-asks its ?lang=: it remembers nothing, or it
    # would undo a choice made meanwhile in another tab.
    refresh = request.headers.get("HX-Request") and not request.headers.get("HX-Boosted")
    if asked in services.LANGUAGES and asked != remembered and not refresh:
        remember_language(response, asked)
    # The link is the secret: keep it out of caches and referrers.
    response["Cache-Control"] = "no-store"
    return response


def remember_language(response: HttpResponse, language: str) -> None:
    """Set the language cookie as Django's set_language view (the site's buttons) does."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


@login_required
def console(request: HttpRequest) -> HttpResponse:
    claim = services.claim_active_for(request.user)
    case = None
    if claim is not None:
        case = selectors.case_get_for_volunteer(
            claim_id=claim.pk, volunteer=request.user, http_request=request
        )
    outcomes = [(o.value, o.label) for o in Outcome]
    care = (
        case is None
        and request.GET.get("care") == "1"
        and services.hard_streak(request.user) >= settings.BAILANYS_HARD_IN_A_ROW
    )
    response = render(
        request,
        "relay/console.html",
        {
            "case": case,
            "outcomes": outcomes,
            "care": care,
            "in_a_row": services.hard_streak(request.user),
            "broadcasts": coordination.broadcasts_recent(),
            "credit": credit.credit_summary(request.user),
            "shift": None if case else credit.shift_current(request.user),
            "profile": services.profile_of(request.user),
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def console_take(request: HttpRequest) -> HttpResponse:
    """Take the next case. After several hard ones in a row the volunteer chooses first:
    a lighter case, a break, or another hard one (mode=light / mode=any)."""
    mode = request.POST.get("mode", "")
    if (
        mode not in ("light", "any")
        and services.takes_hard_cases(request.user)
        and services.hard_streak(request.user) >= settings.BAILANYS_HARD_IN_A_ROW
    ):
        return redirect(f"{reverse('relay:console')}?care=1")
    try:
        claim = services.case_claim_next(
            volunteer=request.user, light_only=mode == "light", with_demo=True
        )
    except services.NeedsTalk:
        messages.info(request, _("A coordinator will talk with you first."))
        return redirect("relay:console")
    if claim is None:
        messages.info(request, _("Nobody is waiting right now. Thank you — check again soon."))
    return redirect("relay:console")


@login_required
@require_POST
def console_need_talk(request: HttpRequest) -> HttpResponse:
    """One tap: "I need to talk". Coordinators see it at once; no case until then."""
    services.volunteer_needs_talk(volunteer=request.user)
    messages.info(request, _("The coordinators can see that you want to talk. Take care."))
    return redirect("relay:console")


@login_required
@require_POST
def coordinator_talked(request: HttpRequest, user_id: int) -> HttpResponse:
    try:
        services.volunteer_talked(coordinator=request.user, user_id=user_id)
    except services.NotYourClaim:
        raise Http404 from None
    return redirect("relay:coordinator")


def _claim_action(request: HttpRequest, action, success: str = "", **kwargs) -> HttpResponse:
    """Run a claim service for the logged-in volunteer and say how it went."""
    try:
        action(volunteer=request.user, **kwargs)
        if success:
            messages.success(request, success)
    except services.NotYourClaim:
        raise PermissionDenied from None
    except services.ClaimEnded:
        messages.warning(
            request,
            _("This case is no longer yours: its lease ran out and it went back to the queue."),
        )
    except services.InputError as exc:
        for reason in exc.errors.values():
            messages.error(request, reason)
    return redirect("relay:console")


@login_required
@require_POST
def console_outcome(request: HttpRequest, claim_id: int) -> HttpResponse:
    form = OutcomeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose an outcome; the reply and note have length limits."))
        return redirect("relay:console")
    # The form lists the case's requesters to tick ("they know Marat"): an unticked box
    # sends nothing, so known_asked tells "none ticked" from a form without the boxes.
    known = None
    if request.POST.get("known_asked"):
        chosen = request.POST.getlist("known")
        known = [int(v) if v.isdigit() else v for v in chosen]
    return _claim_action(
        request,
        services.claim_record_outcome,
        success=_("Saved. Thank you."),
        claim_id=claim_id,
        outcome=form.cleaned_data["outcome"],
        reply=form.cleaned_data["reply"],
        note=form.cleaned_data["note"],
        mark_hard=form.cleaned_data["hard"],
        via=form.cleaned_data["via"],
        minutes=form.cleaned_data["minutes"],
        known_requests=known,
    )


@login_required
@require_POST
def console_hard_cases(request: HttpRequest) -> HttpResponse:
    """An experienced volunteer takes, or stops taking, hard cases."""
    services.volunteer_hard_cases_set(
        volunteer=request.user, take=request.POST.get("take") == "yes"
    )
    return redirect("relay:console")


@login_required
@require_POST
def console_renew(request: HttpRequest, claim_id: int) -> HttpResponse:
    return _claim_action(request, services.claim_renew, claim_id=claim_id)


@login_required
@require_POST
def console_release(request: HttpRequest, claim_id: int) -> HttpResponse:
    return _claim_action(request, services.claim_release, claim_id=claim_id)


@login_required
def coordinator(request: HttpRequest) -> HttpResponse:
    try:
        overview = selectors.coordinator_overview(coordinator=request.user, http_request=request)
    except services.NotYourClaim:
        # Need to know: a page of personal data does not admit it exists.
        raise Http404 from None
    return render(
        request,
        "relay/coordinator.html",
        {
            "o": overview,
            "retain_form": RetainForm(),
            "credits_low": credit.credits_low(coordinator=request.user),
            "untold": selectors.requesters_untold(coordinator=request.user),
        },
    )


@login_required
@require_POST
def coordinator_take(request: HttpRequest, case_id: int) -> HttpResponse:
    if services.claim_active_for(request.user) is not None:
        messages.warning(request, _("Finish the case you hold first."))
        return redirect("relay:console")
    try:
        claim = services.case_claim(volunteer=request.user, case_id=case_id)
    except services.NotYourClaim:
        raise PermissionDenied from None
    if claim is None:
        messages.warning(request, _("Someone else has taken this case."))
        return redirect("relay:coordinator")
    return redirect("relay:console")


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    """Coordinators page through the audit log, newest first."""
    if not request.user.is_coordinator:
        raise Http404
    from django.core.paginator import Paginator

    from bailanys.accounts.models import User
    from bailanys.privacy.audit import audit_views_today
    from bailanys.privacy.models import AuditEntry

    page = Paginator(AuditEntry.objects.order_by("-id"), AUDIT_PAGE).get_page(
        request.GET.get("page")
    )
    # The chain stores "user:12" (a rename must not break it); people read usernames. An id
    # with no account (or any other actor: "cli", "sms:bridge") is shown as stored.
    ids = {int(m[1]) for e in page if (m := _ACTOR_USER.fullmatch(e.actor))}
    names = dict(User.objects.filter(pk__in=ids).values_list("pk", "username")) if ids else {}
    for e in page:
        m = _ACTOR_USER.fullmatch(e.actor)
        e.who = names.get(int(m[1]), e.actor) if m else e.actor
    return render(request, "relay/audit.html", {"page": page, "status_views": audit_views_today()})


AUDIT_PAGE = 50
_ACTOR_USER = re.compile(r"user:(\d+)")


@login_required
@require_POST
def coordinator_retain(request: HttpRequest) -> HttpResponse:
    """Keep one case past the retention limits, with a reason (audited)."""
    if not request.user.is_coordinator:
        raise Http404
    form = RetainForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for reason in errors:
                messages.error(request, reason)
        return redirect("relay:coordinator")
    until = timezone.make_aware(
        datetime.combine(form.cleaned_data["until"], datetime.max.time().replace(microsecond=0))
    )
    try:
        services.case_retain(
            coordinator=request.user,
            case_id=form.cleaned_data["case_id"],
            until=until,
            reason=form.cleaned_data["reason"],
        )
    except services.NotYourClaim:
        messages.error(request, _("There is no case with that number."))
    except services.InputError as exc:
        for reason in exc.errors.values():
            messages.error(request, reason)
    else:
        messages.success(
            request, _("The case will be kept until %(day)s.") % {"day": form.cleaned_data["until"]}
        )
    return redirect("relay:coordinator")


@login_required
def coordinator_stats_csv(request: HttpRequest) -> HttpResponse:
    """Counts per day, region, kind and outcome as CSV, for reports: no personal data."""
    import csv

    try:
        rows = selectors.statistics_rows(coordinator=request.user)
    except services.NotYourClaim:
        raise Http404 from None
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="bailanys-statistics.csv"'
    response["Cache-Control"] = "no-store"
    writer = csv.DictWriter(response, fieldnames=["day", "region", "kind", "outcome", "cases"])
    writer.writeheader()
    writer.writerows(rows)
    return response


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The coordinators' live picture: counts and charts that refresh themselves (htmx)."""
    from bailanys.channels.sms.gateways import gateway_health
    from bailanys.relay.dashboard import dashboard as dashboard_data

    try:
        data = dashboard_data(
            coordinator=request.user,
            gateways=gateway_health() if request.user.is_coordinator else [],
        )
    except services.NotYourClaim:
        raise Http404 from None
    # The refresh asks for the fragment only: a few kilobytes, every few seconds.
    partial = request.headers.get("HX-Request") == "true" and not request.headers.get("HX-Boosted")
    template = "relay/_dashboard.html" if partial else "relay/dashboard.html"
    return render(
        request,
        template,
        {"d": data, "refresh": settings.BAILANYS_DASHBOARD_REFRESH_SECONDS},
    )
