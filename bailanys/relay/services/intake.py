"""Intake: a request joins the open case for its recipient, or opens one; withdrawal."""

import base64
import json
import secrets
import uuid
from dataclasses import asdict

from django.db import IntegrityError, connections, router, transaction
from django.db.models import Q
from django.db.models.sql.subqueries import InsertQuery
from django.utils import timezone

from bailanys import phones
from bailanys.parsing.hard import hard_words_found
from bailanys.parsing.scam import scam_signals
from bailanys.privacy.audit import audit_record
from bailanys.privacy.crypto import blind_index
from bailanys.relay import hooks
from bailanys.relay.models import (
    OPEN_STATES,
    Case,
    CaseState,
    Kind,
    Request,
    Requester,
    Resolution,
)
from bailanys.relay.services.inputs import IdempotencyConflict, RequestInput, pin_hash

PRIORITY_KINDS = (Kind.MEDICAL,)


def recipient_key(phone_e164: str, *, demo: bool = False) -> str:
    """The deduplication key of a recipient phone number: its blind index.

    A demo case has a key of its own: a real request never joins made-up data (nor the
    other way round), and an SMS from that number never answers a demo case.
    """
    return blind_index(f"demo:{phone_e164}" if demo else phone_e164)


def is_hard(data: RequestInput) -> bool:
    """Hard for a volunteer to carry: medical, a death, a detention, a missing person, a child."""
    if data.kind == Kind.MEDICAL:
        return True
    return hard_words_found(f"{data.message} {data.recipient_name}")


def _priority(data: RequestInput) -> int:
    return 1 if data.urgent or data.kind in PRIORITY_KINDS else 0


def _open_case_for(data: RequestInput, now, *, demo: bool = False) -> tuple[Case, bool]:
    """The open case for this recipient, made if there is none, and whether it was made.
    Caller holds a transaction.

    One statement finds the open case, locked, together with any case this number had
    that a coordinator merged into another person's (rare: only then is the merge
    followed). With neither, one upsert on the open-case index makes the case, or finds
    the one a concurrent request made a moment ago, locked all the same."""
    key = recipient_key(data.recipient_phone, demo=demo)
    # Locked: an outcome recorded at this moment closes the case and tells the requests
    # it sees. Without the lock a request could join after that read and before the
    # close, and never be told (the crash test found it on PostgreSQL). Behind a lock
    # that closed it, the row no longer matches and a new case is made.
    found = list(
        Case.objects.select_for_update()
        .filter(recipient_key=key)
        .filter(
            Q(state__in=OPEN_STATES) | Q(resolution=Resolution.MERGED, merged_into__isnull=False)
        )
    )
    case = next((c for c in found if c.state in OPEN_STATES), None)
    if case is None and (joined := _merge_target(found)) is not None:
        case = joined[1]  # a coordinator merged this number into another person's case
    made = False
    if case is None:
        case, made = _case_upsert(
            Case(
                recipient_phone=data.recipient_phone,
                recipient_key=key,
                recipient_name=data.recipient_name,
                recipient_city=data.recipient_city,
                recipient_language=data.recipient_language,
                recipient_operator=phones.operator(data.recipient_phone),
                priority=_priority(data),
                hard=is_hard(data),
                available_at=now,
                demo=demo,
            )
        )
    if not made:
        raised = {"priority": _priority(data)} if _priority(data) > case.priority else {}
        if not case.hard and is_hard(data):
            raised["hard"] = True
        if raised:
            Case.objects.filter(pk=case.pk).update(**raised)
    return case, made


