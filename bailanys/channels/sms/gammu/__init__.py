"""Gammu SMSD with a USB modem: the spool folder of its FILES backend is the whole interface.

``gateway.url`` is the spool root, a plain path or ``file://`` + path, with four folders that
gammu-smsd and Bailanys share (both users need read and write access, e.g. one group and
setgid folders)::

    /var/spool/bailanys-sms/inbox/     SMSD writes received SMS; Bailanys reads them
    /var/spool/bailanys-sms/outbox/    Bailanys writes SMS to send; SMSD takes them
    /var/spool/bailanys-sms/sent/      SMSD moves what it sent here
    /var/spool/bailanys-sms/error/     SMSD moves what it could not send here

and the matching ``/etc/gammu-smsdrc`` (https://docs.gammu.org/smsd/config.html; the paths
need their trailing slash)::

    [smsd]
    Service = files
    InboxPath = /var/spool/bailanys-sms/inbox/
    OutboxPath = /var/spool/bailanys-sms/outbox/
    SentSMSPath = /var/spool/bailanys-sms/sent/
    ErrorSMSPath = /var/spool/bailanys-sms/error/
    InboxFormat = unicode
    OutboxFormat = unicode
    TransmitFormat = auto
    DeliveryReport = no

SentSMSPath must differ from OutboxPath (the same path means "delete what was sent", and
nothing would tell us), and ErrorSMSPath must be set (it defaults to SentSMSPath, and a
failure would look like a success). TransmitFormat must be ``auto`` or ``unicode``: some
Gammu versions default to ``7bit``, which cannot carry Cyrillic. OutboxFormat only concerns
``gammu-smsd-inject``; Bailanys writes its own files. DeliveryReport stays ``no``: with
``sms`` the FILES backend stores reports in the inbox as ordinary received SMS, which would
read as texts from the recipient. So an SMS sent through a modem ends "sent" or "failed",
then "unknown" after BAILANYS_SMS_REPORT_MINUTES (never "delivered").

Sending (https://docs.gammu.org/smsd/files.html, "Transmitting of messages") writes
``OUTC<YYYYMMDD>_<HHMMSS>_00_<+E.164>_bl<16 hex>.txt``: the documented form
``OUT<priority><date>_<time>_<serialno>_<phone_number>_<anything>.txt``. SMSD sends in file
name order, so the date keeps the queue first in, first out; the note is made from the
message's idempotency key, so a retry finds the file it already wrote. The text is UTF-16
little-endian with a byte order mark: SMSD reads a file starting with either BOM as Unicode
(ReadUnicodeFile), anything else in the locale's charset, which an init script often leaves
unset. No ``d`` flag after ``.txt``: no delivery report is asked for. The file is written under
a hidden temporary name (SMSD skips names starting with a dot and names not ending in .txt)
and renamed into place, so SMSD never reads half a file. The file name is the provider id.

Receiving reads ``IN<date>_<time>_<serialno>_<sender>_<sequence>.txt``. With
InboxFormat = unicode the text is UTF-16 with a BOM (Gammu writes big-endian, FE FF); with
``standard`` it is the system charset, taken as UTF-8. Gammu 1.42's Unicode writer writes
twice the length of the text's locale encoding, so the text ends at the first NUL. A long SMS
is kept by SMSD until all its parts came (MultipartTimeout) and then written as one file per
part, ``_00``, ``_01``…, with the same serial number and sender; they are joined here. An
8-bit message (``.bin``) is not text and is set aside; ``detail`` files (``.smsbackup``) are
not read: set InboxFormat = unicode.

Nothing is read twice: after a message is accepted its files move to ``inbox/handled``, and
reported sent/failed files to ``sent/reported`` and ``error/reported``; inbound_accept also
drops the same SMS (the same first file name) delivered twice. Those folders are emptied
after SPOOL_KEEP. Logs name the gateway only: never a file name, since file names hold phone
numbers.
"""

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings

from bailanys.channels.sms.drivers import GatewayDown, Refused, SmsDriver
from bailanys.channels.sms.gateways import gateway_failed, gateway_heard
from bailanys.channels.sms.models import SmsDelivery, SmsGateway
from bailanys.channels.sms.segments import segments

