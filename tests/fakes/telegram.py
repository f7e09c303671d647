"""A small local fake of the Telegram Bot API server, for tests.

It listens on 127.0.0.1 over a real socket, so the real client code (python-telegram-bot, which
posts to ``{base_url}{token}/{method}``) talks to it unchanged. Answers follow the documented
Bot API shapes (https://core.telegram.org/bots/api) for the few methods the bot uses; every call
is recorded, incoming updates are queued by the test, and errors (429, 403, ...) can be injected.
Standard library only.
"""

import itertools
import json
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.base import FakeHttpService, read_json

TEST_TOKEN = "123456:TEST-token"
BOT_USER = {
    "id": 123456,
    "is_bot": True,
    "first_name": "Bailanys",
    "username": "bailanys_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": True,
    "supports_inline_queries": False,
}
BOT_FROM = {k: v for k, v in BOT_USER.items() if not k.startswith(("can_", "supports_"))}
DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


def _decode(value):
    """A form field: JSON objects, arrays, numbers and booleans decoded; anything else a string."""
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError:
            return value
    try:
        decoded = json.loads(value, parse_constant=lambda name: value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, dict | list | int | float | bool) else value


def _chat(chat_id, chat_type=None):
    positive = isinstance(chat_id, int) and chat_id > 0
    return {"id": chat_id, "type": chat_type or ("private" if positive else "supergroup")}


def _error(status, description=None, retry_after=None):
    if status == 429:
        description = description or f"Too Many Requests: retry after {retry_after}"
    description = description or DESCRIPTIONS.get(status, f"Error {status}")
    body = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return status, body


def _params(query: str, headers, raw: bytes) -> dict:
    """A Bot API call's parameters: from the query string and a JSON, form or multipart body."""
    params = {k: _decode(v) for k, v in parse_qsl(query)}
    ctype = headers.get("Content-Type", "")
    if raw and ctype.startswith("application/json"):
        body = read_json(raw)
        if isinstance(body, dict):
            params.update(body)
    elif raw and ctype.startswith("application/x-www-form-urlencoded"):
        params.update((k, _decode(v)) for k, v in parse_qsl(raw.decode()))
    elif raw and ctype.startswith("multipart/form-data"):
        head = f"Content-Type: {ctype}\r\n\r\n".encode()
        for part in BytesParser(policy=HTTP).parsebytes(head + raw).iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            params[name] = payload if part.get_filename() else _decode(payload)
    return params


