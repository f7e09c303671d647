"""What requesters are told, and the one way it reaches them: an outbox row per request."""

from django.utils import translation
from django.utils.translation import gettext as _

from bailanys.outbox.services import outbox_add
from bailanys.relay import hooks
from bailanys.relay.models import (
    Attempt,
    Request,
    Resolution,
)


def never_money_line() -> str:
    return _("Bailanys volunteers never ask for money.")


def notification_text(
    *,
    resolution: str,
    recipient_name: str,
    reply: str,
    via: str = Attempt.Via.CALL,
    pin_verified: bool = False,
    known: bool = True,
) -> str:
    """What a requester is told when their case ends, in the active language.

    `known`: the recipient showed they know this requester (Request.known_at). A requester
    they did not recognise learns how the case ended, never the reply.
    """
    texts = {
        Resolution.REACHED: _("A volunteer reached %(name)s and passed on your message."),
        Resolution.DELIVERED: _(
            "A volunteer could not speak to %(name)s but passed your message to someone who will."
        ),
        Resolution.WRONG_NUMBER: _(
            "The number you gave for %(name)s is not theirs. Please check it and send a "
            "new request."
        ),
        Resolution.REFUSED: _("The person who answered for %(name)s did not want to talk."),
        Resolution.UNREACHABLE: _(
            "We called %(name)s several times and nobody answered. We have stopped trying; "
            "send a new request if you have another number."
        ),
        Resolution.SELF_REPORTED: _(
            "%(name)s said by SMS that they are safe. This is self-reported by SMS and "
            "unverified: nobody spoke to them."
        ),
        Resolution.WITHDRAWN: _("The request for %(name)s was withdrawn. Nobody will call."),
        Resolution.MERGED: _(
            "Your request for %(name)s was joined with another request for the same person."
        ),
        Resolution.BY_COORDINATOR: _(
            "A coordinator has closed the request for %(name)s. Nobody will call now; send a "
            "new request if you still need us."
        ),
    }
    if via == Attempt.Via.SMS_BRIDGE:
        texts[Resolution.REACHED] = _("%(name)s got your message by SMS and answered.")
    if pin_verified:
        texts[Resolution.SELF_REPORTED] = _(
            "%(name)s said by SMS that they are safe, with the PIN you set: PIN-verified."
        )
    if not known and resolution == Resolution.REACHED:
        texts[Resolution.REACHED] = (
            _("%(name)s answered our SMS.")
            if via == Attempt.Via.SMS_BRIDGE
            else _("A volunteer reached %(name)s.")
        )
    text = texts[resolution] % {"name": recipient_name}
    if reply and known:
        text += "\n" + _("Their reply: %(reply)s") % {"reply": reply}
    elif reply or (not known and resolution == Resolution.REACHED):
        text += " " + _("They did not say they know you, so their words are not passed on.")
    return text + "\n" + never_money_line()


def requesters_tell(body_for, *, key: str, case_id: int | None = None, requests=None) -> int:
    """Tell requesters something: the one way every notice reaches them. Returns how many.

    To every open (not withdrawn) request of `case_id`, or to the given `requests`. Each
    gets an outbox row on the channel it came by (the status page for the web form and
    the API) and, for the web and the API, one more on each channel its contact names
    (an SMS to a phone number, a Telegram message to a chat: see hooks.contact_routes).
    `body_for(request)` is called with the requester's language active; `key` names the
    occasion, so writing the same notice twice is a no-op. Caller holds the transaction.
    """
    if requests is None:
        requests = Request.objects.filter(case_id=case_id, withdrawn_at__isnull=True)
        requests = requests.select_related("requester")
    told = 0
    for request in requests:
        requester = request.requester
        with translation.override(requester.language):
            body = body_for(request)
        idempotency_key = f"{key}:request:{request.pk}"
        outbox_add(
            channel=requester.channel,
            address=requester.contact,
            body=body,
            idempotency_key=idempotency_key,
            request_id=request.pk,
        )
        if requester.channel == "web":
            for channel, address in hooks.contact_routes(requester.contact):
                outbox_add(
                    channel=channel,
                    address=address,
                    body=body,
                    idempotency_key=f"{idempotency_key}:{channel}",
                    request_id=request.pk,
                )
        told += 1
    return told


def requesters_tell_outcome(
    *, case_id: int, resolution: str, attempt: Attempt | None, event: str = ""
) -> int:
    """Tell every requester of the case how it ended. Caller holds the transaction.

    The reply goes only to requests the recipient knows (known_at set before this call).

    Without an attempt (a coordinator closed the case), `event` names the occasion in
    the messages' idempotency keys.
    """
    return requesters_tell(
        lambda request: notification_text(
            resolution=resolution,
            recipient_name=request.recipient_name,
            reply=attempt.reply if attempt else "",
            via=attempt.via if attempt else Attempt.Via.CALL,
            pin_verified=request.pin_verified_at is not None,
            known=request.known,
        ),
        key=f"outcome:{attempt.pk}" if attempt else event,
        case_id=case_id,
    )
