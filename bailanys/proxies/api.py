"""The proxies part of the HTTP API: a volunteer vouches for a number (docs/proxies.md)."""

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from bailanys import phones
from bailanys.privacy.audit import actor_label
from bailanys.proxies.services import key_for_number, proxy_vouch
from bailanys.relay.api import AUTHED, BearerToken
from bailanys.relay.services import InputError

router = Router(tags=["proxies"])


class VouchIn(Schema):
    phone: str = Field(
        max_length=64,
        description="The number that will ask for proxies by SMS; any usual format, "
        "+7 (KZ) is assumed",
        # Refused empty by the server, with a reason.
        json_schema_extra={"minLength": 1},
    )


class VouchOut(Schema):
    vouched: bool = Field(description="false: the number was already vouched for")
    phone: str = Field(description="The number, masked")


@router.post(
    "/proxies/vouch",
    auth=BearerToken(),
    response={200: VouchOut, **AUTHED},
    summary="Vouch for a number: it gets proxies from the trusted pool",
    description="Any volunteer or coordinator may vouch; each vouch is audited.",
)
def proxies_vouch(request: HttpRequest, payload: VouchIn):
    try:
        e164 = phones.normalize(payload.phone)
    except phones.InvalidPhone as exc:
        raise InputError({"phone": str(exc)}) from None
    new = proxy_vouch(key_for_number(e164), actor=actor_label(request.auth), request=request)
    return Status(200, {"vouched": new, "phone": phones.masked(e164)})
