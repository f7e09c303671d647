"""Volunteers on Telegram: link the chat to an account, take a case, record its outcome."""

import re
import secrets
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from bailanys.conversations.models import TelegramLinkCode
from bailanys.conversations.telegram.turn import ASK_REPLY, Turn, step_set
from bailanys.privacy.audit import actor_label, audit_record
from bailanys.privacy.crypto import blind_index
from bailanys.relay import selectors
from bailanys.relay import services as relay
from bailanys.relay.models import Outcome


def link_code_new(*, user) -> str:
    """A one-time code (valid 10 minutes) the volunteer sends to the bot as /link CODE."""
    code = f"{secrets.randbelow(10**8):08d}"
    TelegramLinkCode.objects.create(
        user=user,
        code_hash=blind_index(f"telegram-link:{code}"),
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    return code


def _volunteer(turn: Turn):
    user = turn.chat.volunteer
    if user is None or not user.is_active:
        turn.say(
            _(
                "This chat is not linked to a volunteer account. "
                "Get a code in the web console and send /link CODE."
            )
        )
        return None
    return user


def cmd_link(turn: Turn, arg: str, message) -> None:
    code = re.sub(r"\D", "", arg)
    now = timezone.now()
    row = (
        TelegramLinkCode.objects.select_for_update()
        .filter(
            code_hash=blind_index(f"telegram-link:{code}"), used_at__isnull=True, expires_at__gt=now
        )
        .select_related("user")
        .first()
        if len(code) == 8
        else None
    )
    if row is None or not row.user.is_active:
        turn.say(_("This code is wrong or has expired. Get a new one in the web console."))
        return
    row.used_at = now
    row.save(update_fields=["used_at"])
    turn.chat.volunteer = row.user
    audit_record(
        actor=actor_label(row.user),
        action="telegram.link",
        object_type="user",
        object_id=row.user.pk,
    )
    turn.say(_("Linked. Send /next to take a case, /release to give it back."))


def cmd_next(turn: Turn, arg: str, message) -> None:
    user = _volunteer(turn)
    if user is None:
        return
    try:
        claim = relay.claim_active_for(user) or relay.case_claim_next(volunteer=user)
    except relay.NeedsTalk:
        turn.say(_("A coordinator will talk with you first."))
        return
    if claim is None:
        turn.say(_("No case is waiting. Thank you — try again in a few minutes."))
        return
    view = selectors.case_get_for_volunteer(claim_id=claim.pk, volunteer=user)
    lines = [
        _("Case %(id)s — until %(time)s")
        % {"id": view.case_id, "time": timezone.localtime(view.expires_at).strftime("%H:%M")},
        f"{view.recipient_name}: {view.recipient_phone_display}",
    ]
    if view.network is not None:
        lines.insert(1, view.network.text)  # SMS or calls to their operator are failing
    if view.recipient_city:
        lines.append(view.recipient_city)
    just_check = _("(check they are safe)")
    for m in view.messages:
        lines.append(f"— {m.requester_name}: {m.message or just_check}")
    if view.previous_notes:
        lines.append(_("Earlier notes: %(notes)s") % {"notes": " / ".join(view.previous_notes)})
    lines.append("")
    lines.append(view.call_script)
    outcomes = [o for o in Outcome if o != Outcome.ESCALATE] + [Outcome.ESCALATE]
    buttons = [
        [(str(o.label), f"out:{claim.pk}:{o.value}") for o in outcomes[i : i + 2]]
        for i in range(0, len(outcomes), 2)
    ]
    turn.say("\n".join(lines), buttons=buttons)


def cmd_release(turn: Turn, arg: str, message) -> None:
    user = _volunteer(turn)
    if user is None:
        return
    claim = relay.claim_active_for(user)
    step_set(turn.chat, "")
    if claim is None:
        turn.say(_("You hold no case."))
        return
    relay.claim_release(claim_id=claim.pk, volunteer=user)
    turn.say(_("Released. Another volunteer can take it."))


def outcome_button(turn: Turn, claim_id: str, outcome: str) -> None:
    """An outcome button pressed: checked before anything is asked, so a forged or stale
    button is refused at once, with its reason."""
    user = _volunteer(turn)
    if user is None:
        return
    if not claim_id.isdigit() or len(claim_id) > 12 or outcome not in Outcome.values:
        turn.say(_("This button is not valid."))
        return
    try:
        relay.claim_held(int(claim_id), user)
    except relay.NotYourClaim:
        turn.say(_("This case is not yours. Send /next to take one."))
        return
    except relay.ClaimEnded:
        turn.say(
            _(
                "This case has ended for you: its outcome was saved, or it was released or "
                "timed out. Send /next for another."
            )
        )
        return
    if outcome in ASK_REPLY:
        step_set(turn.chat, "reply", {"claim": int(claim_id), "outcome": outcome})
        turn.say(_("What did they say? Type it for the requester, or /skip."))
        return
    outcome_record(turn, int(claim_id), outcome, reply="")


def outcome_record(turn: Turn, claim_id, outcome, *, reply: str) -> None:
    user = _volunteer(turn)
    step_set(turn.chat, "")
    if user is None or claim_id is None:
        return
    try:
        relay.claim_record_outcome(
            claim_id=int(claim_id), volunteer=user, outcome=outcome, reply=reply
        )
    except relay.InputError as exc:
        step_set(turn.chat, "reply", {"claim": claim_id, "outcome": outcome})
        turn.say("; ".join(str(v) for v in exc.errors.values()))
        return
    except (relay.NotYourClaim, relay.ClaimEnded):
        turn.say(_("This case is no longer yours: the lease ended. Send /next for another."))
        return
    turn.say(_("Saved. Thank you. Send /next for another case."))
