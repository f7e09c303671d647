"""The Bot API, called through python-telegram-bot from synchronous Django code.

python-telegram-bot is asynchronous; Bailanys' services are not. One event
loop per process runs in a daemon thread and every call waits for its
result there, so one HTTP connection pool serves the whole process.
Calls go to {BAILANYS_TELEGRAM_API_URL}/bot{token}/{method}.
"""

import asyncio
import os
import threading
from datetime import timedelta

from django.conf import settings
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

# Opt in now to what python-telegram-bot 23 does anyway: retry_after as a timedelta.
os.environ.setdefault("PTB_TIMEDELTA", "1")

CALL_TIMEOUT = 60  # seconds: longer than any Bot API call we make, long polls included


class NotConfigured(Exception):
    """BAILANYS_TELEGRAM_BOT_TOKEN is not set."""


class Blocked(Exception):
    """403: the person blocked the bot, or the bot was removed from the group."""


class ChatGone(Exception):
    """400 naming a chat that does not exist (any more) for this bot."""


class TooFast(Exception):
    def __init__(self, retry_after: float):
        super().__init__(f"retry after {retry_after}")
        self.retry_after = retry_after


class CallFailed(Exception):
    """Anything else: network trouble, 5xx, a refused request. Safe to retry later."""


def _seconds(value) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _button(label: str, data: str) -> InlineKeyboardButton:
    if data.startswith(("https://", "http://")):
        return InlineKeyboardButton(label, url=data)  # opens the link (a t.me/proxy one)
    return InlineKeyboardButton(label, callback_data=data)


def keyboard(rows: list[list[tuple[str, str]]] | None) -> InlineKeyboardMarkup | None:
    """Inline buttons from [[(label, callback data or an http(s) URL), …], …]."""
    if not rows:
        return None
    return InlineKeyboardMarkup([[_button(label, data) for label, data in row] for row in rows])


class Client:
    def __init__(self, token: str, api_url: str):
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True, name="telegram").start()
        self.bot = Bot(
            token,
            base_url=f"{api_url}/bot",
            base_file_url=f"{api_url}/file/bot",
            # One keep-alive connection for each send a worker keeps in flight.
            request=HTTPXRequest(connection_pool_size=settings.BAILANYS_WORKER_SENDERS + 2),
            get_updates_request=HTTPXRequest(read_timeout=40),
        )
        self._ready = False
        self._init_lock = asyncio.Lock()

    def _run(self, coro):
        future = asyncio.run_coroutine_threadsafe(self._call(coro), self._loop)
        return future.result(CALL_TIMEOUT)

    async def _call(self, coro):
        if not self._ready:
            # Once, however many threads make their first call at the same moment (a
            # worker's task loop and its sweep do, right after a restart): two
            # initialize() calls at once set up the HTTP client twice.
            async with self._init_lock:
                if not self._ready:
                    await self.bot.initialize()  # getMe: checks the token once
                    self._ready = True
        try:
            return await coro
        except RetryAfter as exc:
            raise TooFast(_seconds(exc.retry_after)) from None
        except Forbidden as exc:
            raise Blocked(str(exc)) from None
        except BadRequest as exc:
            if "chat not found" in str(exc).lower():
                raise ChatGone(str(exc)) from None
            raise CallFailed(f"BadRequest: {exc}") from None
        except TelegramError as exc:
            raise CallFailed(f"{type(exc).__name__}: {exc}") from None

    def send_message(
        self,
        chat_id: int | str,
        text: str,
        *,
        buttons: list[list[tuple[str, str]]] | None = None,
        reply_to: int | None = None,
    ) -> int:
        reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        message = self._run(
            self.bot.send_message(
                chat_id,
                text,
                reply_markup=keyboard(buttons),
                reply_parameters=reply,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        return message.message_id

    def answer_callback(self, query_id: str) -> None:
        self._run(self.bot.answer_callback_query(query_id))

    def get_updates(self, *, offset: int | None, timeout: int) -> list[Update]:
        return list(
            self._run(
                self.bot.get_updates(
                    offset=offset,
                    timeout=timeout,
                    allowed_updates=["message", "callback_query"],
                )
            )
        )

    def set_webhook(self, url: str, secret: str) -> None:
        self._run(
            self.bot.set_webhook(
                url, secret_token=secret, allowed_updates=["message", "callback_query"]
            )
        )

    def delete_webhook(self) -> None:
        self._run(self.bot.delete_webhook())

    def get_me(self) -> dict:
        me = self._run(self.bot.get_me())
        return {"id": me.id, "username": me.username}


_clients: dict[tuple[str, str], Client] = {}
_clients_lock = threading.Lock()


def client() -> Client:
    """The process's client for the configured bot."""
    token = settings.BAILANYS_TELEGRAM_BOT_TOKEN
    if not token:
        raise NotConfigured("BAILANYS_TELEGRAM_BOT_TOKEN is not set")
    key = (token, settings.BAILANYS_TELEGRAM_API_URL)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = Client(*key)
        return _clients[key]
