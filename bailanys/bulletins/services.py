# ruff: noqa: RUF001, RUF002, RUF003  (codes typed with Cyrillic look-alike letters)
"""Bulletins: drafting, the two-person rule, subscribing, the fan-out, checking a code.

Callers: the coordinator's pages and the API (drafting, deciding), the SMS keywords and the
bot (subscribing, CHECK), the worker (the fan-out). A bulletin reaches a subscriber as one
outbox row in the slow lane (Lane.SLOW): relay notices, check-in replies and proxy answers
to the same gateways go first, and bulletins use what is left of each SIM's budget.
"""

import functools
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bailanys.bulletins.models import LANGUAGES, Bulletin, BulletinDelivery, Subscriber
from bailanys.outbox.models import Lane, OutboxMessage
from bailanys.outbox.services import outbox_add
from bailanys.parsing.cities import city_named
from bailanys.privacy.audit import actor_label, audit_record
from bailanys.privacy.crypto import blind_index
from bailanys.relay.services.inputs import clean_text

logger = logging.getLogger("bailanys.bulletins")

MAX_TEXT = 480  # characters of one language's text (7 UCS-2 parts; the editor warns past 2)
MAX_SOURCE = 200
DEFAULT_HOURS = 24
# Codes: "B" and three of these, one a letter at least (a bridge reference is B and digits
# only, so the two are never mistaken); no 0/O, 1/I/L, S/5.
_CODE_CHARS = "2346789ACDEFGHJKMNPQRTUVWXYZ"
# Cyrillic letters a code may be typed with ("В7К2"): read as the Latin ones they look like.
_CYRILLIC_LOOKALIKES = str.maketrans("АВЕКМНОРСТУХ", "ABEKMHOPCTYX")