logger = logging.getLogger("bailanys.sms")

INBOX, OUTBOX, SENT, ERROR = "inbox", "outbox", "sent", "error"
HANDLED = "handled"  # under inbox/
REPORTED = "reported"  # under sent/ and error/

# A file SMSD wrote less than this long ago may still be open (or its next part not yet
# written): it is read at the next poll.
INBOX_SETTLE_SECONDS = 2.0
# A sent or failed file no SmsDelivery knows yet (the sender may not have recorded it) waits
# this long before it is put away unreported.
ORPHAN_GRACE = timedelta(hours=1)
# Handled and reported files (they hold numbers and texts) are deleted after this long.
SPOOL_KEEP = timedelta(hours=24)
# Parts in one Gammu multipart message (GSM_MAX_MULTI_SMS in include/gammu-limits.h).
MAX_PARTS = 50

E164 = re.compile(r"\+[1-9]\d{5,14}")
IN_NAME = re.compile(
    r"IN(?P<date>\d{8})_(?P<time>\d{6})_(?P<serial>\d{2,})_(?P<sender>.*)_(?P<seq>\d{2,})"
    r"\.(?P<ext>txt|bin|smsbackup)",
    re.IGNORECASE,
)
# The files this module writes (see send); nobody else's are reported on.
OURS = re.compile(r"OUT[A-Z]\d{8}_\d{6}_\d{2}_\+\d{6,15}_bl[0-9a-f]{16}\.txt")

BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


# --- The spool --------------------------------------------------------------------------


def spool_path(gateway: SmsGateway) -> Path:
    """The spool root from the gateway's address: a path, or file:// + path."""
    url = gateway.url.strip()
    if url.startswith("file:"):
        url = unquote(urlsplit(url).path)
    return Path(url)


def _entries(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as it:
        return [entry for entry in it if entry.is_file(follow_symlinks=False)]


def _waiting(entry: os.DirEntry) -> bool:
    """A file SMSD would send: not hidden, named OUT…, extension .txt… or .smsbackup…"""
    name = entry.name
    if name.startswith(".") or name[:3].upper() != "OUT" or "." not in name:
        return False
    ext = name.rsplit(".", 1)[1].lower()
    return ext.startswith(("txt", "smsbackup"))


def _stuck(outbox: Path, now: float) -> bool:
    """The outbox holds a file older than BAILANYS_SMS_STALE_MINUTES: SMSD is not sending."""
    limit = settings.BAILANYS_SMS_STALE_MINUTES * 60
    return any(now - entry.stat().st_mtime > limit for entry in _entries(outbox) if _waiting(entry))


def _move(source: Path, folder: Path) -> bool:
    """Move a file into `folder` (made if needed); False if somebody else moved it first."""
    folder.mkdir(exist_ok=True)
    try:
        os.replace(source, folder / source.name)
    except FileNotFoundError:
        return False
    return True


# --- Sending ----------------------------------------------------------------------------


def _note(idempotency_key: str) -> str:
    return "bl" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]


def send(gateway: SmsGateway, to_e164: str, text: str, *, idempotency_key: str) -> str:
    """Put one SMS in SMSD's outbox; returns the file's name, the provider id."""
    if not E164.fullmatch(to_e164):
        raise Refused("the recipient is not an E.164 number")
    text = text.replace("\x00", "")
    if segments(text) > MAX_PARTS:
        raise Refused(f"longer than {MAX_PARTS} SMS parts")
    spool = spool_path(gateway)
    outbox = spool / OUTBOX
    if not outbox.is_dir() or not os.access(outbox, os.W_OK | os.X_OK):
        raise GatewayDown("the spool's outbox folder is missing or not writable")
    try:
        if _stuck(outbox, time.time()):
            raise GatewayDown("the modem looks hung: an SMS waits in its outbox too long")
        suffix = f"_{_note(idempotency_key)}.txt"
        for folder in (outbox, spool / SENT):
            if folder.is_dir():
                for entry in _entries(folder):
                    if entry.name.endswith(suffix) and OURS.fullmatch(entry.name):
                        return entry.name  # written before: a retry of the same message
    except OSError as exc:
        raise GatewayDown(f"cannot read the spool ({type(exc).__name__})") from None
    name = f"OUTC{datetime.now(UTC):%Y%m%d_%H%M%S}_00_{to_e164}{suffix}"
    data = b"\xff\xfe" + text.encode("utf-16-le")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=outbox, prefix=".bailanys-", suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o660)  # SMSD may run as another user of the same group
        os.replace(tmp, outbox / name)
    except OSError as exc:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise GatewayDown(f"cannot write to the outbox ({type(exc).__name__})") from None
    return name


