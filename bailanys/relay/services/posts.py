"""Free text in: a post becomes requests through the relay's intake, or waits for a
coordinator to review it (the review queue). SMS, the Telegram bot and group, and Telegram
exports all come through post_ingest."""

import json
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bailanys import phones
from bailanys.accounts.models import User
from bailanys.parsing import inflect
from bailanys.parsing.lang import detect
from bailanys.parsing.models import ParsedPost
from bailanys.parsing.parser import parse
from bailanys.parsing.scam import scam_signals
from bailanys.privacy.audit import actor_label, audit_record
from bailanys.relay.models import Request
from bailanys.relay.services.inputs import (
    LANGUAGES,
    MAX_CONTACT,
    MAX_NAME,
    InputError,
    clean_text,
    request_check,
    require_coordinator,
    written_in,
)
from bailanys.relay.services.intake import request_create, scam_flag

MAX_POST = 10_000
UNNAMED = "—"  # no name and no kinship word: the number is what matters
SCAM = "scam"  # the review reason of a post with scam signs


@dataclass(frozen=True)
class Ingested:
    post: ParsedPost
    outcome: str  # created, joined, review, not_request, skipped
    # The language the writer's own words are in (not the message they pass on): what they
    # are answered in. "Сәлеметсіз, … айтыңызшы: Мама, я жив" is Kazakh.
    language: str = "ru"


def _review_reason(text: str, parsed: dict) -> str:
    if scam_signals(text):
        return SCAM
    if not parsed["targets"]:
        return "no number to call"
    if parsed["confidence"] < settings.BAILANYS_PARSE_REVIEW_BELOW:
        return f"confidence {parsed['confidence']:.2f}"
    return ""


def _language(lang: str) -> str:
    return lang if lang in LANGUAGES else "ru"


def writer_language(text: str, parsed: dict) -> str:
    """The language of the writer's own words: the post without the message to pass on."""
    message = parsed.get("message") or ""
    own = text.replace(message, " ") if message else text
    found = written_in(own) or detect(own)
    return found if found in LANGUAGES else _language(parsed.get("lang", ""))


def _reply_channel(post: ParsedPost) -> tuple[str, str]:
    """Where the poster hears back: a Telegram user id ("tg:123", "tg:user123" in exports)
    becomes the telegram channel, "sms:+7…" the sms channel; anything else stays with the
    post's source."""
    contact = post.author_contact or ""
    found = re.fullmatch(r"tg:(?:user)?(\d{1,20})", contact)
    if found:
        return "telegram", found.group(1)
    if contact.startswith("sms:+"):
        return "sms", contact[4:]
    return post.source, contact


def post_scam_flag(post: ParsedPost) -> str:
    """The flag a post sent to review for scam signs puts on every request it becomes: its
    case waits for a coordinator's outcome, whatever the reviewer kept of the message. ""
    for any other post."""
    if post.review_reason != SCAM:
        return ""
    return scam_flag("scam-post", post.text) or "scam-post"


def recipient_label(target: dict) -> str:
    """What to call a target: their name in its base form ("Гульнаре" -> "Гульнара"), else
    the kinship word the writer used ("мама", "әжем"), else UNNAMED. A reviewer's row has
    no "base": their name is put in its base form here."""
    name = (target.get("name") or "").strip()
    if name:
        base = target.get("base") if "base" in target else inflect.name_base(name)
        return base or name
    return (target.get("relation") or "").strip() or UNNAMED


def _create_requests(post: ParsedPost, fields: dict) -> tuple[int, bool]:
    """One request per target, through the relay's own intake. Caller holds a transaction.

    Returns (requests created, whether any joined an existing case).
    """
    joined = False
    created = 0
    channel, contact = _reply_channel(post)
    flag = post_scam_flag(post)
    # a reviewer's fields carry no signature: the parser's reading of the post still counts
    signature = fields.get("signature") or json.loads(post.parsed or "{}").get("signature")
    for number, target in enumerate(fields["targets"]):
        data = request_check(
            {
                "requester": {
                    # as they gave it: the name on their account, else the one they signed
                    "name": post.author or signature or UNNAMED,
                    "language": writer_language(post.text, fields),
                    "contact": contact,
                },
                "recipient": {
                    "name": recipient_label(target),
                    "phone": target["phone"],
                    "city": target.get("city") or "",
                    # The language of the message to pass on (request_check's default).
                },
                "message": fields.get("message") or "",
                "kind": fields["kind"]
                if fields["kind"] != "deliver_message" or fields.get("message")
                else "welfare_check",
                "urgent": bool(fields.get("urgent")),
            }
        )
        request, new = request_create(
            data=data,
            channel=channel,
            idempotency_key=f"post:{post.source}:{post.external_id}:{number}",
            flag=flag,
        )
        created += new
        joined = joined or Request.objects.filter(case_id=request.case_id).count() > 1
    return created, joined


