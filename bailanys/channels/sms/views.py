"""sms-gate.app's webhook: the signature first, then the event, once."""

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bailanys import phones
from bailanys.channels.sms.models import SmsGateway
from bailanys.channels.sms.smsgate.webhook import event_handle, webhook_gateway
from bailanys.conversations.models import SmsVolunteer
from bailanys.conversations.sms_volunteers import PhoneTaken, volunteer_help, volunteer_phone_set


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
            "typed": request.POST.get("phone", "")[:40] if error else "",
            "saved": saved,
            "commands": volunteer_help(),
        },
        status=422 if error else 200,
    )
    response["Cache-Control"] = "no-store"
    return response


def _int(raw, default: int | None) -> int | None:
    if raw is None or not str(raw).strip():
        return default
    try:
        return int(raw)
    except ValueError:
        return -1  # refused by gateway_add with a reason


@login_required
def gateways(request: HttpRequest) -> HttpResponse:
    """/console/sms/gateways/: coordinators see every SMS gateway's health, add and switch
    gateways, and choose which case kinds the bridge tries first; others see nothing."""
    from bailanys.channels.sms.gateways import (
        GatewayInvalid,
        gateway_add,
        gateway_health,
        gateway_switch,
    )
    from bailanys.conversations.bridge import bridge_kinds, bridge_kinds_set
    from bailanys.relay.models import Kind

    if not request.user.is_coordinator:
        raise Http404
    errors, notice, status = {}, "", 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "add":
            try:
                gateway = gateway_add(
                    name=request.POST.get("name", ""),
                    kind=request.POST.get("kind", ""),
                    url=request.POST.get("url", ""),
                    username=request.POST.get("username", ""),
                    password=request.POST.get("password", ""),
                    signing_key=request.POST.get("signing_key", ""),
                    sim=_int(request.POST.get("sim"), None),
                    prefixes=request.POST.get("prefixes", ""),
                    per_minute=_int(request.POST.get("per_minute"), 30),
                    daily_cap=_int(request.POST.get("daily_cap"), 400),
                    from_number=request.POST.get("from_number", ""),
                    by=request.user,
                )
                notice = _("Gateway %(name)s added.") % {"name": gateway.name}
            except GatewayInvalid as exc:
                errors, status = exc.errors, 422
        elif action in ("enable", "disable"):
            if not gateway_switch(
                name=request.POST.get("name", ""), enabled=action == "enable", by=request.user
            ):
                raise Http404
        elif action == "bridge":
            bridge_kinds_set(request.POST.getlist("kinds"), by=request.user)
            notice = _("Saved.")
        else:
            errors, status = {"action": _("Unknown action.")}, 422
    rows = gateway_health()
    response = render(
        request,
        "channels/sms_gateways.html",
        {
            "gateways": rows,
            "stale": [g for g in rows if g["state"] == "stale"],
            "errors": errors,
            "notice": notice,
            "kinds": [(k.value, k.label, k.value in bridge_kinds()) for k in Kind],
            "gateway_kinds": SmsGateway.Kind.choices,
            "posted": request.POST if errors else {},
        },
        status=status,
    )
    response["Cache-Control"] = "no-store"
    return response
