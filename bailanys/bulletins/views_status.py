"""The requester's status page offers verified bulletins by SMS at the request's contact
number (issue 19, item 3): the offer shown on the page, and the button it posts to.

Only a contact an SMS gateway can reach is offered (the same rule that texts the
requester their notices); the number is the request's own, never typed here, so a status
link subscribes nobody else.
"""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bailanys.bulletins.models import LANGUAGES
from bailanys.bulletins.services import subscribe, subscribed, unsubscribe
from bailanys.relay.hooks import contact_routes
from bailanys.relay.models import Request
from bailanys.relay.selectors import STATUS_TOKEN
from bailanys.relay.services.intake import status_key


def _sms_number(token: str) -> str | None:
    """The SMS number of the request behind `token`, if its contact is one we can text;
    Http404 for a token that names no request."""
    if not STATUS_TOKEN.fullmatch(token or ""):
        raise Http404
    request = (
        Request.objects.select_related("requester").filter(status_key=status_key(token)).first()
    )
    if request is None:
        raise Http404
    if request.demo:
        return None  # made-up data: the number may be a stranger's
    requester = request.requester
    if requester.channel == "sms":
        return requester.contact or None  # asked by SMS: the number it came from
    if requester.channel != "web":
        return None
    numbers = [a for channel, a in contact_routes(requester.contact) if channel == "sms"]
    return numbers[0] if numbers else None


def bulletin_offer(token: str) -> dict | None:
    """For the status page: None (nothing to offer), or {"subscribed": bool}."""
    number = _sms_number(token)
    if number is None:
        return None
    return {"subscribed": subscribed(channel="sms", address=number) is not None}


@require_POST
def status_bulletins(request: HttpRequest, token: str) -> HttpResponse:
    """Subscribe (or unsubscribe) the request's contact number to bulletins by SMS."""
    number = _sms_number(token)
    language = request.POST.get("lang")
    language = language if language in LANGUAGES else "ru"
    back = reverse("relay:status", kwargs={"token": token}) + f"?lang={language}"
    if number is None:
        return redirect(back)
    with translation.override(language):
        if request.POST.get("action") == "unsubscribe":
            unsubscribe(channel="sms", address=number)
            messages.info(request, _("You will get no more bulletins at this number."))
        else:
            subscribe(channel="sms", address=number, language=language)
            messages.success(
                request,
                _(
                    "Subscribed: verified bulletins will come by SMS to this number. "
                    "You can stop them on this page."
                ),
            )
    response = redirect(back)
    response["Cache-Control"] = "no-store"
    return response