class FakeTelegram(FakeHttpService):
    """A fake Bot API server at ``url``; bots use ``base_url=fake.url + "/bot"``."""

    def __init__(self, token: str = TEST_TOKEN):
        super().__init__()
        self.token = token
        self.webhook: dict = {}
        self._updates: list[dict] = []
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        # Seconds before each answer (recorded on arrival): a real Bot API round trip
        # from Central Asia is about 0.1 s (bench/fanout.py --latency-ms).
        self.delay = 0.0
        handlers = {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "answerCallbackQuery": self._true,
            "editMessageReplyMarkup": self._true,
            "editMessageText": self._true,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
        }
        self._methods = {name.lower(): (name, handler) for name, handler in handlers.items()}

    # What tests look at

    def calls_for(self, method: str) -> list[dict]:
        with self._cond:
            return [c for c in self.calls if c["method"].lower() == method.lower()]

    def sent_messages(self) -> list[dict]:
        sent = [c for c in self.calls_for("sendMessage") if c["status"] == 200]
        return [{**c["params"], "_t": c["t"]} for c in sent]

    # What tests feed in

    def push_update(self, update: dict) -> int:
        with self._cond:
            if "update_id" not in update:
                update = {**update, "update_id": next(self._update_ids)}
            self._updates.append(update)
            self._cond.notify_all()
            return update["update_id"]

    def push_message(
        self,
        chat_id,
        text,
        *,
        user_id=None,
        language_code="en",
        chat_type=None,
        message_id=None,
        first_name="Test",
    ) -> int:
        user = {"id": user_id or chat_id, "is_bot": False, "first_name": first_name}
        user["language_code"] = language_code
        message = {
            "message_id": message_id or next(self._message_ids),
            "date": int(time.time()),
            "chat": _chat(chat_id, chat_type),
            "from": user,
            "text": text,
        }
        return self.push_update({"message": message})

    def push_callback(
        self, chat_id, data, *, user_id=None, message_id=1, language_code="en"
    ) -> int:
        user = {"id": user_id or chat_id, "is_bot": False, "first_name": "Test"}
        user["language_code"] = language_code
        message = {"message_id": message_id, "date": int(time.time()), "chat": _chat(chat_id)}
        query = {
            "id": f"cb{next(self._callback_ids)}",
            "from": user,
            "message": {**message, "text": ""},
            "chat_instance": "1",
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def fail_next(
        self, method, status, *, retry_after=None, description=None, count=1, chat_id=None
    ) -> None:
        """The next ``count`` calls of ``method`` (to ``chat_id`` only, if given) fail."""
        if status == 429 and retry_after is None:
            retry_after = 1
        self._add_failure(
            {
                "method": method.lower(),
                "error": _error(status, description, retry_after),
                "count": count,
                "chat_id": chat_id,
            }
        )

    # The server side

    def handle(self, method, target, headers, raw, received):
        url = urlsplit(target)
        token, _, api_method = url.path.removeprefix("/bot").partition("/")
        if not url.path.startswith("/bot"):
            token = None
        status, body = self._call(token, api_method, _params(url.query, headers, raw), received)
        if self.delay and api_method.lower() != "getupdates":
            time.sleep(self.delay)
        return status, body, {}

    def _call(self, token, method, params, received):
        """``(status, body)`` for Bot API ``method`` called with ``token``; recorded."""
        name, handler = self._methods.get(method.lower(), (method, None))
        if token != self.token:
            answer = _error(401)
        elif handler is None:
            answer = _error(404)
        else:
            answer = self._injected(name, params) or handler(params)
        self._record({"method": name, "params": params, "t": received, "status": answer[0]})
        return answer

    def _injected(self, name, params):
        def matches(rule):
            to = rule["chat_id"]
            if rule["method"] != name.lower():
                return False
            return to is None or str(to) == str(params.get("chat_id"))

        rule = self._take_failure(matches)
        return rule["error"] if rule else None

    def _true(self, params):
        return 200, {"ok": True, "result": True}

    def _get_me(self, params):
        return 200, {"ok": True, "result": BOT_USER}

    def _send_message(self, params):
        if params.get("chat_id") in (None, ""):
            return _error(400, "Bad Request: chat not found")
        if not params.get("text"):
            return _error(400, "Bad Request: message text is empty")
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": _chat(params["chat_id"]),
            "from": BOT_FROM,
            "text": params["text"],
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return 200, {"ok": True, "result": message}

    def _set_webhook(self, params):
        with self._cond:
            self.webhook = dict(params)
        return 200, {"ok": True, "result": True, "description": "Webhook was set"}

    def _delete_webhook(self, params):
        with self._cond:
            self.webhook = {}
            if params.get("drop_pending_updates") is True:
                self._updates.clear()
        return 200, {"ok": True, "result": True}

    def _get_webhook_info(self, params):
        with self._cond:
            info = {"url": self.webhook.get("url", ""), "has_custom_certificate": False}
            info["pending_update_count"] = len(self._updates)
        return 200, {"ok": True, "result": info}

    def _get_updates(self, params):
        offset, limit = int(params.get("offset") or 0), int(params.get("limit") or 100)
        timeout = min(float(params.get("timeout") or 0), 2)
        with self._cond:
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if timeout > 0:
                self._cond.wait_for(lambda: self._updates, timeout)
            result = self._updates[: max(1, min(limit, 100))]
        return 200, {"ok": True, "result": result}


def chat_by_hand(port: int) -> None:
    """A Telegram stand-in for trying the bot by hand (docs/telegram.md, "Without a token").

    Lines you type are messages from the current chat; ":chat N" switches chat (a negative N is
    a group), ":press DATA" presses a button, ":quit" ends. The bot's messages are printed with
    their buttons as [label -> DATA].
    """
    fake = FakeTelegram().start(port)
    print(f"Fake Bot API at {fake.url}, token {fake.token}. In another terminal:")
    print(f"  export BAILANYS_TELEGRAM_API_URL={fake.url}")
    print(f"  export BAILANYS_TELEGRAM_BOT_TOKEN='{fake.token}'")
    print("  bailanys up   (and, in a third terminal, with the same two variables: bailanys bot)")
    chat = 5001
    shown = 0

    def show():
        nonlocal shown
        while True:
            sent = fake.sent_messages()
            for message in sent[shown:]:
                markup = message.get("reply_markup") or {}
                rows = markup.get("inline_keyboard", [])
                keys = " ".join(
                    f"[{b['text']} -> {b.get('callback_data') or b.get('url')}]"
                    for r in rows
                    for b in r
                )
                print(
                    f"\nbot -> {message['chat_id']}: {message['text']}"
                    + (f"\n  {keys}" if keys else "")
                )
            shown = len(sent)
            time.sleep(0.3)

    threading.Thread(target=show, daemon=True).start()
    try:
        while True:
            line = input(f"{chat}> ").strip()
            if line == ":quit":
                break
            if line.startswith(":chat "):
                chat = int(line.split()[1])
            elif line.startswith(":press "):
                fake.push_callback(chat, line.split(maxsplit=1)[1])
            elif line:
                fake.push_message(chat, line, first_name="You")
    except (EOFError, KeyboardInterrupt):
        pass
    fake.stop()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=chat_by_hand.__doc__)
    parser.add_argument("--port", type=int, default=8081)
    chat_by_hand(parser.parse_args().port)
