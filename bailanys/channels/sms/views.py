"""sms-gate.app's webhook: the signature first, then the event, once."""

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bailanys import phones
from bailanys.channels.sms.inbound import event_handle, webhook_gateway
from bailanys.channels.sms.models import SmsVolunteer
from bailanys.channels.sms.volunteers import PhoneTaken, volunteer_help, volunteer_phone_set


@csrf_exempt
@require_POST
def smsgate_webhook(request: HttpRequest) -> HttpResponse:
    """POST /channels/smsgate/webhook.

    An unsigned, wrongly signed or stale request is refused (401) before its body is
    read. A signed event we do not understand is answered 200, so the phone stops
    retrying it.
    """
    gateway = webhook_gateway(request)
    if gateway is None:
        return JsonResponse({"error": "signature missing, wrong or stale"}, status=401)
    try:
        event = json.loads(request.body)
    except ValueError:
        return JsonResponse({"result": "ignored", "reason": "not JSON"})
    if not isinstance(event, dict):
        return JsonResponse({"result": "ignored", "reason": "not an event"})
    return JsonResponse({"result": event_handle(gateway, event)})


@login_required
def volunteer_phone(request: HttpRequest) -> HttpResponse:
    """/console/sms/: the volunteer's own phone, to work by SMS without internet."""
    error = saved = ""
    if request.method == "POST":
        try:
            number = volunteer_phone_set(user=request.user, raw=request.POST.get("phone", ""))
            saved = phones.display(number)
        except phones.InvalidPhone as exc:
            error = str(exc)
        except PhoneTaken:
            error = _("This number is registered to another volunteer.")
    current = SmsVolunteer.objects.filter(user=request.user).first()
    response = render(
        request,
        "channels/sms_phone.html",
        {
            "current": phones.display(current.number) if current else "",
            "error": error,
            "saved": saved,
            "commands": volunteer_help(),
        },
        status=422 if error else 200,
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
def gateways(request: HttpRequest) -> HttpResponse:
    """/console/sms/gateways/: coordinators see every SMS gateway's health; others, nothing."""
    from bailanys.channels.sms.gateways import gateway_health

    if not request.user.is_coordinator:
        raise Http404
    rows = gateway_health()
    response = render(
        request,
        "channels/sms_gateways.html",
        {"gateways": rows, "stale": [g for g in rows if g["state"] == "stale"]},
    )
    response["Cache-Control"] = "no-store"
    return response