def _case_upsert(case: Case) -> tuple[Case, bool]:
    """INSERT … ON CONFLICT on the open-case index (SQLite and PostgreSQL alike): the new
    case and True, or the open case another request made first, locked, and False."""
    db = router.db_for_write(Case)
    fields = [f for f in Case._meta.concrete_fields if not f.primary_key]
    query = InsertQuery(Case)
    query.insert_values(fields, [case])
    [(sql, params)] = query.get_compiler(using=db).as_sql()
    quote = connections[db].ops.quote_name
    key, state, pk, uid = (
        quote(Case._meta.get_field(f).column) for f in ("recipient_key", "state", "id", "uid")
    )
    # The conflict target repeats the index's condition (Case.Meta): it names the index.
    sql += (
        f" ON CONFLICT ({key}) WHERE NOT ({state} = '{CaseState.CLOSED}')"
        f" DO UPDATE SET {key} = EXCLUDED.{key} RETURNING {pk}, {uid}"
    )
    with connections[db].cursor() as cursor:
        cursor.execute(sql, params)
        case_id, row_uid = cursor.fetchone()
    if uuid.UUID(str(row_uid)) != case.uid:
        return Case.objects.get(pk=case_id), False
    case.pk = case_id
    case._state.adding, case._state.db = False, db
    return case, True


def _merge_target(cases: list[Case]) -> tuple[Case, Case] | None:
    """Of a number's cases, the newest that a coordinator merged into another, and the
    open case the merge led to (following merges of merges); None if that one closed."""
    merged = max(
        (c for c in cases if c.resolution == Resolution.MERGED and c.merged_into_id),
        key=lambda c: (c.closed_at is not None, c.closed_at or c.created_at),
        default=None,
    )
    target, seen = merged, set()
    while target is not None and target.merged_into_id and target.pk not in seen:
        seen.add(target.pk)
        target = target.merged_into
    if merged is None or target is None or not target.is_open:
        return None
    return merged, target


def _merged_case(key: str) -> tuple[Case, Case] | None:
    """The newest case for this number that a coordinator merged into another, and the
    open case the merge led to."""
    return _merge_target(
        list(
            Case.objects.filter(recipient_key=key, resolution=Resolution.MERGED).exclude(
                merged_into=None
            )
        )
    )


def _origin_for(case: Case, phone_e164: str) -> Case | None:
    """For a request that joined a case through a merge: its own number's case, so that
    a split moves it back there."""
    key = recipient_key(phone_e164)
    joined = _merged_case(key) if case.recipient_key != key else None
    return joined[0] if joined is not None else None


def status_key(token: str) -> str:
    """What is stored of a status token: its keyed hash, like the API's and invitations'."""
    return blind_index(f"status-token:{token}")


def _status_token(idempotency_key: str | None, digest: str) -> str:
    """A new request's status token, 32 URL-safe characters.

    With an Idempotency-Key it is derived, under the index key, from the key and the
    request's digest, so that sending the same request again returns the same link;
    without one it is random. Either way only status_key(token) is stored.
    """
    if not idempotency_key:
        return secrets.token_urlsafe(24)
    mac = bytes.fromhex(blind_index(f"status-link:{idempotency_key}:{digest}"))
    return base64.urlsafe_b64encode(mac[:24]).decode()


def status_token_of(request: Request) -> str | None:
    """The link token of a request made with an Idempotency-Key (the bot, groups, the API),
    made again from what the server alone can compute; None when it cannot be (a request
    without a key, or one made before tokens were derived)."""
    if not request.idempotency_key:
        return None
    token = _status_token(request.idempotency_key, request.payload_digest)
    return token if status_key(token) == request.status_key else None


def _digest(data: RequestInput, channel: str) -> str:
    """Keyed, like the blind index: an unkeyed hash would confirm a guessed number."""
    raw = json.dumps({**asdict(data), "channel": channel}, sort_keys=True, ensure_ascii=False)
    return blind_index(raw)


