"""The Telegram bot: requesters, volunteers and group intake, one update at a time.

The Telegram channel checks each update, records its id (a duplicate is dropped) and
emits it as an UpdateReceived event; `update_handle` takes it from there, in the same
transaction. The conversation state lives in the database (TelegramChat.step / .draft),
and every answer is an outbox row sent later by a worker — nothing is sent from here.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from telegram import Update

from bailanys import phones
from bailanys.channels.events import UpdateReceived
from bailanys.channels.models import TelegramChat
from bailanys.conversations.bulletins import cmd_check, cmd_subscribe, cmd_unsubscribe
from bailanys.conversations.network import status_telegram_line
from bailanys.conversations.proxies import BUTTON_NOWORK, proxy_telegram
from bailanys.conversations.sensors import telegram_sensed
from bailanys.conversations.telegram.groups import group_post
from bailanys.conversations.telegram.turn import (
    CHANNEL,
    COMMAND_RE,
    LANGUAGE_NAMES,
    SKIP,
    Turn,
    chat_for,
    draft_of,
    status_url,
    step_set,
)
from bailanys.conversations.telegram.volunteers import (
    cmd_link,
    cmd_next,
    cmd_release,
    outcome_button,
    outcome_record,
)
from bailanys.parsing.parser import parse
from bailanys.privacy.ratelimit import Limit, Throttled, rate_limit_hit
from bailanys.relay import selectors
from bailanys.relay import services as relay
from bailanys.relay.models import Kind, Request
from bailanys.relay.services import posts

logger = logging.getLogger("bailanys.telegram")


def _dispatch(update: Update) -> dict | None:
    if update.callback_query is not None:
        query = update.callback_query
        if query.message is None or query.message.chat.type != "private":
            return _answer(query.id)
        chat = chat_for(
            query.message.chat.id, language_code=query.from_user.language_code, is_group=False
        )
        turn = Turn(update.update_id, chat)
        with translation.override(chat.language):
            _on_button(turn, query.data or "", query.from_user)
        chat.save()
        return _answer(query.id)
    message = update.message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return None
    if message.chat.type in ("group", "supergroup"):
        group_post(update)
        return None
    if message.chat.type != "private":
        return None
    chat = chat_for(message.chat.id, language_code=message.from_user.language_code, is_group=False)
    telegram_sensed()  # a requester reached us through Telegram (the shutdown's state)
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
            step_set(chat, "")  # a new command ends the conversation in progress
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
            _("/proxy: a proxy, if Telegram is blocked where you are"),
            _("/subscribe Almaty: verified Bailanys bulletins for a city and the whole country"),
            _("/check B7K2: is a bulletin really from Bailanys?"),
            "",
            relay.never_money_line(),
        ]
    )


def cmd_start(turn: Turn, arg: str, message) -> None:
    turn.say(_help())


def cmd_proxy(turn: Turn, arg: str, message) -> None:
    proxy_telegram(turn, message.from_user.id, report=False)


def cmd_language(turn: Turn, arg: str, message) -> None:
    buttons = [[(label, f"lang:{code}") for code, label in LANGUAGE_NAMES.items()]]
    turn.say(_("Choose your language."), buttons=buttons)


def cmd_request(turn: Turn, arg: str, message) -> None:
    if not _intake_allowed(turn):
        return
    step_set(turn.chat, "phone", {})
    turn.say(
        _("Whom should we call? Send their phone number, for example 8 701 234 56 78.")
        + "\n"
        + _("/cancel stops at any step.")
    )


def cmd_cancel(turn: Turn, arg: str, message) -> None:
    chat = turn.chat
    if chat.step:
        step_set(chat, "")
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
    """The chat's own requests, then what works in Kazakhstan now (when anything is
    known: the shutdown's state)."""
    own = _own_requests(turn.chat)
    network = status_telegram_line(turn.chat)
    if not own:
        text = _("You have no requests yet. Send /request to make one.")
        turn.say(text + (f"\n\n{network}" if network else ""))
        return
    lines = [
        f"• {r.recipient_name} ({r.recipient_phone_masked}): {r.status_label}"
        + (f"\n  {status_url(r.token)}" if r.token else "")
        for r in own
    ]
    turn.say("\n".join([_("Your requests:"), *lines, *(["", network] if network else [])]))


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
    step_set(turn.chat, "name", {"phone": phone})
    turn.say(_("Their name?"))


