"""/status/: what works where, for everyone (no login); /coordinate/status/: posting the
changes to a Telegram channel (docs/status.md). Thin views over bailanys.outages."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from bailanys.outages.announce import announce_set, announce_settings
from bailanys.outages.forms import AnnounceForm
from bailanys.outages.models import Channel, State
from bailanys.outages.page import (
    DAYS,
    DayError,
    day_window,
    feeds_answered,
    grid_groups,
    lanes,
    sensors_heard,
)
from bailanys.outages.svg import timeline_svg
from bailanys.privacy.audit import actor_label

DAY_ERRORS = {
    "format": lambda: _("“%(day)s” is not a day: write it as YYYY-MM-DD, e.g. 2022-01-05."),
    "future": lambda: _("%(day)s has not come yet: there is no timeline for it."),
    "past": lambda: _("There is no timeline before 2020."),
}


@require_http_methods(["GET", "HEAD"])
def status(request: HttpRequest) -> HttpResponse:
    """The grid now, the timeline of the last days (or of ?day=YYYY-MM-DD), the sources."""
    now = timezone.now()
    asked = request.GET.get("day", "")[:40]
    error = ""
    try:
        start, end, day = day_window(asked, now)
    except DayError as exc:
        error = DAY_ERRORS[str(exc)]() % {"day": asked}
        start, end, day = day_window(None, now)
    found = lanes(start, end)
    response = render(
        request,
        "outages/status.html",
        {
            "groups": grid_groups(),
            "channels": Channel.labels,
            "states": [(value, label) for value, label in State.choices],
            "lanes": found,
            "timeline": timeline_svg(found, start, end) if found else "",
            "start": start,
            "end": end,
            "day": day,
            "days": DAYS,
            "full": day is None and end - start >= timedelta(days=DAYS),
            "asked": asked,
            "error": error,
            "feeds": feeds_answered(),
            "heard": sensors_heard(),
        },
        status=400 if error else 200,
    )
    response["Cache-Control"] = "private, max-age=60"  # it holds the language form's CSRF token
    return response


@login_required
def coordinate(request: HttpRequest) -> HttpResponse:
    """/coordinate/status/: the channel state changes are posted to, on or off."""
    if not request.user.is_coordinator:
        raise Http404  # as every coordinator page: a volunteer is not told it exists
    current = announce_settings()
    if request.method in ("GET", "HEAD"):
        form = AnnounceForm(
            initial={
                "chat": current.chat,
                "on": current.on,
                "language": current.language,
                "rehearsals": current.rehearsals,
            }
        )
        status = 200
    elif request.method == "POST":
        form = AnnounceForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            announce_set(
                chat=data["chat"],
                on=data["on"],
                language=data["language"],
                rehearsals=data["rehearsals"],
                actor=actor_label(request.user),
                request=request,
            )
            if data["on"]:
                messages.success(
                    request,
                    _("State changes are posted to %(chat)s.") % {"chat": data["chat"]},
                )
            else:
                messages.success(request, _("State changes are not posted."))
            return redirect("outages:coordinate")
        status = 422
    else:
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    response = render(
        request, "outages/coordinate.html", {"form": form, "current": current}, status=status
    )
    response["Cache-Control"] = "no-store"
    return response