def request_create(
    *,
    data: RequestInput,
    channel: str = "web",
    idempotency_key: str | None = None,
    flag: str = "",
    demo: bool = False,
) -> tuple[Request, bool]:
    """Record a request and join it to the open case for its recipient.

    `demo`: made-up data (the demo scenario): its case is kept apart from real ones, the
    SMS bridge never starts for it, and what it causes goes to the status page or the log
    only (the outbox refuses to send it through a gateway or a bot).
    `flag`: scam signs the caller found outside the message (a reviewed post's text); the
    request and its case are held for a coordinator as for signs in the message itself.
    Returns (request, created). With an idempotency key seen before, returns
    the first request and creates nothing; a different body under the same key
    raises IdempotencyConflict. `request.status_token` is the token of the request's
    status link: shown to the requester now, never stored (None only for a request made
    before tokens were derived, sent again with its old key).
    """
    digest = _digest(data, channel)
    if idempotency_key:
        earlier = Request.objects.filter(idempotency_key=idempotency_key).first()
        if earlier is not None:
            if earlier.payload_digest != digest:
                raise IdempotencyConflict(idempotency_key)
            earlier.status_token = status_token_of(earlier)
            return earlier, False
    now = timezone.now()
    token = _status_token(idempotency_key, digest)
    try:
        with transaction.atomic():
            case, made = _open_case_for(data, now, demo=demo)
            requester = Requester.objects.create(
                name=data.requester_name,
                language=data.requester_language,
                channel=channel,
                contact=data.requester_contact,
                contact_key=contact_key(channel, data.requester_contact),
            )
            request = Request.objects.create(
                case=case,
                origin_case=None if demo else _origin_for(case, data.recipient_phone),
                requester=requester,
                recipient_name=data.recipient_name,
                recipient_city=data.recipient_city,
                message=data.message,
                kind=data.kind,
                urgent=data.urgent,
                status_key=status_key(token),
                idempotency_key=idempotency_key or None,
                payload_digest=digest,
                flag=scam_flag("scam", data.message) or flag[:40],
                checkin_pin_hash=pin_hash(data.recipient_phone, data.checkin_pin)
                if data.checkin_pin
                else "",
                demo=demo,
            )
            audit_record(
                actor=f"requester:{channel}",
                action="request.create",
                object_type="request",
                object_id=request.pk,
            )
            if request.flag:
                case_flag_for_coordinator(case.pk, request.flag)
            elif made and not demo:
                # A new case may start the SMS bridge; a made-up one never does.
                hooks.case_opened(case_id=case.pk, kind=data.kind)
    except IntegrityError:
        if not idempotency_key:
            raise
        # The same key raced us; the winner's request is the answer.
        return request_create(
            data=data, channel=channel, idempotency_key=idempotency_key, flag=flag, demo=demo
        )
    request.status_token = token
    return request, True


def contact_key(channel: str, contact: str) -> str:
    """The keyed index of a requester's contact on a channel; "" without a contact."""
    return blind_index(f"{channel}:{contact}") if contact else ""


def request_withdraw(*, request_id: int, channel: str, contact: str) -> Request:
    """The requester takes a request back; only the contact that made it may.

    The case closes as withdrawn when no other request keeps it open and
    nobody is calling; a call in progress finishes, and nobody is told.
    Raises Request.DoesNotExist for someone else's or an unknown request.
    """
    key = contact_key(channel, contact)
    with transaction.atomic():
        request = (
            Request.objects.select_for_update()
            .filter(pk=request_id, requester__contact_key=key, withdrawn_at__isnull=True)
            .exclude(requester__contact_key="")
            .first()
        )
        if request is None:
            raise Request.DoesNotExist
        now = timezone.now()
        request.withdrawn_at = now
        request.save(update_fields=["withdrawn_at"])
        if not Request.objects.filter(case_id=request.case_id, withdrawn_at__isnull=True).exists():
            Case.objects.filter(
                pk=request.case_id, state__in=(CaseState.QUEUED, CaseState.ESCALATED)
            ).update(state=CaseState.CLOSED, resolution=Resolution.WITHDRAWN, closed_at=now)
        audit_record(
            actor=f"requester:{channel}",
            action="request.withdraw",
            object_type="request",
            object_id=request.pk,
        )
    return request


def scam_flag(prefix: str, text: str) -> str:
    signals = scam_signals(text)
    return f"{prefix}:{','.join(signals)}" if signals else ""


def case_flag_for_coordinator(case_id: int, flag: str) -> None:
    """Hold a case for a coordinator: volunteers no longer get it. Caller holds a transaction."""
    Case.objects.filter(pk=case_id).update(flag=flag[:40])
    Case.objects.filter(pk=case_id, state=CaseState.QUEUED).update(state=CaseState.ESCALATED)
