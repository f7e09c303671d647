"""sms-gate.app's webhook: the signature first, then the event, once."""

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bailanys.channels.sms.inbound import event_handle, webhook_gateway


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
