"""State changes posted to a Telegram channel (docs/status.md, "Telegram channel").

In January 2022 GlobalCheck posted what was blocked by hand. Here a coordinator names a
channel and turns posting on; each evaluation that changes something worth saying puts
one message summing it up in the outbox (the slow lane), in the coordinator's language.

Worth saying: a channel turning bad (degraded, down, blocked) or working again after being
bad. A state turning `unknown` (a feed went quiet) is not news for the public, and a
first `up` after the server started is not either. Changes from a replayed timeline (a
rehearsal) are posted only when the coordinator turned "rehearsals too" on.
"""

import hashlib
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from bailanys.outages.entities import COUNTRY
from bailanys.outages.models import Announce, Channel, Entity, State, StatusChange
from bailanys.outbox.models import Lane
from bailanys.outbox.services import outbox_add
from bailanys.privacy.audit import audit_record

BAD = (State.DEGRADED, State.DOWN, State.BLOCKED)
LOCAL = ZoneInfo("Asia/Almaty")  # the country watched: its people read its clock
MAX_LINES = 30  # a Telegram message holds 4,096 characters
LANGUAGES = ("ru", "kk", "en")
# A public channel's username, or a numeric chat id (channels and groups are negative).
CHAT = re.compile(r"^(@[A-Za-z][A-Za-z0-9_]{4,31}|-?\d{5,20})$")


def announce_settings() -> Announce:
    return Announce.objects.filter(pk=1).first() or Announce(pk=1)


def announce_set(
    *, chat: str, on: bool, language: str, rehearsals: bool, actor: str, request=None
) -> Announce:
    """The coordinator's choice, audited (the chat named in the entry: it is public)."""
    if chat and not CHAT.match(chat):
        raise ValueError("not a Telegram channel")
    if language not in LANGUAGES:
        raise ValueError("not a language")
    if on and not chat:
        raise ValueError("no channel to post to")
    row, _new = Announce.objects.update_or_create(
        pk=1,
        defaults={"chat": chat, "on": on, "language": language, "rehearsals": rehearsals},
    )
    audit_record(
        actor=actor,
        action="status.announce.on" if on else "status.announce.off",
        object_type="outages",
        request=request,
        detail=f"{chat or '-'} {language}{' rehearsals' if rehearsals else ''}",
    )
    return row


def local_time(at: datetime) -> str:
    """ "5 Jan 14:20" in the country's own time, month in the active language."""
    return date_format(timezone.localtime(at, LOCAL), "j M H:i")


def entity_name(entity: Entity | None, key: str) -> str:
    if key == COUNTRY:
        return _("Kazakhstan")
    return entity.name if entity is not None else key


def _previous_known(change: StatusChange, now: datetime) -> str | None:
    """The last state other than unknown this channel had before this evaluation."""
    return (
        StatusChange.objects.filter(entity=change.entity, channel=change.channel, at__lte=now)
        .exclude(state=State.UNKNOWN)
        .order_by("-at", "-pk")
        .values_list("state", flat=True)
        .first()
    )


def worth_saying(changes: list[StatusChange], now: datetime) -> list[tuple[StatusChange, str]]:
    """[(change, the state it had before)] for the changes a channel's readers need."""
    found = []
    for change in changes:
        if change.state == State.UNKNOWN:
            continue
        before = _previous_known(change, now)
        if before == change.state:
            continue  # down, unknown for a while, down again: nothing new
        if change.state == State.UP and before not in BAD:
            continue  # the first "works" after a start is not news
        found.append((change, before or State.UNKNOWN))
    return found


def message_text(found: list[tuple[StatusChange, str]], now: datetime) -> str:
    """The message, in the active language: one line per change, the page's address."""
    names = {e.key: e for e in Entity.objects.filter(key__in={c.entity for c, _b in found})}
    order = {key: (e.order, e.name) for key, e in names.items()}
    found = sorted(
        found, key=lambda f: (order.get(f[0].entity, (999, "")), Channel.values.index(f[0].channel))
    )
    lines = [_("What works in Kazakhstan, %(time)s (Almaty time):") % {"time": local_time(now)}]
    for change, before in found[:MAX_LINES]:
        lines.append(
            _("%(where)s — %(channel)s: %(state)s (was: %(before)s)")
            % {
                "where": entity_name(names.get(change.entity), change.entity),
                "channel": Channel(change.channel).label,
                "state": State(change.state).label,
                "before": State(before).label,
            }
        )
    if len(found) > MAX_LINES:
        lines.append(_("…and %(n)d more changes.") % {"n": len(found) - MAX_LINES})
    if settings.BAILANYS_PUBLIC_URL:
        lines.append(f"{settings.BAILANYS_PUBLIC_URL}/status/")
    return "\n".join(lines)


def announce(changes: list[StatusChange], now: datetime, *, replayed: bool) -> None:
    """Called by each evaluation inside its transaction, before its changes are written:
    one message in the outbox when posting is on and something is worth saying."""
    if not changes:
        return
    setting = Announce.objects.filter(pk=1, on=True).exclude(chat="").first()
    if setting is None or (replayed and not setting.rehearsals):
        return
    found = worth_saying(changes, now)
    if not found:
        return
    with translation.override(setting.language):
        body = message_text(found, now)
    what = "|".join(sorted(f"{c.entity}:{c.channel}:{c.state}" for c, _b in found))
    digest = hashlib.sha256(what.encode()).hexdigest()[:16]
    outbox_add(
        channel="telegram",
        address=setting.chat,
        body=body,
        idempotency_key=f"outages-announce:{now.isoformat()}:{digest}",
        priority=Lane.SLOW,
    )
