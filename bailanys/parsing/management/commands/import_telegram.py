"""bailanys import-telegram FILE: a Telegram Desktop chat export (result.json) into requests.

Two passes over the file. The first reads it all and checks it, writing
nothing: a malformed export changes nothing. The second gives each post to
`post_ingest`, one transaction per post, keyed "<chat id>:<message id>" under
source "telegram": importing again adds nothing, and an interrupted import
picks up where it stopped.
"""

import time
from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from bailanys.parsing.telegram_export import ExportError, read_messages
from bailanys.relay.services.posts import post_ingest

SOURCE = "telegram"
BAR = 30
REDRAW = 0.1  # seconds between progress redraws
SHOWN_ERRORS = 5

SUMMARY = (
    ("created", "Imported, new requests"),
    ("joined", "Joined existing cases"),
    ("review", "Sent to review"),
    ("not_request", "Not requests"),
    ("skipped", "Skipped, already imported"),
    ("service", "Skipped, service or empty"),
    ("errors", "Errors"),
)


class Command(BaseCommand):
    help = (
        "Import a Telegram Desktop chat export (result.json): each post becomes requests, "
        "waits for review, or is set aside. Safe to run again; it resumes."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="result.json from Telegram Desktop's Export chat history")
        parser.add_argument(
            "--no-progress", action="store_true", help="do not draw the progress bar on stderr"
        )

    def handle(self, *args, **options):
        path = options["file"]
        self.progress = not options["no_progress"]
        total = self._check(path)
        counts = Counter({key: 0 for key, _label in SUMMARY})
        try:
            self._import(path, total, counts)
        except KeyboardInterrupt:
            self._end_bar()
            self._summary(total, counts)
            raise CommandError(
                "Interrupted. Posts imported so far are kept; run the same command again to resume."
            ) from None
        self._end_bar()
        self._summary(total, counts)
        if counts["errors"]:
            raise CommandError(
                f"{counts['errors']} post(s) failed and were not imported; "
                "run the same command again to retry them."
            )

    def _check(self, path: str) -> int:
        """The first pass: read everything, write nothing. Returns the number of messages."""
        try:
            return sum(1 for _message in read_messages(path))
        except FileNotFoundError:
            raise CommandError(f"No such file: {path}") from None
        except IsADirectoryError:
            raise CommandError(f"{path} is a directory: give the result.json inside it") from None
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from None
        except ExportError as exc:
            raise CommandError(f"Not a Telegram chat export, nothing imported. {exc}") from None

    def _import(self, path: str, total: int, counts: Counter) -> None:
        self._drawn = 0.0
        self._draw(0, total, force=True)
        done = 0
        for message in read_messages(path):
            if message.skip_reason:
                counts["service"] += 1
            else:
                try:
                    ingested = post_ingest(
                        source=SOURCE,
                        external_id=f"{message.chat_id}:{message.id}",
                        text=message.text,
                        author=message.author,
                        contact=f"tg:{message.from_id}" if message.from_id else "",
                    )
                except Exception as exc:  # one bad post must not stop the other 99,999
                    counts["errors"] += 1
                    if counts["errors"] <= SHOWN_ERRORS:
                        self._end_bar()
                        self.stderr.write(
                            f"message {message.id}: {type(exc).__name__}: {exc}"[:300]
                        )
                else:
                    counts[ingested.outcome] += 1
            done += 1
            self._draw(done, total)
        self._draw(done, total, force=True)

    def _draw(self, done: int, total: int, force: bool = False) -> None:
        if not self.progress:
            return
        now = time.monotonic()
        if not force and now - self._drawn < REDRAW:
            return
        self._drawn = now
        filled = BAR * done // total if total else BAR
        bar = "#" * filled + " " * (BAR - filled)
        self.stderr.write(f"\r[{bar}] {done}/{total}", ending="", style_func=str)
        self.stderr.flush()
        self._bar_open = True

    def _end_bar(self) -> None:
        if getattr(self, "_bar_open", False):
            self.stderr.write("", style_func=str)  # the newline after the bar
            self._bar_open = False

    def _summary(self, total: int, counts: Counter) -> None:
        width = max(len(label) for _key, label in SUMMARY) + 1
        self.stdout.write(f"{'Messages in the export:':<{width + 1}} {total}")
        for key, label in SUMMARY:
            self.stdout.write(f"{label + ':':<{width + 1}} {counts[key]}")
