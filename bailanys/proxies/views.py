"""The proxies page for coordinators, and vouching for a number (docs/proxies.md).

Thin views over bailanys.proxies.services. The coordinator page shows counts only, never
a proxy's address or a requester; its actions (a wave from the reserve, the full-shutdown
switch, vouching) are POSTs audited by the services. Any volunteer may vouch for a number
on /proxies/vouch/.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotAllowed,
)
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from bailanys import phones
from bailanys.privacy.audit import actor_label
from bailanys.privacy.ratelimit import Throttled
from bailanys.proxies.forms import ReleaseForm, VouchForm
from bailanys.proxies.models import Pool, Proxy, ProxyEvent
from bailanys.proxies.services import (
    key_for_number,
    proxies_overview,
    proxies_release,
    proxy_vouch,
    shutdown_set,
    too_many_vouches,
)

DAYS = 7


def vouched_message(e164: str, *, new: bool) -> str:
    """What a volunteer is told after vouching: the number masked, nothing more."""
    number = phones.masked(e164)
    if new:
        return _("Vouched for %(number)s: it gets proxies from the trusted pool.") % {
            "number": number
        }
    return _("%(number)s was already vouched for.") % {"number": number}


def _vouch(request: HttpRequest, form: VouchForm) -> bool:
    """Vouch for the form's number if it is one; say so. False: the form has errors."""
    if not form.is_valid():
        return False
    e164 = form.cleaned_data["phone"]
    try:
        new = proxy_vouch(key_for_number(e164), actor=actor_label(request.user), request=request)
    except Throttled:
        form.add_error("phone", too_many_vouches())
        return False
    messages.success(request, vouched_message(e164, new=new))
    return True


def _days(overview: dict) -> list[dict]:
    """The last DAYS days, newest first, with a zero for each count of a quiet day."""
    by_day = {row["day"]: row for row in overview["days"]}
    today = timezone.localdate()
    kinds = ProxyEvent.Kind.values
    rows = []
    for back in range(DAYS):
        day = today - timedelta(days=back)
        found = by_day.get(day, {})
        rows.append({"day": day, "counts": [found.get(kind, 0) for kind in kinds]})
    return rows


def _stock_low(row: dict, overview: dict, size: int) -> bool:
    """Fewer than one bucket in stock. Not for the reserve (never handed out as it is), nor
    for a trusted pool nobody uses (vouched numbers fall back to the public pool)."""
    if row["stock"] >= size or row["pool"] == Pool.RESERVED:
        return False
    if row["pool"] == Pool.TRUSTED:
        return bool(overview["vouched"] or any(row["states"].values()))
    return True


def _page(request: HttpRequest, *, vouch=None, release=None, status: int = 200) -> HttpResponse:
    overview = proxies_overview(days=DAYS)
    size = settings.BAILANYS_PROXY_BUCKET_SIZE
    low = [row for row in overview["pools"] if _stock_low(row, overview, size)]
    reserve = next(row for row in overview["pools"] if row["pool"] == Pool.RESERVED)
    response = render(
        request,
        "proxies/coordinate.html",
        {
            "o": overview,
            "states": Proxy.State.labels,
            "pools": [
                {**row, "counts": [row["states"][state] for state in Proxy.State.values]}
                for row in overview["pools"]
            ],
            "kinds": ProxyEvent.Kind.labels,
            "days": _days(overview),
            "low": low,
            "bucket_size": size,
            "reserve": reserve["states"]["stocked"],
            "vouch_form": vouch or VouchForm(),
            "release_form": release or ReleaseForm(),
        },
        status=status,
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
def coordinate(request: HttpRequest) -> HttpResponse:
    """/coordinate/proxies/: the pool in counts, waves from the reserve, the switch, vouching."""
    if not request.user.is_coordinator:
        raise Http404  # as every coordinator page: a volunteer is not told it exists
    if request.method in ("GET", "HEAD"):
        return _page(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    action = request.POST.get("action", "")
    actor = actor_label(request.user)
    if action == "vouch":
        form = VouchForm(request.POST)
        if not _vouch(request, form):
            return _page(request, vouch=form, status=422)
    elif action == "release":
        form = ReleaseForm(request.POST)
        if not form.is_valid():
            return _page(request, release=form, status=422)
        to = form.cleaned_data["to"]
        released = proxies_release(form.cleaned_data["count"], to=to, actor=actor, request=request)
        if released:
            messages.success(
                request,
                ngettext(
                    "%(n)d reserved proxy released to the %(pool)s pool.",
                    "%(n)d reserved proxies released to the %(pool)s pool.",
                    released,
                )
                % {"n": released, "pool": Pool(to).label},
            )
        else:
            messages.warning(request, _("The reserve is empty: nothing was released."))
    elif action in ("shutdown-on", "shutdown-off"):
        on = action == "shutdown-on"
        shutdown_set(on=on, actor=actor, request=request)
        if on:
            messages.warning(
                request,
                _("Full shutdown on: people who ask are told proxies cannot help now."),
            )
        else:
            messages.success(request, _("Full shutdown off: proxies are handed out again."))
    else:
        return HttpResponseBadRequest()
    return redirect("proxies:coordinate")


@login_required
def vouch(request: HttpRequest) -> HttpResponse:
    """/proxies/vouch/: any volunteer vouches for a number they know (the trusted pool)."""
    form = VouchForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if _vouch(request, form):
            return redirect("proxies:vouch")
        status = 422
    else:
        status = 200
    response = render(request, "proxies/vouch.html", {"form": form}, status=status)
    response["Cache-Control"] = "no-store"
    return response
