"""The webhooks of a Twilio-style provider: status callbacks and incoming messages."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bailanys.channels.sms.inbound import delivery_report, inbound_accept
from bailanys.channels.sms.models import SmsEvent, SmsGateway
from bailanys.channels.sms.twilio import EMPTY_TWIML, STATES, signature_valid


def signed_url(request: HttpRequest) -> str:
    """The URL Twilio signed: BAILANYS_PUBLIC_URL + path and query when set (behind a proxy),
    else the URL as Django sees it."""
    if settings.BAILANYS_PUBLIC_URL:
        return settings.BAILANYS_PUBLIC_URL + request.get_full_path()
    return request.build_absolute_uri()


def _gateway(request: HttpRequest, name: str) -> SmsGateway | None:
    """The enabled HTTP gateway `name` if Twilio signed the request, else None.

    An unknown name is answered like a wrong signature (403), so the webhook does not tell
    which gateway names exist.
    """
    gateway = SmsGateway.objects.filter(name=name, kind=SmsGateway.Kind.HTTP, enabled=True).first()
    header = request.headers.get("X-Twilio-Signature", "")
    if gateway is None or not signature_valid(
        gateway.password, signed_url(request), request.POST, header
    ):
        return None
    # The provider is reachable again; last_seen_at stays unset, so an idle provider (it
    # sends no heartbeats) is never taken for a silent phone.
    SmsGateway.objects.filter(pk=gateway.pk, stale_since__isnull=False).update(stale_since=None)
    return gateway


def _forbidden() -> HttpResponse:
    return HttpResponseForbidden("signature missing or wrong", content_type="text/plain")


@csrf_exempt
@require_POST
def status_callback(request: HttpRequest, name: str) -> HttpResponse:
    """POST /channels/http-sms/<name>/status: Twilio's message status callback.

    Unsigned or wrongly signed: 403, nothing read. Signed: sent, delivered, undelivered and
    failed move the SMS's delivery state (reports are idempotent); anything else is answered
    200 too, so Twilio does not retry it.
    """
    gateway = _gateway(request, name)
    if gateway is None:
        return _forbidden()
    sid = request.POST.get("MessageSid", "")
    state = STATES.get(request.POST.get("MessageStatus", ""))
    result = delivery_report(gateway, sid, state) if sid and state else "ignored"
    return HttpResponse(result, content_type="text/plain")


@csrf_exempt
@require_POST
def inbound(request: HttpRequest, name: str) -> HttpResponse:
    """POST /channels/http-sms/<name>/inbound: Twilio's incoming message webhook.

    Unsigned or wrongly signed: 403, nothing read. A signed message is taken once per
    MessageSid (Twilio may retry the webhook) and answered with empty TwiML.
    """
    gateway = _gateway(request, name)
    if gateway is None:
        return _forbidden()
    sid = request.POST.get("MessageSid", "")
    sender = request.POST.get("From", "")
    text = request.POST.get("Body")
    if sender and text is not None:
        if sid:
            try:
                with transaction.atomic():
                    SmsEvent.objects.create(event_id=f"{gateway.pk}:{sid}"[:100])
                    inbound_accept(gateway, sender, text, provider_id=sid)
            except IntegrityError:
                pass  # this MessageSid was taken before
        else:
            inbound_accept(gateway, sender, text)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
