"""The bulletins part of the HTTP API (docs/bulletins.md): coordinators draft and decide;
anyone checks a code.

POST /bulletins, /bulletins/{id}/approve, /reject, /withdraw take a coordinator's token (a
volunteer's is answered 403); GET /bulletins/{code} is public and knows only bulletins
that were issued (a draft or a rejected one is unknown, as to CHECK by SMS).
"""

from datetime import UTC, datetime

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from bailanys.bulletins.models import Bulletin
from bailanys.bulletins.services import (
    MAX_SOURCE,
    MAX_TEXT,
    BulletinInvalid,
    NotAllowed,
    bulletin_approve,
    bulletin_by_code,
    bulletin_draft,
    bulletin_reject,
    bulletin_withdraw,
)
from bailanys.relay.api import AUTHED, COMMON, BearerToken, Problem
from bailanys.relay.services import InputError
from bailanys.relay.services.inputs import clean_text

router = Router(tags=["bulletins"])
MAX_REGIONS = 50
_MAX_ID = 2**63 - 1


class BulletinIn(Schema):
    texts: dict[str, str] = Field(
        description='Each language\'s own version: {"ru": "...", "kk": "...", "en": "..."}; '
        f"one at least, at most {MAX_TEXT} characters each"
    )
    source: str = Field(
        max_length=MAX_SOURCE,
        description='Who said it, with a link, or "seen by our volunteer at …"',
    )
    regions: list[str] = Field(
        [],
        max_length=MAX_REGIONS,
        description="City names from the gazetteer, any case; empty: the whole country",
    )
    expires_at: datetime | None = Field(
        None, description="In the future; default 24 hours from now. Without a zone: UTC"
    )
    official: bool = Field(
        False, description="An official message seen elsewhere, relayed as received"
    )
    corrects: str | None = Field(
        None, max_length=16, description="The code of an issued bulletin this one corrects"
    )


class BulletinOut(Schema):
    id: int
    code: str
    state: str


class BulletinPublic(Schema):
    code: str
    state: str = Field(description="issued, withdrawn or superseded (corrected)")
    source: str
    issued_at: datetime | None
    texts: dict[str, str]


COORDINATOR = {**AUTHED, 403: Problem}
DECISION = {200: BulletinOut, 404: Problem, 409: Problem, **COORDINATOR}


def _not_coordinator():
    return Status(403, {"detail": _("Only a coordinator may do this.")})


def _not_found():
    return Status(404, {"detail": _("No such bulletin.")})


def _expiry(value: datetime | None):
    if value is None:
        return None
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InputError({"expires_at": _("Not a date we can use.")}) from None


@router.post(
    "/bulletins",
    auth=BearerToken(),
    response={201: BulletinOut, **COORDINATOR},
    summary="Draft a bulletin (coordinators)",
    description="A draft: it is sent only when another coordinator approves it. "
    "422 names each bad field.",
)
def bulletins_create(request: HttpRequest, payload: BulletinIn):
    if not request.auth.is_coordinator:
        return _not_coordinator()
    corrects = None
    if payload.corrects is not None:
        corrects = bulletin_by_code(clean_text(payload.corrects))
        if corrects is None:
            raise InputError({"corrects": _("No issued bulletin has this code.")})
    try:
        bulletin = bulletin_draft(
            texts={
                clean_text(lang): clean_text(text, multiline=True)
                for lang, text in payload.texts.items()
            },
            source=clean_text(payload.source),
            author=request.auth,
            regions=[clean_text(name) for name in payload.regions],
            expires_at=_expiry(payload.expires_at),
            official=payload.official,
            corrects=corrects,
            request=request,
        )
    except BulletinInvalid as exc:
        raise InputError(exc.errors) from None
    return Status(201, {"id": bulletin.pk, "code": bulletin.code, "state": bulletin.state})


def _decide(request: HttpRequest, bulletin_id: int, decide, *, approving: bool = False):
    if not request.auth.is_coordinator:
        return _not_coordinator()
    if not 0 < bulletin_id <= _MAX_ID or not Bulletin.objects.filter(pk=bulletin_id).exists():
        return _not_found()
    try:
        bulletin = decide(bulletin_id, by=request.auth, request=request)
    except NotAllowed:
        current = Bulletin.objects.get(pk=bulletin_id)
        if approving and current.state == Bulletin.State.DRAFT:
            return Status(
                403, {"detail": _("You wrote this bulletin: a second coordinator must approve it.")}
            )
        return Status(
            409,
            {
                "detail": _("This bulletin cannot be changed that way: it is %(state)s now.")
                % {"state": current.state}
            },
        )
    return Status(200, {"id": bulletin.pk, "code": bulletin.code, "state": bulletin.state})


@router.post(
    "/bulletins/{bulletin_id}/approve",
    auth=BearerToken(),
    response=DECISION,
    summary="Approve a draft: it is issued and sending starts (another coordinator)",
    description="403 for its author; 409 when it is no draft.",
)
def bulletins_approve(request: HttpRequest, bulletin_id: int):
    return _decide(request, bulletin_id, bulletin_approve, approving=True)


@router.post(
    "/bulletins/{bulletin_id}/reject",
    auth=BearerToken(),
    response=DECISION,
    summary="Reject a draft: it is never sent",
    description="409 when it is no draft.",
)
def bulletins_reject(request: HttpRequest, bulletin_id: int):
    return _decide(request, bulletin_id, bulletin_reject)


@router.post(
    "/bulletins/{bulletin_id}/withdraw",
    auth=BearerToken(),
    response=DECISION,
    summary="Withdraw an issued bulletin: what waits is not sent, CHECK says withdrawn",
    description="409 when it is not issued.",
)
def bulletins_withdraw(request: HttpRequest, bulletin_id: int):
    return _decide(request, bulletin_id, bulletin_withdraw)


@router.get(
    "/bulletins/{code}",
    response={200: BulletinPublic, 404: Problem, **COMMON},
    summary="Check a bulletin by its code (public)",
    description="404 for a code that was never issued (drafts and rejected ones included).",
)
def bulletins_check(request: HttpRequest, code: str):
    bulletin = bulletin_by_code(clean_text(code)[:16])
    if bulletin is None:
        return _not_found()
    return Status(
        200,
        {
            "code": bulletin.code,
            "state": bulletin.state,
            "source": bulletin.source,
            "issued_at": bulletin.issued_at,
            "texts": bulletin.texts,
        },
    )
