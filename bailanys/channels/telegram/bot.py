"""The Telegram bot: requesters, volunteers and group intake, one update at a time.

`handle_update` is the only entry point, shared by the webhook view and the
long-polling command. It runs in one transaction: the update id is recorded
first (a duplicate is dropped), the conversation state lives in the
database (TelegramChat.step / .draft), and every answer is an outbox row
sent later by a worker — nothing is sent from here.
"""

import json
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from telegram import Update

from bailanys import phones
from bailanys.channels.models import TelegramChat, TelegramLinkCode, TelegramUpdate
from bailanys.channels.services import outbox_add
from bailanys.channels.telegram.adapter import chat_key
from bailanys.parsing.parser import parse
from bailanys.parsing.services import post_ingest
from bailanys.privacy.audit import actor_label, audit_record
from bailanys.privacy.crypto import blind_index
from bailanys.privacy.ratelimit import Limit, Throttled, rate_limit_hit
from bailanys.relay import selectors
from bailanys.relay import services as relay
from bailanys.relay.models import Kind, Outcome, Request

logger = logging.getLogger("bailanys.telegram")

CHANNEL = "telegram"
GROUP_SOURCE = "telegram-group"
LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "kk": "Қазақша"}
COMMAND_RE = re.compile(r"^/([A-Za-z_]{1,32})(?:@\w+)?(?:\s+(.*))?$", re.DOTALL)
SKIP = {"-", "\u2014", "\u2013"}  # a hyphen or a dash: "I do not know"
# Outcomes after which the volunteer is asked what the recipient said.
ASK_REPLY = {Outcome.REACHED, Outcome.DELIVERED}


def language_for(code: str | None) -> str:
    """Telegram's language_code (IETF, e.g. "ru", "kk", "en-GB") to en/ru/kk."""
    base = (code or "").split("-")[0].lower()
    return base if base in LANGUAGE_NAMES else "en"


def status_url(token: str) -> str:
    from django.urls import reverse

    path = reverse("relay:status", args=[token])
    base = settings.BAILANYS_PUBLIC_URL
    return f"{base}{path}" if base else path


@dataclass
class Turn:
    """Answers to one update, written to the outbox in order."""

    update_id: int
    chat: TelegramChat
    answers: int = 0
    instant: dict = field(default_factory=dict)  # the webhook's own reply (answerCallbackQuery)

    def say(self, text: str, *, buttons=None, reply_to: int | None = None) -> None:
        options = {}
        if buttons:
            options["buttons"] = buttons
        if reply_to:
            options["reply_to"] = reply_to
        outbox_add(
            channel=CHANNEL,
            address=self.chat.chat_id,
            body=text[:4096],
            idempotency_key=f"tg:{self.update_id}:{self.answers}",
            options=options,
        )
        self.answers += 1


