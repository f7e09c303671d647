import re
from datetime import datetime
from typing import Literal

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Header, Router, Schema, Status
from ninja.security import HttpBearer

from bailanys.accounts.selectors import user_from_api_token
from bailanys.privacy.crypto import blind_index
from bailanys.privacy.ratelimit import client_address, intake_throttle
from bailanys.relay import selectors, services
from bailanys.relay.models import Kind, Outcome
from bailanys.relay.services import ClaimEnded, IdempotencyConflict, NotYourClaim

router = Router()
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")
Language = Literal["en", "ru", "kk"]


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        return user_from_api_token(token=token)


class RequesterIn(Schema):
    name: str = Field(min_length=1, max_length=services.MAX_NAME)
    language: Language = "en"
    contact: str = Field("", max_length=services.MAX_CONTACT)


class RecipientIn(Schema):
    name: str = Field(min_length=1, max_length=services.MAX_NAME)
    phone: str = Field(
        max_length=64,
        description="Any usual format; +7 (KZ) is assumed",
        # Refused empty by the server, with a reason in the requester's language.
        json_schema_extra={"minLength": 1},
    )
    city: str = Field("", max_length=services.MAX_CITY)
    language: Language | None = Field(None, description="For the call script; default ru")


class RequestIn(Schema):
    requester: RequesterIn
    recipient: RecipientIn
    message: str = Field("", max_length=services.MAX_MESSAGE)
    kind: Literal[tuple(Kind.values)] = Kind.WELFARE_CHECK  # type: ignore[valid-type]
    urgent: bool = False
    checkin_pin: str = Field(
        "",
        max_length=8,
        description="4-8 digits agreed with the recipient: texted with SAFE, it verifies "
        "their safe check-in for this request",
    )


class RequestCreated(Schema):
    request_id: int
    case_id: int
    status_url: str = Field(
        description="The requester's private status page: absolute under BAILANYS_PUBLIC_URL "
        "when it is set, else a path on this server (the Host header is never echoed)"
    )


class Problem(Schema):
    detail: str


class FieldProblem(Schema):
    loc: list[str | int] = Field(
        description="Where: the source (body, header, query or path), then the field's "
        'path, e.g. ["body", "recipient", "phone"] or ["header", "Idempotency-Key"]'
    )
    msg: str


class Invalid(Schema):
    detail: list[FieldProblem]
    errors: dict[str, str] = Field(description="Each bad field (dotted path) and why")


# Answers any endpoint may give besides its own: unreadable or bad input, too
# large, flood limit.
COMMON = {400: Problem, 413: Problem, 422: Invalid, 429: Problem}
AUTHED = {**COMMON, 401: Problem}


class StatusOut(Schema):
    status: str
    status_label: str
    closed: bool
    recipient_name: str
    recipient_phone_masked: str
    message: str
    kind: str
    created_at: datetime
    attempts: int
    next_try_at: datetime | None
    reply: str
    notifications: list[str]


class MessageOut(Schema):
    request_id: int
    requester_name: str
    message: str
    kind: str
    urgent: bool
    confirmed: bool = Field(
        description="The recipient has shown they know this requester (a PIN, an earlier "
        "call, an answer to the SMS that named them): only such requesters hear the reply"
    )
    pin_verified: bool
    withdrawn: bool


class CaseOut(Schema):
    claim_id: int
    case_id: int
    expires_at: datetime
    recipient_name: str
    recipient_names: list[str]
    recipient_phone: str
    recipient_city: str
    recipient_language: str
    urgent: bool
    kinds: list[str]
    failed_calls: int
    messages: list[MessageOut]
    previous_notes: list[str]
    call_script: str
    network_warning: str | None = Field(
        None,
        description="SMS or calls to the recipient's operator are failing now (the "
        "shutdown's state, docs/status.md): one line, in the request's language; null when "
        "nothing is known to fail",
    )

    @staticmethod
    def resolve_network_warning(case) -> str | None:
        return case.network.text if getattr(case, "network", None) else None


class ClaimOut(Schema):
    claim_id: int
    expires_at: datetime


class OutcomeIn(Schema):
    outcome: Literal[tuple(Outcome.values)]  # type: ignore[valid-type]
    reply: str = Field("", max_length=services.MAX_REPLY)
    note: str = Field("", max_length=services.MAX_NOTE)
    hard: bool = Field(
        False,
        description="The case is hard (a death, a detention, a child…): from now on "
        "it goes only to experienced volunteers",
    )
    via: Literal["call", "sms"] = Field(
        "call", description="sms: the volunteer sent an SMS instead of calling"
    )
    minutes: int | None = Field(
        None,
        ge=0,
        le=services.MAX_CALL_MINUTES,
        description="For a call: about how many minutes it took (phone credit spent); "
        "ignored for an SMS",
    )
    known_requests: list[int] | None = Field(
        None,
        description="Ids of this case's open requests (messages[].request_id) whose "
        "requesters the recipient said they know: only they are told the reply. Left out: "
        "the case's one open request when it has just one, else nobody. Counts for "
        "reached and delivered only",
    )