# --- Receiving --------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """The text of an inbox file: UTF-16 or UTF-8 by its BOM; without one UTF-8 (UTF-16 if it
    has NUL bytes). It ends at the first NUL."""
    for bom, codec in BOMS:
        if data.startswith(bom):
            text = data[len(bom) :].decode(codec, errors="replace")
            break
    else:
        if b"\x00" in data[:2]:
            codec = "utf-16-le" if data[1:2] == b"\x00" else "utf-16-be"
            text = data.decode(codec, errors="replace")
        else:
            text = data.decode("utf-8", errors="replace")
    return text.split("\x00", 1)[0]


@dataclass
class _Message:
    sender: str
    serial: str
    files: list[Path] = field(default_factory=list)
    last_seq: int = 0
    ready: bool = True


def _messages(inbox: Path, now: float) -> tuple[list[_Message], list[Path], int]:
    """Inbox .txt files as messages, oldest first, parts joined; also the set-aside files
    (.bin, and parts whose first part was handled already) and the count of unread formats."""
    found = []
    for entry in _entries(inbox):
        match = IN_NAME.fullmatch(entry.name)
        if match:
            stat = entry.stat()
            found.append((stat.st_mtime_ns, int(match["seq"]), entry.name, match, stat.st_mtime))
    found.sort()
    messages: list[_Message] = []
    open_: dict[tuple[str, str], _Message] = {}
    aside: list[Path] = []
    unread = 0
    for _ns, seq, name, match, mtime in found:
        ext = match["ext"].lower()
        if ext == "smsbackup":
            unread += 1
            continue
        path = inbox / name
        if ext == "bin":
            aside.append(path)
            continue
        key = (match["sender"], match["serial"])
        current = open_.get(key)
        if seq == 0 or current is None or seq != current.last_seq + 1:
            if seq > 0 and _first_part_handled(inbox, key, mtime):
                aside.append(path)  # the rest of a message accepted before a crash
                continue
            current = _Message(sender=match["sender"], serial=match["serial"])
            open_[key] = current
            messages.append(current)
        current.files.append(path)
        current.last_seq = seq
        if now - mtime < INBOX_SETTLE_SECONDS:
            current.ready = False
    return messages, aside, unread


def _first_part_handled(inbox: Path, key: tuple[str, str], mtime: float) -> bool:
    """Part 00 of this sender and serial is in inbox/handled, written at about the same time:
    SMSD writes all parts at once, and parts are moved only after the message was accepted."""
    handled = inbox / HANDLED
    if not handled.is_dir():
        return False
    for entry in _entries(handled):
        match = IN_NAME.fullmatch(entry.name)
        if (
            match
            and (match["sender"], match["serial"]) == key
            and int(match["seq"]) == 0
            and abs(entry.stat().st_mtime - mtime) < 60
        ):
            return True
    return False


def _receive(gateway: SmsGateway, inbox: Path, now: float, counts: dict) -> None:
    from bailanys.channels.sms.inbound import inbound_accept

    messages, aside, unread = _messages(inbox, now)
    for path in aside:
        if _move(path, inbox / HANDLED):
            counts["skipped"] += 1
    if unread:
        logger.warning(
            "gammu gateway %s: %d inbox files in detail format are not read; "
            "set InboxFormat = unicode",
            gateway.pk,
            unread,
        )
    for message in messages:
        if not message.ready:
            continue
        try:
            text = "".join(decode(path.read_bytes()) for path in message.files)
        except FileNotFoundError:
            continue  # another worker took it
        # The first part's name (the modem's date and time, serial number, sender) names
        # this SMS: read again after a crash it is the same one; a repeat has another time.
        result = inbound_accept(gateway, message.sender, text, provider_id=message.files[0].name)
        counts[result] = counts.get(result, 0) + 1
        for path in message.files:  # part 00 first: see _first_part_handled
            _move(path, inbox / HANDLED)


# --- Reports ----------------------------------------------------------------------------


def _reports(gateway: SmsGateway, spool: Path, now: float, counts: dict) -> None:
    from bailanys.channels.sms.inbound import delivery_report

    for folder, state in ((spool / SENT, "sent"), (spool / ERROR, "failed")):
        if not folder.is_dir():
            continue
        for entry in sorted(_entries(folder), key=lambda e: e.name):
            if not OURS.fullmatch(entry.name):
                continue  # not written by Bailanys (gammu-smsd-inject, by hand): left alone
            known = SmsDelivery.objects.filter(gateway=gateway, provider_id=entry.name).exists()
            if known:
                delivery_report(gateway, entry.name, state)
                counts[state] += 1
            elif now - entry.stat().st_mtime < ORPHAN_GRACE.total_seconds():
                continue  # its sender may not have recorded it yet
            _move(Path(entry.path), folder / REPORTED)


def _prune(spool: Path, now: float) -> None:
    for folder in (spool / INBOX / HANDLED, spool / SENT / REPORTED, spool / ERROR / REPORTED):
        if not folder.is_dir():
            continue
        for entry in _entries(folder):
            with contextlib.suppress(FileNotFoundError):
                if now - entry.stat().st_mtime > SPOOL_KEEP.total_seconds():
                    os.unlink(entry.path)


# --- Polling ----------------------------------------------------------------------------


def _fail(gateway: SmsGateway, reason: str) -> None:
    """Mark the gateway stale; say why once, when it becomes stale (polls run every sweep)."""
    newly = SmsGateway.objects.filter(pk=gateway.pk, stale_since__isnull=True).exists()
    gateway_failed(gateway)
    if newly:
        logger.warning("gammu gateway %s is stale: %s", gateway.pk, reason)


def poll(gateway: SmsGateway) -> dict:
    """Read what SMSD did since the last poll: received SMS, sent and failed files, a hung
    modem. Returns counts of what happened.

    The gateway is heard when nothing waits in its outbox too long: the spool shows no other
    sign of life, and an idle modem must not look silent (the sweep would hand its queue,
    still in the outbox, to another gateway and the SMS would go out twice). It fails when
    a file waits longer than BAILANYS_SMS_STALE_MINUTES, or the spool cannot be read.
    """
    counts = {"received": 0, "duplicate": 0, "skipped": 0, "sent": 0, "failed": 0, "stuck": 0}
    spool = spool_path(gateway)
    if not all((spool / sub).is_dir() for sub in (INBOX, OUTBOX, SENT, ERROR)):
        _fail(gateway, "a spool folder is missing or is not a folder")
        counts["stuck"] = 1
        return counts
    lock = os.open(spool, os.O_RDONLY)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return {**counts, "busy": 1}  # another worker is polling this spool
        now = time.time()
        _receive(gateway, spool / INBOX, now, counts)
        _reports(gateway, spool, now, counts)
        if _stuck(spool / OUTBOX, now):
            counts["stuck"] = 1
            _fail(gateway, "an SMS waits in the outbox too long: is gammu-smsd running?")
        else:
            gateway_heard(gateway)
        _prune(spool, now)
    finally:
        os.close(lock)
    return counts


def poll_all() -> None:
    """Poll every enabled Gammu gateway; one that fails does not stop the others."""
    for gateway in SmsGateway.objects.filter(enabled=True, kind=SmsGateway.Kind.GAMMU):
        try:
            poll(gateway)
        except Exception as exc:
            # No traceback: its messages may hold spool file names, and those hold numbers.
            logger.error("gammu gateway %s: poll failed (%s)", gateway.pk, type(exc).__name__)


class GammuDriver(SmsDriver):
    """A USB modem behind gammu-smsd's FILES backend: we write and read its spool."""

    kind = SmsGateway.Kind.GAMMU

    def send(self, gateway, to_e164: str, text: str, *, idempotency_key: str) -> str:
        return send(gateway, to_e164, text, idempotency_key=idempotency_key)

    def poll_all(self) -> None:
        poll_all()
