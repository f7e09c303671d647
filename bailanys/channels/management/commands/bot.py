"""bailanys bot: run the Telegram bot by long polling, or set up its webhook."""

import logging
import signal
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from bailanys.channels.telegram import client as api
from bailanys.channels.telegram.inbound import update_receive

logger = logging.getLogger("bailanys.telegram")


class Command(BaseCommand):
    help = (
        "Run the Telegram bot by long polling (for a machine without a public address), "
        "or set or delete its webhook. Needs BAILANYS_TELEGRAM_BOT_TOKEN."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="Handle the updates waiting now, then exit."
        )
        parser.add_argument(
            "--poll-timeout",
            type=int,
            default=25,
            help="Seconds one long poll waits for news (default 25).",
        )
        parser.add_argument(
            "--set-webhook",
            metavar="URL",
            help="Tell Telegram to POST updates to URL (…/channels/telegram/webhook), then exit.",
        )
        parser.add_argument(
            "--delete-webhook", action="store_true", help="Go back to polling, then exit."
        )

    def handle(self, *args, once, poll_timeout, set_webhook, delete_webhook, **options):
        try:
            bot = api.client()
            me = bot.get_me()
        except api.NotConfigured as exc:
            raise CommandError(f"{exc}: create a bot with @BotFather (docs/telegram.md).") from None
        except Exception as exc:
            raise CommandError(
                f"Cannot reach the Bot API at {settings.BAILANYS_TELEGRAM_API_URL}: "
                f"{type(exc).__name__}"
            ) from None
        if set_webhook:
            secret = settings.BAILANYS_TELEGRAM_WEBHOOK_SECRET
            if not secret:
                raise CommandError("Set BAILANYS_TELEGRAM_WEBHOOK_SECRET first (docs/telegram.md).")
            if not set_webhook.startswith("https://") and not settings.DEBUG:
                self.stderr.write("Telegram only calls https:// webhooks (or a local Bot API).")
            bot.set_webhook(set_webhook, secret)
            self.stdout.write(f"Webhook set for @{me['username']}.")
            return
        if delete_webhook:
            bot.delete_webhook()
            self.stdout.write(f"Webhook deleted; run 'bailanys bot' to poll for @{me['username']}.")
            return
        self.stdout.write(f"Polling as @{me['username']}. Ctrl-C stops.")
        self.stdout.flush()

        def stop(signum, frame):
            raise KeyboardInterrupt

        main = threading.current_thread() is threading.main_thread()
        # A service manager's stop (SIGTERM) ends it as quietly as Ctrl-C.
        before = signal.signal(signal.SIGTERM, stop) if main else None
        try:
            self._poll(bot, once=once, poll_timeout=poll_timeout)
        except KeyboardInterrupt:
            # An update being handled was rolled back; Telegram gives it again next time.
            self.stdout.write("Stopped.")
        finally:
            if main:
                signal.signal(signal.SIGTERM, before)

    def _poll(self, bot, *, once: bool, poll_timeout: int) -> None:
        offset = None
        while True:
            try:
                updates = bot.get_updates(offset=offset, timeout=0 if once else poll_timeout)
            except api.TooFast as exc:
                time.sleep(exc.retry_after)
                continue
            except (api.CallFailed, api.Blocked, api.ChatGone) as exc:
                if once:
                    raise CommandError(f"getUpdates failed: {exc}") from None
                logger.warning("getUpdates failed (%s); trying again in 5 s", type(exc).__name__)
                time.sleep(5)
                continue
            for update in updates:
                offset = update.update_id + 1
                self._handle(bot, update)
            close_old_connections()
            if once and not updates:
                return

    def _handle(self, bot, update) -> None:
        try:
            answer = update_receive(update)
        except Exception:
            logger.exception("telegram update %s failed", update.update_id)
            return
        if answer and answer.get("method") == "answerCallbackQuery":
            try:
                bot.answer_callback(answer["callback_query_id"])
            except Exception as exc:  # the button's spinner stops by itself
                logger.info("answerCallbackQuery failed (%s)", type(exc).__name__)