def post_ingest(
    *, source: str, external_id: str, text: str, author: str = "", contact: str = ""
) -> Ingested:
    """Parse one post and act on it: requests, the review queue, or nothing.

    Idempotent on (source, external_id): a post seen before is "skipped".
    """
    existing = ParsedPost.objects.filter(source=source, external_id=external_id).first()
    if existing is not None:
        return Ingested(
            existing, "skipped", _language(json.loads(existing.parsed or "{}").get("lang", ""))
        )
    text = clean_text(text, multiline=True)[:MAX_POST]
    parsed = parse(text)
    post = ParsedPost(
        source=source[:40],
        external_id=external_id[:100],
        confidence=parsed["confidence"],
        author=clean_text(author)[:MAX_NAME],
        author_contact=clean_text(contact)[:MAX_CONTACT],
    )
    if parsed["kind"] == "not_a_request":
        # Chatter, thanks and warnings: keep that it was seen, not what it said.
        post.state = ParsedPost.State.IGNORED
        outcome = "not_request"
    else:
        post.text = text
        post.parsed = json.dumps(parsed, ensure_ascii=False)
        post.review_reason = _review_reason(text, parsed)
        post.state = ParsedPost.State.REVIEW if post.review_reason else ParsedPost.State.CREATED
        outcome = "review" if post.review_reason else "created"
    try:
        with transaction.atomic():
            post.save()
            if post.state == ParsedPost.State.CREATED:
                try:
                    post.requests_created, joined = _create_requests(post, parsed)
                except InputError as exc:
                    # The parser found something the relay refuses: a person decides.
                    post.state = ParsedPost.State.REVIEW
                    post.review_reason = "invalid: " + ", ".join(exc.errors)[:80]
                    outcome, joined = "review", False
                post.save(update_fields=["state", "review_reason", "requests_created"])
                if joined:
                    outcome = "joined"
    except IntegrityError:
        # The same post arrived twice at once; the first one counts.
        existing = ParsedPost.objects.get(source=source, external_id=external_id)
        return Ingested(existing, "skipped", writer_language(text, parsed))
    return Ingested(post, outcome, writer_language(text, parsed))


def posts_waiting_for_review(*, reviewer: User, limit: int = 200) -> list[ParsedPost]:
    """The review queue, oldest first, without the posts' text: for coordinators only
    (raises NotCoordinator)."""
    require_coordinator(reviewer)
    waiting = ParsedPost.objects.filter(state=ParsedPost.State.REVIEW).order_by("created_at")
    return list(waiting.only("pk", "source", "review_reason", "confidence", "created_at")[:limit])


def post_get_for_review(*, post_id: int, reviewer: User, http_request=None) -> ParsedPost:
    """A post waiting for review, for a coordinator (audited). Raises NotCoordinator for
    anyone else, before looking: they are not told whether the post exists."""
    require_coordinator(reviewer, post_id)
    post = ParsedPost.objects.filter(pk=post_id, state=ParsedPost.State.REVIEW).first()
    if post is None:
        raise ParsedPost.DoesNotExist
    audit_record(
        actor=actor_label(reviewer),
        action="post.read",
        object_type="post",
        object_id=post.pk,
        request=http_request,
    )
    return post


def _waiting_post(post_id: int) -> ParsedPost:
    """The post, locked, if it still waits for review: two reviewers never both decide."""
    post = (
        ParsedPost.objects.select_for_update()
        .filter(pk=post_id, state=ParsedPost.State.REVIEW)
        .first()
    )
    if post is None:
        raise ParsedPost.DoesNotExist
    return post


def post_confirm(*, reviewer: User, post_id: int, fields: dict) -> ParsedPost:
    """Create the requests a coordinator confirmed, and keep the correction.

    `fields` has the parser's shape: lang, kind, urgent, targets
    [{name, phone, city}], message. Raises NotCoordinator for anyone else, and
    InputError naming bad fields (targets.0.phone, …); nothing is created then.
    A post with scam signs becomes requests held for a coordinator (post_scam_flag).
    """
    require_coordinator(reviewer, post_id)
    if not fields.get("targets"):
        raise InputError({"targets": _("Give at least one number to call.")})
    with transaction.atomic():
        post = _waiting_post(post_id)
        errors = {}
        for number, target in enumerate(fields["targets"]):
            try:
                request_check(
                    {
                        "requester": {"name": "x"},
                        "recipient": {"name": target.get("name") or UNNAMED, **target},
                        "message": fields.get("message") or "",
                        "kind": fields.get("kind"),
                        "urgent": bool(fields.get("urgent")),
                    }
                )
            except InputError as exc:
                for key, reason in exc.errors.items():
                    errors[key.replace("recipient", f"targets.{number}")] = reason
        if errors:
            raise InputError(errors)
        # Kept in the corpus's own form, so corrections become regression lines.
        fields = {
            **fields,
            "targets": [{**t, "phone": phones.normalize(t["phone"])} for t in fields["targets"]],
        }
        post.requests_created, _joined = _create_requests(post, fields)
        _review_close(post, reviewer, ParsedPost.State.CONFIRMED, fields, "post.confirm")
    return post


def _review_close(post: ParsedPost, reviewer: User, state: str, corrected: dict, action: str):
    """Record a reviewer's decision and audit it. Caller holds the post's row lock."""
    post.corrected = json.dumps(corrected, ensure_ascii=False)
    post.state = state
    post.reviewed_by = reviewer
    post.reviewed_at = timezone.now()
    post.save()
    audit_record(actor=actor_label(reviewer), action=action, object_type="post", object_id=post.pk)


def post_dismiss(*, reviewer: User, post_id: int) -> None:
    """Not a request after all. Its text stays, as a labelled example, until retention ends.

    For a coordinator only (raises NotCoordinator)."""
    require_coordinator(reviewer, post_id)
    with transaction.atomic():
        post = _waiting_post(post_id)
        _review_close(
            post, reviewer, ParsedPost.State.IGNORED, {"kind": "not_a_request"}, "post.dismiss"
        )