class OutcomeOut(Schema):
    attempt_id: int
    case_state: str


def _scoped(request: HttpRequest, idempotency_key: str) -> str:
    """An Idempotency-Key is one client's: the same key and body from another address is
    another request, and never gets back the first one's status link."""
    client = client_address(request)
    return "api:" + blind_index(f"idempotency:{client}:{idempotency_key}")


def _absolute(request: HttpRequest, path: str) -> str:
    """A link to give out. Never built from a Host header that any host may send (the
    default BAILANYS_ALLOWED_HOSTS=*): under BAILANYS_PUBLIC_URL, or from a host the
    operator listed, else the path alone."""
    if settings.BAILANYS_PUBLIC_URL:
        return settings.BAILANYS_PUBLIC_URL + path
    if "*" in settings.ALLOWED_HOSTS:
        return path
    return request.build_absolute_uri(path)


def _created(request: HttpRequest, r) -> dict:
    # The token is known only now (or, for a request sent again with its Idempotency-Key,
    # made again from that key): the database keeps a keyed hash of it.
    path = reverse("relay:status", args=[r.status_token]) if r.status_token else ""
    return {
        "request_id": r.pk,
        "case_id": r.case_id,
        "status_url": _absolute(request, path) if path else "",
    }


@router.post(
    "/requests",
    response={201: RequestCreated, 409: Problem, **COMMON},
    summary="Ask for someone to be called",
)
def request_create(
    request: HttpRequest,
    payload: RequestIn,
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", max_length=200, description="Sent twice, creates once"
    ),
):
    if idempotency_key is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise services.InputError(
            {"Idempotency-Key": _("Use 1 to 200 printable ASCII characters, no spaces.")}
        )
    data = services.request_check(payload.model_dump())
    intake_throttle(request=request, contact=data.requester_contact)
    try:
        created, _new = services.request_create(
            data=data,
            channel="web",
            idempotency_key=_scoped(request, idempotency_key) if idempotency_key else None,
        )
    except IdempotencyConflict:
        return Status(409, {"detail": _("This Idempotency-Key was used with a different request.")})
    return Status(201, _created(request, created))


@router.get(
    "/requests/{token}",
    response={200: StatusOut, 404: Problem, **COMMON},
    summary="What the status page shows",
)
def request_status(request: HttpRequest, token: str):
    return selectors.request_status(token=token, http_request=request)


def _case_out(request: HttpRequest, claim_id: int) -> selectors.CaseView:
    return selectors.case_get_for_volunteer(
        claim_id=claim_id, volunteer=request.auth, http_request=request
    )


def _forbidden():
    return Status(403, {"detail": _("You do not hold this claim.")})


def _ended():
    return Status(
        409, {"detail": _("This claim has ended (outcome recorded, released or lease lost).")}
    )


@router.post(
    "/claims",
    auth=BearerToken(),
    response={200: CaseOut, 204: None, 409: Problem, **AUTHED},
    summary="Take the next waiting case",
    description="409 while the volunteer has asked to talk to a coordinator.",
)
def claim_next(request: HttpRequest):
    try:
        claim = services.case_claim_next(volunteer=request.auth, with_demo=True)
    except services.NeedsTalk:
        return Status(409, {"detail": _("A coordinator will talk with you first.")})
    if claim is None:
        return Status(204, None)
    return Status(200, _case_out(request, claim.pk))


@router.post(
    "/claims/{claim_id}/renew",
    auth=BearerToken(),
    response={200: ClaimOut, 403: Problem, 409: Problem, **AUTHED},
)
def claim_renew(request: HttpRequest, claim_id: int):
    try:
        claim = services.claim_renew(claim_id=claim_id, volunteer=request.auth)
    except NotYourClaim:
        return _forbidden()
    except ClaimEnded:
        return _ended()
    return Status(200, {"claim_id": claim.pk, "expires_at": claim.expires_at})


@router.post(
    "/claims/{claim_id}/outcome",
    auth=BearerToken(),
    response={200: OutcomeOut, 403: Problem, 409: Problem, **AUTHED},
)
def claim_outcome(request: HttpRequest, claim_id: int, payload: OutcomeIn):
    try:
        attempt = services.claim_record_outcome(
            claim_id=claim_id,
            volunteer=request.auth,
            outcome=payload.outcome,
            reply=payload.reply,
            note=payload.note,
            mark_hard=payload.hard,
            via=payload.via,
            minutes=payload.minutes,
            known_requests=payload.known_requests,
        )
    except NotYourClaim:
        return _forbidden()
    except ClaimEnded:
        return _ended()
    attempt.case.refresh_from_db(fields=["state"])
    return Status(200, {"attempt_id": attempt.pk, "case_state": attempt.case.state})


@router.post(
    "/claims/{claim_id}/release",
    auth=BearerToken(),
    response={204: None, 403: Problem, 409: Problem, **AUTHED},
)
def claim_release(request: HttpRequest, claim_id: int):
    try:
        services.claim_release(claim_id=claim_id, volunteer=request.auth)
    except NotYourClaim:
        return _forbidden()
    except ClaimEnded:
        return _ended()
    return Status(204, None)
