"""What requesters are told, and the one way it reaches them: an outbox row per request."""

from django.utils import translation
from django.utils.translation import gettext as _

from bailanys import phones
from bailanys.outbox.services import outbox_add
from bailanys.relay import hooks
from bailanys.relay.models import (
    Attempt,
    Request,
    Resolution,
)


def never_money_line() -> str:
    return _("Bailanys volunteers never ask for money.")


def never_money_short() -> str:
    """The same warning, short enough for an SMS that must fit two parts."""
    return _("We never ask for money.")


# What a requester typed when they did not know the name (the bot's "—").
NO_NAME = {"", "-", "\u2014", "\u2013"}
# The first line of a notice sent again after a worker died mid-send (outbox_add's
# "again"): it may be the second copy the requester reads.
SENT_AGAIN = "\u21bb "


def recipient_label(request: Request) -> str:
    """The relative a message to a requester is about: the name as the requester wrote it
    and the number they gave, masked ("Гульнара (+7701*****34)"); the number alone
    without a name. One requester may ask about several people: each message says which.
    """
    name = (request.recipient_name or "").strip()
    case = request.origin_case or request.case  # the number they gave, even after a merge
    number = phones.masked(case.recipient_phone, plain=True)
    return f"{name} ({number})" if name not in NO_NAME else number


# The outcomes after which the recipient's own words may be passed on.
REPLY_RESOLUTIONS = (Resolution.REACHED, Resolution.DELIVERED, Resolution.SELF_REPORTED)


def notification_text(
    *,
    resolution: str,
    recipient_name: str,
    reply: str,
    via: str = Attempt.Via.CALL,
    pin_verified: bool = False,
    known: bool = True,
    from_other_number: bool = False,
) -> str:
    """What a requester is told when their case ends, in the active language.

    `recipient_name`: who it is about, as recipient_label words it. `known`: the recipient
    showed they know this requester (Request.known_at). A requester they did not recognise
    learns how the case ended, never the reply. `from_other_number`: the answer to the SMS
    bridge came from another phone than the one we texted (a neighbour's), quoting our
    reference: the notice says so.

    Every text fits two SMS parts with a 10-letter name, a masked number and a 40-character
    reply (tests/test_notice_lengths.py measures each in each language).
    """
    texts = {
        Resolution.REACHED: _("%(name)s: a volunteer reached them and passed on your message."),
        Resolution.DELIVERED: _(
            "%(name)s: your message was passed on through people close to them."
        ),
        Resolution.WRONG_NUMBER: _(
            "%(name)s: the number is not theirs. Check it and send a new request."
        ),
        Resolution.REFUSED: _("%(name)s: the person who answered did not want to talk."),
        Resolution.UNREACHABLE: _(
            "%(name)s: we called several times, nobody answered. Have another number? "
            "Send a new request."
        ),
        Resolution.SELF_REPORTED: _(
            "%(name)s said by SMS they are safe: self-reported, unverified."
        ),
        Resolution.WITHDRAWN: _("%(name)s: the request was withdrawn. Nobody will call."),
        Resolution.MERGED: _("%(name)s: your request was joined with another for the same person."),
        Resolution.BY_COORDINATOR: _(
            "%(name)s: a coordinator closed the request. Nobody will call; send a new one "
            "if needed."
        ),
    }
    if via == Attempt.Via.SMS_BRIDGE_OTHER:
        via, from_other_number = Attempt.Via.SMS_BRIDGE, True
    if via == Attempt.Via.SMS_BRIDGE:
        texts[Resolution.REACHED] = (
            _("%(name)s: they answered our SMS from another number.")
            if from_other_number
            else _("%(name)s got your message by SMS and answered.")
        )
    if pin_verified:
        texts[Resolution.SELF_REPORTED] = _(
            "%(name)s said by SMS they are safe, with your PIN: PIN-verified."
        )
    if not known and resolution == Resolution.REACHED and not from_other_number:
        texts[Resolution.REACHED] = (
            _("%(name)s answered our SMS.")
            if via == Attempt.Via.SMS_BRIDGE
            else _("%(name)s: a volunteer reached them.")
        )
    lines = [texts[resolution] % {"name": recipient_name}]
    # Only someone who answered has words to pass on: not a wrong number, not a refusal.
    reply = reply if resolution in REPLY_RESOLUTIONS else ""
    if reply and known:
        lines.append(_("Their reply: %(reply)s") % {"reply": reply})
    elif reply or (not known and resolution == Resolution.REACHED):
        lines.append(_("They did not say they know you: their words are not passed on."))
    lines.append(never_money_short())
    return "\n".join(lines)


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
        requests = requests.select_related("requester", "case", "origin_case")
    told = 0
    for request in requests:
        requester = request.requester
        with translation.override(requester.language):
            body = body_for(request)
            options = {"again": SENT_AGAIN + _("Sent again: the first copy may have come too.")}
        idempotency_key = f"{key}:request:{request.pk}"
        outbox_add(
            channel=requester.channel,
            address=requester.contact,
            body=body,
            idempotency_key=idempotency_key,
            request_id=request.pk,
            options=options,
            demo=request.demo,
        )
        if requester.channel == "web":
            for channel, address in hooks.contact_routes(requester.contact):
                outbox_add(
                    channel=channel,
                    address=address,
                    body=body,
                    idempotency_key=f"{idempotency_key}:{channel}",
                    request_id=request.pk,
                    options=options,
                    demo=request.demo,
                )
        told += 1
    return told


def answered_from_another_number(attempt: Attempt | None) -> bool:
    """Whether the recipient's answer came from another phone than the one we texted (a
    neighbour's SMS quoting the bridge reference): every outcome notice says so."""
    return attempt is not None and attempt.via == Attempt.Via.SMS_BRIDGE_OTHER


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
            recipient_name=recipient_label(request),
            reply=attempt.reply if attempt else "",
            via=attempt.via if attempt else Attempt.Via.CALL,
            pin_verified=request.pin_verified_at is not None,
            known=request.known,
            from_other_number=answered_from_another_number(attempt),
        ),
        key=f"outcome:{attempt.pk}" if attempt else event,
        case_id=case_id,
    )