def handle_update(update: Update) -> dict | None:
    """Handle one update once. Returns what the webhook may answer Telegram with directly.

    A duplicate update (Telegram re-sent it, or two bot processes saw it) does nothing.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                TelegramUpdate.objects.create(update_id=update.update_id)
        except IntegrityError:
            return None
        return _dispatch(update)


def _chat(chat_id: int, *, language_code: str | None, is_group: bool) -> TelegramChat:
    key = chat_key(chat_id)
    chat = TelegramChat.objects.select_for_update().filter(chat_key=key).first()
    if chat is None:
        chat, _created = TelegramChat.objects.get_or_create(
            chat_key=key,
            defaults={
                "chat_id": str(chat_id),
                "is_group": is_group,
                "language": language_for(language_code),
            },
        )
    if chat.blocked_at is not None:
        chat.blocked_at = None  # they wrote to us again: they unblocked the bot
        chat.save(update_fields=["blocked_at"])
    return chat


def _dispatch(update: Update) -> dict | None:
    if update.callback_query is not None:
        query = update.callback_query
        if query.message is None or query.message.chat.type != "private":
            return _answer(query.id)
        chat = _chat(
            query.message.chat.id, language_code=query.from_user.language_code, is_group=False
        )
        turn = Turn(update.update_id, chat)
        with translation.override(chat.language):
            _on_button(turn, query.data or "", query.from_user.first_name or "")
        chat.save()
        return _answer(query.id)
    message = update.message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return None
    if message.chat.type in ("group", "supergroup"):
        _on_group_post(update)
        return None
    if message.chat.type != "private":
        return None
    chat = _chat(message.chat.id, language_code=message.from_user.language_code, is_group=False)
    turn = Turn(update.update_id, chat)
    with translation.override(chat.language):
        if message.text is None:
            turn.say(_("Please write text; I cannot read pictures, voice or files."))
        else:
            _on_text(turn, relay.clean_text(message.text, multiline=True), message)
    chat.save()
    return None


def _answer(query_id: str) -> dict:
    return {"method": "answerCallbackQuery", "callback_query_id": query_id}


# --- Private chat: text ------------------------------------------------------


def _draft(chat: TelegramChat) -> dict:
    try:
        return json.loads(chat.draft) if chat.draft else {}
    except ValueError:
        return {}


def _set(chat: TelegramChat, step: str, draft: dict | None = None) -> None:
    chat.step = step
    chat.draft = json.dumps(draft, ensure_ascii=False) if draft else ""


def _on_text(turn: Turn, text: str, message) -> None:
    chat = turn.chat
    command = COMMAND_RE.match(text)
    if command:
        name, arg = command.group(1).lower(), (command.group(2) or "").strip()
        handler = COMMANDS.get(name)
        if handler is None:
            turn.say(_help())
            return
        if chat.step == "reply" and name not in ("skip", "release", "cancel"):
            turn.say(_("First type what they said, or /skip."))
            return
        if name not in ("skip", "cancel"):
            _set(chat, "")  # a new command ends the conversation in progress
        handler(turn, arg, message)
        return
    step = STEPS.get(chat.step)
    if step is not None:
        step(turn, text, message)
        return
    _free_text(turn, text)


def _help() -> str:
    return "\n".join(
        [
            _(
                "Bailanys passes messages to your family in Kazakhstan: a volunteer calls them "
                "for you and tells you what they said."
            ),
            "",
            _("/request: ask us to call someone, step by step"),
            _("Or just write it in one message: who, their number, city, and what to say."),
            _("/status: your requests and what happened"),
            _("/cancel: take a request back"),
            _("/language: English, русский, қазақша"),
            "",
            relay.never_money_line(),
        ]
    )


def cmd_start(turn: Turn, arg: str, message) -> None:
    turn.say(_help())


def cmd_language(turn: Turn, arg: str, message) -> None:
    buttons = [[(label, f"lang:{code}") for code, label in LANGUAGE_NAMES.items()]]
    turn.say(_("Choose your language."), buttons=buttons)


def cmd_request(turn: Turn, arg: str, message) -> None:
    if not _intake_allowed(turn):
        return
    _set(turn.chat, "phone", {})
    turn.say(
        _("Whom should we call? Send their phone number, for example 8 701 234 56 78.")
        + "\n"
        + _("/cancel stops at any step.")
    )


def cmd_cancel(turn: Turn, arg: str, message) -> None:
    chat = turn.chat
    if chat.step:
        _set(chat, "")
        turn.say(_("Stopped. Nothing was sent."))
        return
    own = [r for r in _own_requests(chat) if not r.closed]
    if not own:
        turn.say(_("You have no open requests."))
        return
    # Buttons are stored unsealed with the outbox row: numbers only, names in the text.
    lines = [_("Which request do you want to take back?")]
    lines += [f"{n}. {r.recipient_name} {r.recipient_phone_masked}" for n, r in enumerate(own, 1)]
    buttons = [[(str(n), f"withdraw:{r.request_id}") for n, r in enumerate(own, 1)]]
    turn.say("\n".join(lines), buttons=buttons)


def cmd_status(turn: Turn, arg: str, message) -> None:
    own = _own_requests(turn.chat)
    if not own:
        turn.say(_("You have no requests yet. Send /request to make one."))
        return
    lines = [
        f"• {r.recipient_name} ({r.recipient_phone_masked}): {r.status_label}\n"
        f"  {status_url(r.token)}"
        for r in own
    ]
    turn.say("\n".join([_("Your requests:"), *lines]))


def _own_requests(chat: TelegramChat):
    return selectors.requests_for_contact(channel=CHANNEL, contact=chat.chat_id)


def _intake_allowed(turn: Turn) -> bool:
    try:
        rate_limit_hit(
            scope="intake-contact:telegram",
            source=turn.chat.chat_key,
            limit=Limit.parse(settings.BAILANYS_INTAKE_LIMIT_PER_CONTACT),
        )
    except Throttled as exc:
        turn.say(
            _("Too many requests from here. Try again in %(n)d seconds.") % {"n": exc.retry_after}
        )
        return False
    return True


def step_phone(turn: Turn, text: str, message) -> None:
    try:
        phone = phones.normalize(text)
    except phones.InvalidPhone as exc:
        turn.say(str(exc) + "\n" + _("Send the number again, or /cancel."))
        return
    _set(turn.chat, "name", {"phone": phone})
    turn.say(_("Their name?"))


def step_name(turn: Turn, text: str, message) -> None:
    name = relay.clean_text(text)
    if not name or len(name) > relay.MAX_NAME:
        turn.say(_("Send their name in one line (at most %(n)d letters).") % {"n": relay.MAX_NAME})
        return
    _set(turn.chat, "city", {**_draft(turn.chat), "name": name})
    turn.say(_("Their town or city? Send - if you do not know."))


def step_city(turn: Turn, text: str, message) -> None:
    city = "" if text.strip() in SKIP else relay.clean_text(text)
    if len(city) > relay.MAX_CITY:
        turn.say(relay.too_long(relay.MAX_CITY, city))
        return
    _set(turn.chat, "message", {**_draft(turn.chat), "city": city})
    turn.say(
        _("What should the volunteer tell them? Send - if you only want to know they are safe.")
    )


def step_message(turn: Turn, text: str, message) -> None:
    body = "" if text.strip() in SKIP else text.strip()
    if len(body) > relay.MAX_MESSAGE:
        turn.say(relay.too_long(relay.MAX_MESSAGE, body))
        return
    draft = {**_draft(turn.chat), "message": body}
    _set(turn.chat, "kind", draft)
    kinds = [Kind.WELFARE_CHECK, Kind.DELIVER_MESSAGE, Kind.FIND_RELATIVES, Kind.MEDICAL]
    if not body:
        kinds.remove(Kind.DELIVER_MESSAGE)
    turn.say(
        _("What kind of request is it?"),
        buttons=[[(str(Kind(k).label), f"kind:{k}")] for k in kinds],
    )


def step_reply(turn: Turn, text: str, message) -> None:
    draft = _draft(turn.chat)
    _record(turn, draft.get("claim"), draft.get("outcome"), reply=text)


def cmd_skip(turn: Turn, arg: str, message) -> None:
    if turn.chat.step != "reply":
        turn.say(_help())
        return
    draft = _draft(turn.chat)
    _record(turn, draft.get("claim"), draft.get("outcome"), reply="")


def _free_text(turn: Turn, text: str) -> None:
    parsed = parse(text)
    if parsed["kind"] == "not_a_request" or not parsed["targets"]:
        turn.say(
            _("I could not find a Kazakh phone number to call in this.")
            + "\n"
            + _("Send /request and I will ask step by step.")
        )
        return
    if not _intake_allowed(turn):
        return
    targets = [
        {"phone": t["phone"], "name": t.get("name") or "", "city": t.get("city") or ""}
        for t in parsed["targets"][:5]
    ]
    draft = {
        "targets": targets,
        "message": parsed.get("message") or "",
        "kind": parsed["kind"],
        "urgent": bool(parsed.get("urgent")),
    }
    _set(turn.chat, "confirm", draft)
    lines = [_("This is what I understood:")]
    for t in targets:
        lines.append(
            "• "
            + " ".join(
                part for part in (t["name"] or "—", phones.display(t["phone"]), t["city"]) if part
            )
        )
    if draft["message"]:
        lines.append(_("Message: %(message)s") % {"message": draft["message"]})
    lines.append(_("Kind: %(kind)s") % {"kind": Kind(draft["kind"]).label})
    turn.say(
        "\n".join(lines),
        buttons=[[(_("Yes, send it"), "confirm:yes"), (_("No, start again"), "confirm:no")]],
    )


# --- Private chat: buttons ----------------------------------------------------


def _on_button(turn: Turn, data: str, first_name: str) -> None:
    name, _sep, value = data.partition(":")
    chat = turn.chat
    if name == "lang" and value in LANGUAGE_NAMES:
        chat.language = value
        with translation.override(value):
            turn.say(_("I will write in English from now on."))
        return
    if name == "kind" and chat.step == "kind" and value in Kind.values:
        draft = _draft(chat)
        target = {"phone": draft.get("phone", ""), "name": draft.get("name", ""), "city": ""}
        target["city"] = draft.get("city", "")
        _create(turn, first_name, [target], draft.get("message", ""), value, False)
        return
    if name == "confirm" and chat.step == "confirm":
        draft = _draft(chat)
        _set(chat, "")
        if value == "yes":
            _create(
                turn,
                first_name,
                draft.get("targets", []),
                draft.get("message", ""),
                draft.get("kind", Kind.WELFARE_CHECK),
                draft.get("urgent", False),
            )
        else:
            turn.say(_("Nothing was sent. Write it again, or send /request."))
        return
    if name == "withdraw" and value.isdigit():
        try:
            relay.request_withdraw(request_id=int(value), channel=CHANNEL, contact=chat.chat_id)
        except Request.DoesNotExist:
            turn.say(_("That request is already closed."))
            return
        turn.say(_("Done: we will not call about this request."))
        return
    if name == "out":
        claim_id, _sep, outcome = value.partition(":")
        _on_outcome(turn, claim_id, outcome)
        return
    # An old button from a finished conversation.
    turn.say(_("This button is no longer active."))


def _create(turn: Turn, first_name: str, targets, message: str, kind: str, urgent: bool) -> None:
    chat = turn.chat
    if kind == Kind.DELIVER_MESSAGE and not message:
        kind = Kind.WELFARE_CHECK
    if kind == "not_a_request":
        kind = Kind.WELFARE_CHECK
    links = []
    try:
        with transaction.atomic():
            for number, target in enumerate(targets):
                data = relay.request_check(
                    {
                        "requester": {
                            "name": relay.clean_text(first_name)[: relay.MAX_NAME] or "Telegram",
                            "language": chat.language,
                            "contact": chat.chat_id,
                        },
                        "recipient": {
                            "name": target.get("name") or "—",
                            "phone": target.get("phone", ""),
                            "city": target.get("city", ""),
                        },
                        "message": message,
                        "kind": kind,
                        "urgent": bool(urgent),
                    }
                )
                request, _created = relay.request_create(
                    data=data,
                    channel=CHANNEL,
                    idempotency_key=f"tg:{turn.update_id}:{number}",
                )
                links.append(status_url(request.status_token))
    except relay.InputError as exc:
        _set(chat, "")
        turn.say(
            _("I could not take this request: %(errors)s")
            % {"errors": "; ".join(str(v) for v in exc.errors.values())}
            + "\n"
            + _("Send /request to try again.")
        )
        return
    _set(chat, "")
    turn.say(
        "\n".join(
            [
                _("Thank you. A volunteer will call and I will write to you here."),
                _("You can also follow it here:"),
                *links,
                relay.never_money_line(),
            ]
        )
    )


# --- Volunteers ------------------------------------------------------------------


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
    _set(turn.chat, "")
    if claim is None:
        turn.say(_("You hold no case."))
        return
    relay.claim_release(claim_id=claim.pk, volunteer=user)
    turn.say(_("Released. Another volunteer can take it."))


def _on_outcome(turn: Turn, claim_id: str, outcome: str) -> None:
    user = _volunteer(turn)
    if user is None or not claim_id.isdigit() or outcome not in Outcome.values:
        return
    if outcome in ASK_REPLY:
        _set(turn.chat, "reply", {"claim": int(claim_id), "outcome": outcome})
        turn.say(_("What did they say? Type it for the requester, or /skip."))
        return
    _record(turn, int(claim_id), outcome, reply="")


def _record(turn: Turn, claim_id, outcome, *, reply: str) -> None:
    user = _volunteer(turn)
    _set(turn.chat, "")
    if user is None or claim_id is None:
        return
    try:
        relay.claim_record_outcome(
            claim_id=int(claim_id), volunteer=user, outcome=outcome, reply=reply
        )
    except relay.InputError as exc:
        _set(turn.chat, "reply", {"claim": claim_id, "outcome": outcome})
        turn.say("; ".join(str(v) for v in exc.errors.values()))
        return
    except (relay.NotYourClaim, relay.ClaimEnded):
        turn.say(_("This case is no longer yours: the lease ended. Send /next for another."))
        return
    turn.say(_("Saved. Thank you. Send /next for another case."))


COMMANDS = {
    "start": cmd_start,
    "help": cmd_start,
    "language": cmd_language,
    "request": cmd_request,
    "status": cmd_status,
    "cancel": cmd_cancel,
    "link": cmd_link,
    "next": cmd_next,
    "release": cmd_release,
    "skip": cmd_skip,
}
STEPS = {
    "phone": step_phone,
    "name": step_name,
    "city": step_city,
    "message": step_message,
    "reply": step_reply,
}


# --- Groups -------------------------------------------------------------------


def _on_group_post(update: Update) -> None:
    """A post in a group the bot reads: requests become cases, chatter is ignored."""
    message = update.message
    text = message.text or message.caption or ""
    if not text or COMMAND_RE.match(text.strip()):
        return
    user = message.from_user
    ingested = post_ingest(
        source=GROUP_SOURCE,
        external_id=f"{message.chat.id}:{message.message_id}",
        text=text,
        author=user.first_name or "",
        contact=f"tg:{user.id}",
    )
    if ingested.outcome in ("not_request", "skipped"):
        return
    chat = _chat(message.chat.id, language_code=None, is_group=True)
    language = ingested.post.parsed and json.loads(ingested.post.parsed).get("lang")
    chat.language = language if language in LANGUAGE_NAMES else "ru"
    chat.save()
    turn = Turn(update.update_id, chat)
    with translation.override(chat.language):
        if ingested.outcome == "review":
            turn.say(
                _("Received. A volunteer will check it before calling."),
                reply_to=message.message_id,
            )
            return
        tokens = Request.objects.filter(
            idempotency_key__startswith=f"post:{GROUP_SOURCE}:{message.chat.id}:{message.message_id}:"
        ).values_list("status_token", flat=True)
        turn.say(
            "\n".join(
                [
                    _("Received. A volunteer will call. Follow it here:"),
                    *(status_url(t) for t in tokens),
                    relay.never_money_line(),
                ]
            ),
            reply_to=message.message_id,
        )
