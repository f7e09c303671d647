"""A small fake of gammu-smsd's FILES backend on a temporary folder, for tests.

It plays SMSD's side of the spool as Gammu's smsd/services/files.c does it
(https://docs.gammu.org/smsd/files.html):

- ``deliver_outbox`` takes the outbox files SMSD would take (not hidden, named ``OUT…``, an
  extension starting with ``txt``), in file name order, reads the recipient from the name in
  the three documented forms and the text as Unicode when the file starts with a byte order
  mark (either order), else as UTF-8 (the locale); then moves the file under the same name
  to ``sent/`` (or ``error/`` with ``fail=True``).
- ``receive`` writes a received SMS as ``IN<date>_<time>_<serial>_<sender>_<sequence>.txt``,
  one file per part, the serial being the first free one for part 00; each part carries its
  own time. ``fmt="unicode"`` writes what InboxFormat = unicode writes: FE FF and the text in
  UTF-16 big-endian, ``strlen`` of its UTF-8 form times two bytes long (so a Cyrillic text is
  followed by NUL padding, as Gammu 1.42 writes it); ``fmt="standard"`` writes UTF-8.

Files just written get an mtime a few seconds back (``settled=False`` keeps it now): the
poller leaves files younger than two seconds for the next poll, as SMSD may still be writing.
"""

import os
import time
from datetime import datetime, timedelta
from pathlib import Path

FOLDERS = ("inbox", "outbox", "sent", "error")


def recipient(name: str) -> str:
    """The number SMSD reads from an outbox file name (SMSDFiles_FindOutboxSMS)."""
    stem = name.rsplit(".", 1)[0]
    cuts = [i for i, char in enumerate(stem) if char == "_" and i > 0]
    if not cuts:
        return stem[3:]  # OUT<phone>.txt
    if len(cuts) == 2:
        return stem[cuts[0] + 1 : cuts[1]]  # OUT<priority>_<phone>_<serial>.txt
    if len(cuts) >= 4:
        return stem[cuts[2] + 1 : cuts[3]]  # OUT<priority><date>_<time>_<serial>_<phone>_<note>
    raise ValueError(f"SMSD cannot read a recipient from {name!r}")


def read_text(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data[2:].decode("utf-16-le" if data[:1] == b"\xff" else "utf-16-be")
    return data.decode("utf-8")


class FakeGammu:
    def __init__(self, root: Path):
        self.root = root
        for folder in FOLDERS:
            (root / folder).mkdir(parents=True, exist_ok=True)
        self.transmitted: list[dict] = []  # {"name", "to", "text"} of each SMS sent
        self.failed: list[dict] = []

    @property
    def url(self) -> str:
        return str(self.root)

    def path(self, folder: str) -> Path:
        return self.root / folder

    def waiting(self) -> list[dict]:
        """The outbox as SMSD sees it, in the order it would send."""
        found = []
        for name in sorted(os.listdir(self.path("outbox"))):
            ext = name.rsplit(".", 1)[1].lower() if "." in name else ""
            if name.startswith(".") or name[:3].upper() != "OUT" or not ext.startswith("txt"):
                continue
            text = read_text((self.path("outbox") / name).read_bytes())
            found.append({"name": name, "to": recipient(name), "text": text})
        return found

    def deliver_outbox(self, fail: bool = False) -> list[dict]:
        """Send (or fail) every waiting SMS: move each file to sent/ (error/), same name."""
        done = self.waiting()
        target = self.path("error" if fail else "sent")
        for message in done:
            os.replace(self.path("outbox") / message["name"], target / message["name"])
        (self.failed if fail else self.transmitted).extend(done)
        return done

    def receive(
        self,
        sender: str,
        text: str,
        *,
        parts: int | None = None,
        fmt: str = "unicode",
        settled: bool = True,
    ) -> list[str]:
        """Write a received SMS into the inbox, in `parts` part files; returns their names."""
        count = parts or 1
        size = -(-len(text) // count)
        chunks = [text[i * size : (i + 1) * size] for i in range(count)]
        inbox = self.path("inbox")
        start = datetime.now()
        serial = 0
        while (inbox / self._name(start, serial, sender, 0)).exists():
            serial += 1
        names = []
        for seq, chunk in enumerate(chunks):
            # Each part has its own time from the SMS centre; the serial is part 00's.
            name = self._name(start + timedelta(seconds=seq), serial, sender, seq)
            (inbox / name).write_bytes(self._content(chunk, fmt))
            if settled:
                back = time.time() - 5
                os.utime(inbox / name, (back, back))
            names.append(name)
        return names

    @staticmethod
    def _name(when: datetime, serial: int, sender: str, seq: int) -> str:
        return f"IN{when:%Y%m%d_%H%M%S}_{serial:02d}_{sender}_{seq:02d}.txt"

    @staticmethod
    def _content(text: str, fmt: str) -> bytes:
        if fmt == "standard":
            return text.encode("utf-8")
        assert fmt == "unicode", fmt
        # fwrite(Text, 1, strlen(locale text) * 2): the UCS-2 text and then the zeroed buffer.
        ucs2 = text.encode("utf-16-be")
        length = len(text.encode("utf-8")) * 2
        return b"\xfe\xff" + ucs2.ljust(length, b"\x00")[:length]
