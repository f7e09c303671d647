"""bailanys outages: the shutdown's state — poll the feeds, replay a timeline, show it."""

import sys
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from bailanys.outages.services import (
    feeds_overview,
    fetches_recent,
    grid,
    outages_clear,
    outages_poll,
    replay,
    replay_read,
)

MAX_FILE = 200 * 1024 * 1024
FAILED_SHOWN = 10
MARK = {"up": "ok", "degraded": "part", "down": "DOWN", "blocked": "BLOCK", "unknown": "?"}


class Command(BaseCommand):
    help = "The shutdown's state: poll the feeds now, replay a recorded timeline, show it."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("poll", help="Ask every enabled feed now, then update the states.")
        rep = sub.add_parser(
            "replay", help="Load a recorded timeline: JSON lines of feed answers ('-': stdin)."
        )
        rep.add_argument("file")
        rep.add_argument(
            "--shift-to-now",
            action="store_true",
            help="Move the whole timeline so that its last answer is now.",
        )
        show = sub.add_parser("show", help="The grid of states, as text.")
        show.add_argument("--at", help="A past moment (ISO 8601, UTC when no zone is given).")
        sub.add_parser("clear", help="Forget every state, reading and fetch (after a rehearsal).")

    def handle(self, *args, action, **options):
        getattr(self, f"_{action}")(**options)

    def _poll(self, **options):
        for name, ok in outages_poll().items():
            self.stdout.write(f"{name}: {'answered' if ok else 'failed'}")
        for feed in feeds_overview():
            if feed.failures:
                self.stdout.write(f"{feed.name}: {feed.failures} failure(s) in a row")

    def _replay(self, *, file, shift_to_now, **options):
        try:
            if file == "-":
                text = sys.stdin.read(MAX_FILE + 1)
            else:
                with open(file, encoding="utf-8") as handle:
                    text = handle.read(MAX_FILE + 1)
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"cannot read {file}: {type(error).__name__}") from None
        if len(text) > MAX_FILE:
            raise CommandError(f"{file} is larger than {MAX_FILE // 1024 // 1024} MB")
        lines, errors = replay_read(text.splitlines())
        changes = replay(lines, shift_to_now=shift_to_now)
        self.stdout.write(f"replayed {len(lines)} answer(s), {changes} state change(s)")
        for error in errors:
            self.stderr.write(error)
        if errors:
            raise CommandError(f"{len(errors)} line(s) refused; the others were replayed")

    def _show(self, *, at, **options):
        moment = None
        if at:
            try:
                moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
            except ValueError:
                raise CommandError("--at: not an ISO 8601 time, e.g. 2022-01-05T18:00") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        rows = grid(moment)
        channels = list(rows[0][1]) if rows else []
        self.stdout.write(f"{'':34}" + "".join(f"{c:>10}" for c in channels))
        for entity, views in rows:
            cells = "".join(f"{MARK.get(views[c].state, '?'):>10}" for c in channels)
            self.stdout.write(f"{entity.name[:18]:18} {entity.key[:15]:15}" + cells)
        if moment is None:
            self._feeds()

    def _feeds(self):
        """What an operator looks at when a feed misbehaves: each feed's last answer and
        back-off, then the latest failed fetches with their time and why."""
        self.stdout.write("\nfeeds:")
        for feed in feeds_overview():
            self.stdout.write(
                f"{feed.name:6} last answer {_when(feed.last_ok_at)}, "
                f"{feed.failures} failure(s) in a row, next try {_when(feed.next_at)}"
            )
        failed = fetches_recent(FAILED_SHOWN, failed=True)
        if failed:
            self.stdout.write("failed fetches (latest first):")
        for fetch in failed:
            self.stdout.write(
                f"{_when(fetch.at)} {fetch.feed:6} {fetch.path[:60]}: {fetch.note or '?'}"
                + (" (replayed)" if fetch.replayed else "")
            )

    def _clear(self, **options):
        outages_clear()
        self.stdout.write("cleared")


def _when(moment) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if moment else "never"