class BulletinInvalid(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class NotAllowed(PermissionError):
    """The author approving their own bulletin, or a decision on one already decided."""


# --- Drafting -----------------------------------------------------------------------


def _new_code() -> str:
    while True:
        tail = "".join(secrets.choice(_CODE_CHARS) for _ in range(3))
        if tail.isdigit():
            continue
        code = f"B{tail}"
        if not Bulletin.objects.filter(code=code).exists():
            return code


def regions_resolve(names) -> list[str]:
    """Canonical gazetteer city names for `names`; BulletinInvalid naming any unknown."""
    resolved, unknown = [], []
    for name in names or []:
        place = city_named(str(name)) if str(name).strip() else None
        if place is None:
            unknown.append(str(name)[:40])
        elif place.canonical not in resolved:
            resolved.append(place.canonical)
    if unknown:
        raise BulletinInvalid(
            {"regions": _("Not a city we know: %(names)s.") % {"names": ", ".join(unknown)}}
        )
    return resolved


def _clean(texts, source, regions, expires_at) -> tuple[dict, str, list, object]:
    errors = {}
    if not isinstance(texts, dict):
        texts = {}
    clean = {}
    for language, text in texts.items():
        if language not in LANGUAGES:
            errors["texts"] = _("Texts are in ru, kk or en.")
            continue
        text = " ".join(clean_text(text).split())
        if len(text) > MAX_TEXT:
            errors[f"texts.{language}"] = _("At most %(n)d characters.") % {"n": MAX_TEXT}
        elif text:
            clean[language] = text
    if not clean and "texts" not in errors:
        errors["texts"] = _("Write the bulletin in at least one language.")
    source = " ".join(clean_text(source).split())
    if not source:
        errors["source"] = _("Say who said it: a link, or where our volunteer saw it.")
    elif len(source) > MAX_SOURCE:
        errors["source"] = _("At most %(n)d characters.") % {"n": MAX_SOURCE}
    try:
        regions = regions_resolve(regions)
    except BulletinInvalid as exc:
        errors.update(exc.errors)
    now = timezone.now()
    if expires_at is None:
        expires_at = now + timedelta(hours=DEFAULT_HOURS)
    elif expires_at <= now:
        errors["expires_at"] = _("The expiry must be in the future.")
    if errors:
        raise BulletinInvalid(errors)
    return clean, source, regions, expires_at


def bulletin_draft(
    *,
    texts: dict,
    source: str,
    author,
    regions=(),
    expires_at=None,
    official: bool = False,
    corrects: Bulletin | None = None,
    request=None,
) -> Bulletin:
    """A coordinator writes a bulletin (or a correction of an issued one): a draft until a
    second coordinator approves it. BulletinInvalid with an error per field."""
    texts, source, regions, expires_at = _clean(texts, source, regions, expires_at)
    if corrects is not None:
        corrects = Bulletin.objects.filter(pk=corrects.pk).first()
    if corrects is not None and corrects.state != Bulletin.State.ISSUED:
        raise BulletinInvalid({"corrects": _("Only an issued bulletin can be corrected.")})
    with transaction.atomic():
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    bulletin = Bulletin.objects.create(
                        code=_new_code(),
                        texts=texts,
                        source=source,
                        official=official,
                        regions=regions,
                        expires_at=expires_at,
                        author=author,
                        corrects=corrects,
                    )
                break
            except IntegrityError:
                continue  # the same code drawn at the same moment: draw again
        audit_record(
            actor=actor_label(author),
            action="bulletin.correct" if corrects else "bulletin.draft",
            object_type="bulletin",
            object_id=bulletin.pk,
            detail=bulletin.code,
            request=request,
        )
    return bulletin


# --- Two people ----------------------------------------------------------------------


def _decide(bulletin_id: int, by, *, to: str, action: str, request=None) -> Bulletin:
    with transaction.atomic():
        bulletin = Bulletin.objects.select_for_update().get(pk=bulletin_id)
        if to in (Bulletin.State.ISSUED, Bulletin.State.REJECTED):
            if bulletin.state != Bulletin.State.DRAFT:
                raise NotAllowed("only a draft can be approved or rejected")
            if to == Bulletin.State.ISSUED and bulletin.author_id == by.pk:
                raise NotAllowed("the author cannot approve their own bulletin")
        elif bulletin.state != Bulletin.State.ISSUED:
            raise NotAllowed("only an issued bulletin can be withdrawn")
        now = timezone.now()
        bulletin.state = to
        bulletin.decided_by = by
        bulletin.decided_at = now
        if to == Bulletin.State.ISSUED:
            bulletin.issued_at = now
            earlier = bulletin.corrects
            if earlier is not None and earlier.state == Bulletin.State.ISSUED:
                Bulletin.objects.filter(pk=earlier.pk).update(state=Bulletin.State.SUPERSEDED)
        bulletin.save()
        audit_record(
            actor=actor_label(by),
            action=action,
            object_type="bulletin",
            object_id=bulletin.pk,
            detail=bulletin.code,
            request=request,
        )
        if to == Bulletin.State.ISSUED:
            transaction.on_commit(lambda: _enqueue_fanout(bulletin.pk))
    return bulletin


def bulletin_approve(bulletin_id: int, *, by, request=None) -> Bulletin:
    """A second coordinator approves: the bulletin is issued and its sending starts.
    NotAllowed for the author, or for a bulletin that is no draft."""
    return _decide(
        bulletin_id, by, to=Bulletin.State.ISSUED, action="bulletin.approve", request=request
    )


def bulletin_reject(bulletin_id: int, *, by, request=None) -> Bulletin:
    return _decide(
        bulletin_id, by, to=Bulletin.State.REJECTED, action="bulletin.reject", request=request
    )


def bulletin_withdraw(bulletin_id: int, *, by, request=None) -> Bulletin:
    """Issued, then found wrong: CHECK says it is withdrawn. What is still waiting to be
    sent is not sent."""
    bulletin = _decide(
        bulletin_id, by, to=Bulletin.State.WITHDRAWN, action="bulletin.withdraw", request=request
    )
    waiting = OutboxMessage.objects.filter(
        pk__in=BulletinDelivery.objects.filter(bulletin=bulletin).values("outbox_id"),
        state=OutboxMessage.State.PENDING,
    )
    waiting.update(state=OutboxMessage.State.FAILED, last_error="bulletin withdrawn")
    return bulletin


# --- Subscribing -------------------------------------------------------------------------


def _address_key(channel: str, address: str) -> str:
    return blind_index(f"subscriber:{channel}:{address}")


def subscribe(*, channel: str, address: str, language: str, region: str = "") -> Subscriber:
    """Subscribe a number (E.164) or a Telegram chat, in `language`, to the whole
    country's bulletins and, with `region` (a canonical city name), to that city's.
    Subscribing again updates the language and the region."""
    language = language if language in LANGUAGES else "ru"
    key = _address_key(channel, str(address))
    region_key = blind_index(f"region:{region}") if region else ""
    with transaction.atomic():
        subscriber = (
            Subscriber.objects.select_for_update().filter(channel=channel, address_key=key).first()
        )
        if subscriber is None:
            try:
                with transaction.atomic():
                    return Subscriber.objects.create(
                        channel=channel,
                        address=str(address),
                        address_key=key,
                        language=language,
                        region_key=region_key,
                        region=region,
                    )
            except IntegrityError:
                subscriber = Subscriber.objects.select_for_update().get(
                    channel=channel, address_key=key
                )
        subscriber.language = language
        subscriber.region_key = region_key
        subscriber.region = region
        subscriber.seen_at = timezone.now()
        subscriber.save()
    return subscriber


def unsubscribe(*, channel: str, address: str) -> bool:
    """Leave at once: no bulletin is sent any more, even one already being sent."""
    key = _address_key(channel, str(address))
    with transaction.atomic():
        found = list(Subscriber.objects.filter(channel=channel, address_key=key))
        if not found:
            return False
        OutboxMessage.objects.filter(
            pk__in=BulletinDelivery.objects.filter(subscriber__in=found).values("outbox_id"),
            state=OutboxMessage.State.PENDING,
        ).update(state=OutboxMessage.State.FAILED, last_error="unsubscribed")
        Subscriber.objects.filter(pk__in=[s.pk for s in found]).delete()
    return True


def subscribed(*, channel: str, address: str) -> Subscriber | None:
    return Subscriber.objects.filter(
        channel=channel, address_key=_address_key(channel, str(address))
    ).first()


def subscribers_purge(now, closed_before, hard_before) -> dict[str, int]:
    """Subscribers not heard from for BAILANYS_SUBSCRIBER_DAYS are forgotten."""
    cutoff = now - timedelta(days=settings.BAILANYS_SUBSCRIBER_DAYS)
    deleted, _by_model = Subscriber.objects.filter(seen_at__lt=cutoff).delete()
    return {"subscribers": deleted}


# --- Sending -----------------------------------------------------------------------------


def text_for(bulletin: Bulletin, language: str) -> tuple[str, str]:
    """(language, text): the subscriber's language if the bulletin has it, else Russian,
    Kazakh, English, in that order."""
    for lang in (language, "ru", "kk", "en"):
        if bulletin.texts.get(lang):
            return lang, bulletin.texts[lang]
    raise ValueError(f"bulletin {bulletin.pk} has no text")


def message_for(bulletin: Bulletin, language: str) -> str:
    """What a subscriber receives: the text, its source and the code to CHECK it by."""
    lang, text = text_for(bulletin, language)
    with translation.override(lang):
        if bulletin.corrects_id:
            text = _("Correction of %(code)s:") % {"code": bulletin.corrects.code} + " " + text
        if bulletin.official:
            source = _("Official, relayed as received: %(source)s") % {"source": bulletin.source}
        else:
            source = _("Source: %(source)s") % {"source": bulletin.source}
        return f"{text}\n{source}\nBailanys {bulletin.code}"


def recipients(bulletin: Bulletin):
    """Who gets it: a correction goes to exactly those who received the bulletin it
    corrects; a bulletin for some cities to their subscribers; one for the whole country
    to every subscriber."""
    if bulletin.corrects_id:
        return Subscriber.objects.filter(
            pk__in=BulletinDelivery.objects.filter(bulletin_id=bulletin.corrects_id).values(
                "subscriber_id"
            )
        )
    if bulletin.regions:
        keys = [blind_index(f"region:{name}") for name in bulletin.regions]
        return Subscriber.objects.filter(region_key__in=keys)
    return Subscriber.objects.all()


def _enqueue_fanout(bulletin_id: int) -> None:
    from bailanys.bulletins.tasks import bulletin_fanout_task

    try:
        bulletin_fanout_task.enqueue(bulletin_id)
    except Exception:
        logger.exception(
            "could not enqueue the fan-out of bulletin %s; the sweep will", bulletin_id
        )


def bulletin_fanout(bulletin_id: int, *, batch: int = 500) -> int:
    """Write an outbox row (slow lane) for every recipient that has none yet; returns how
    many were written. Safe to run twice or to resume: each delivery is one row."""
    bulletin = Bulletin.objects.select_related("corrects").get(pk=bulletin_id)
    if bulletin.state != Bulletin.State.ISSUED or bulletin.fanout_done_at:
        return 0
    written = 0
    # One text per language, not one per subscriber.
    body = functools.cache(lambda language: message_for(bulletin, language))
    while True:
        todo = list(
            recipients(bulletin)
            .exclude(
                pk__in=BulletinDelivery.objects.filter(bulletin=bulletin).values("subscriber_id")
            )
            .order_by("pk")[:batch]
        )
        if not todo:
            break
        with transaction.atomic():
            for subscriber in todo:
                outbox = outbox_add(
                    channel=subscriber.channel,
                    address=subscriber.address,
                    body=body(subscriber.language),
                    idempotency_key=f"bulletin:{bulletin.pk}:{subscriber.pk}",
                    priority=Lane.SLOW,
                )
                BulletinDelivery.objects.get_or_create(
                    bulletin=bulletin, subscriber=subscriber, defaults={"outbox": outbox}
                )
                written += 1
        if not Bulletin.objects.filter(pk=bulletin.pk, state=Bulletin.State.ISSUED).exists():
            return written  # withdrawn meanwhile: stop writing
    Bulletin.objects.filter(pk=bulletin.pk).update(fanout_done_at=timezone.now())
    return written


def bulletins_fanout_pending() -> int:
    """The sweep's part: finish any fan-out a worker did not (a crash, a lost task)."""
    pending = Bulletin.objects.filter(state=Bulletin.State.ISSUED, fanout_done_at__isnull=True)
    return sum(bulletin_fanout(pk) for pk in pending.values_list("pk", flat=True))


@dataclass
class Progress:
    recipients: int
    waiting: int
    sent: int
    failed: int
    fanout_done: bool
    per_minute: float  # sent in the last 10 minutes, a minute
    eta_minutes: float | None


def bulletin_progress(bulletin: Bulletin) -> Progress:
    """How far the sending got, from the outbox rows; delivery reports are the channels'
    (the coordinator's page adds them)."""
    rows = OutboxMessage.objects.filter(
        pk__in=BulletinDelivery.objects.filter(bulletin=bulletin).values("outbox_id")
    )
    counts = rows.aggregate(
        waiting=Count(
            "pk", filter=Q(state__in=(OutboxMessage.State.PENDING, OutboxMessage.State.SENDING))
        ),
        sent=Count("pk", filter=Q(state=OutboxMessage.State.SENT)),
        failed=Count("pk", filter=Q(state=OutboxMessage.State.FAILED)),
        recent=Count(
            "pk",
            filter=Q(
                state=OutboxMessage.State.SENT, sent_at__gte=timezone.now() - timedelta(minutes=10)
            ),
        ),
    )
    total = BulletinDelivery.objects.filter(bulletin=bulletin).count()
    if bulletin.fanout_done_at is None and bulletin.state == Bulletin.State.ISSUED:
        total = max(total, recipients(bulletin).count())
        waiting = total - counts["sent"] - counts["failed"]
    else:
        waiting = counts["waiting"]
    per_minute = counts["recent"] / 10
    eta = (
        round(waiting / per_minute, 1) if per_minute and waiting else (0.0 if not waiting else None)
    )
    return Progress(
        total,
        waiting,
        counts["sent"],
        counts["failed"],
        bulletin.fanout_done_at is not None,
        per_minute,
        eta,
    )


# --- Checking ----------------------------------------------------------------------------


def code_normal(text: str) -> str:
    """A code as typed ("b7k2", "В7К2" in Cyrillic, "B7K2."): upper-case Latin."""
    return text.strip().strip(".,!?:;").upper().translate(_CYRILLIC_LOOKALIKES)


def bulletin_by_code(code: str) -> Bulletin | None:
    """The bulletin a code names, if it was ever issued (a draft or a rejected one is not
    ours to vouch for: it is unknown to anyone who asks)."""
    return (
        Bulletin.objects.filter(code=code_normal(code))
        .exclude(state__in=(Bulletin.State.DRAFT, Bulletin.State.REJECTED))
        .select_related("corrects")
        .first()
    )


def bulletin_current(bulletin: Bulletin, now=None) -> bool:
    return bulletin.state == Bulletin.State.ISSUED and bulletin.expires_at > (now or timezone.now())


def first_words(text: str, limit: int = 60) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return (cut or text[:limit]) + "…"