def step_name(turn: Turn, text: str, message) -> None:
    name = relay.clean_text(text)
    if not name or len(name) > relay.MAX_NAME:
        turn.say(_("Send their name in one line (at most %(n)d letters).") % {"n": relay.MAX_NAME})
        return
    step_set(turn.chat, "city", {**draft_of(turn.chat), "name": name})
    turn.say(_("Their town or city? Send - if you do not know."))


def step_city(turn: Turn, text: str, message) -> None:
    city = "" if text.strip() in SKIP else relay.clean_text(text)
    if len(city) > relay.MAX_CITY:
        turn.say(relay.too_long(relay.MAX_CITY, city))
        return
    step_set(turn.chat, "message", {**draft_of(turn.chat), "city": city})
    turn.say(
        _("What should the volunteer tell them? Send - if you only want to know they are safe.")
    )


def step_message(turn: Turn, text: str, message) -> None:
    body = "" if text.strip() in SKIP else text.strip()
    if len(body) > relay.MAX_MESSAGE:
        turn.say(relay.too_long(relay.MAX_MESSAGE, body))
        return
    draft = {**draft_of(turn.chat), "message": body}
    step_set(turn.chat, "kind", draft)
    kinds = [Kind.WELFARE_CHECK, Kind.DELIVER_MESSAGE, Kind.FIND_RELATIVES, Kind.MEDICAL]
    if not body:
        kinds.remove(Kind.DELIVER_MESSAGE)
    turn.say(
        _("What kind of request is it?"),
        buttons=[[(str(Kind(k).label), f"kind:{k}")] for k in kinds],
    )


def step_reply(turn: Turn, text: str, message) -> None:
    draft = draft_of(turn.chat)
    outcome_record(turn, draft.get("claim"), draft.get("outcome"), reply=text)


def cmd_skip(turn: Turn, arg: str, message) -> None:
    if turn.chat.step != "reply":
        turn.say(_help())
        return
    draft = draft_of(turn.chat)
    outcome_record(turn, draft.get("claim"), draft.get("outcome"), reply="")


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
        {"phone": t["phone"], "name": posts.recipient_label(t), "city": t.get("city") or ""}
        for t in parsed["targets"][:5]
    ]
    draft = {
        "targets": targets,
        "message": parsed.get("message") or "",
        "kind": parsed["kind"],
        "urgent": bool(parsed.get("urgent")),
    }
    step_set(turn.chat, "confirm", draft)
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


def _on_button(turn: Turn, data: str, user) -> None:
    name, _sep, value = data.partition(":")
    chat = turn.chat
    first_name = user.first_name or ""
    if data == BUTTON_NOWORK:
        proxy_telegram(turn, user.id, report=True)
        return
    if name == "lang" and value in LANGUAGE_NAMES:
        chat.language = value
        with translation.override(value):
            turn.say(_("I will write in English from now on."))
        return
    if name == "kind" and chat.step == "kind" and value in Kind.values:
        draft = draft_of(chat)
        target = {"phone": draft.get("phone", ""), "name": draft.get("name", ""), "city": ""}
        target["city"] = draft.get("city", "")
        _create(turn, first_name, [target], draft.get("message", ""), value, False)
        return
    if name == "confirm" and chat.step == "confirm":
        draft = draft_of(chat)
        step_set(chat, "")
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
        outcome_button(turn, claim_id, outcome)
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
                # Each request named: one message may ask about five relatives.
                line = f"• {relay.recipient_label(request)}"
                if request.status_token:
                    line += f": {status_url(request.status_token)}"
                links.append(line)
    except relay.InputError as exc:
        step_set(chat, "")
        turn.say(
            _("I could not take this request: %(errors)s")
            % {"errors": "; ".join(str(v) for v in exc.errors.values())}
            + "\n"
            + _("Send /request to try again.")
        )
        return
    step_set(chat, "")
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
    "proxy": cmd_proxy,
    "subscribe": cmd_subscribe,
    "unsubscribe": cmd_unsubscribe,
    "check": cmd_check,
}
STEPS = {
    "phone": step_phone,
    "name": step_name,
    "city": step_city,
    "message": step_message,
    "reply": step_reply,
}


def update_handle(event: UpdateReceived) -> dict | None:
    """Handle one update, once (the channel dropped duplicates). Returns what the webhook
    may answer Telegram with directly (answerCallbackQuery), or None."""
    return _dispatch(event.update)
