"""The shutdown's state as JSON: the same grid as the /status/ page (docs/status.md)."""

from datetime import UTC, datetime

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from bailanys.outages.services import grid
from bailanys.relay.api import COMMON
from bailanys.relay.services import InputError

router = Router(tags=["status"])


class Evidence(Schema):
    source: str | None = Field(None, description="ioda, ooni, radar or bailanys (our own)")
    metric: str | None = Field(None, description="bgp, ping-slash24, event, telegram, sms…")
    figure: float | None = Field(None, description="The figure now")
    baseline: float | None = Field(None, description="What it usually is (or out of how many)")
    at: str | None = Field(None, description="When the figure was measured")
    link: str | None = Field(None, description="Where to see it at the source")
    note: str | None = None


class ChannelState(Schema):
    state: str = Field(description="up, degraded, down, blocked or unknown")
    since: datetime | None = Field(description="When it turned so (null: never known)")
    confidence: int = Field(description="0-100")
    evidence: list[Evidence]


class EntityState(Schema):
    entity: str = Field(description='"country/KZ", "region/<IODA code>" or "asn/<number>"')
    name: str
    kind: str = Field(description="country, region or asn")
    channels: dict[str, ChannelState] = Field(
        description="internet, telegram, whatsapp, signal, sms, voice"
    )


class StatusGrid(Schema):
    generated_at: datetime
    at: datetime | None = Field(None, description="The past moment asked for, if any")
    entities: list[EntityState]


def grid_json(at: datetime | None = None) -> dict:
    return {
        "generated_at": timezone.now(),
        "at": at,
        "entities": [
            {
                "entity": entity.key,
                "name": entity.name,
                "kind": entity.kind,
                "channels": {
                    channel: {
                        "state": view.state,
                        "since": view.since,
                        "confidence": view.confidence,
                        "evidence": view.evidence,
                    }
                    for channel, view in channels.items()
                },
            }
            for entity, channels in grid(at)
        ],
    }


@router.get(
    "/status",
    response={200: StatusGrid, **COMMON},
    summary="What works where: the shutdown's state (public)",
    description="Each entity (the country, its regions, its networks) with the state of "
    "each channel, since when, and the evidence. With `at`, the states as the timeline had "
    "them then.",
)
def status(
    request: HttpRequest,
    at: str | None = Query(
        None,
        max_length=40,
        description="A past moment, ISO 8601 (UTC when no zone is given)",
        format="date-time",
    ),
):
    moment = None
    if at is not None:
        try:
            moment = datetime.fromisoformat(at.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InputError({"at": _("Not a date and time we can read.")}) from None
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=UTC)
    return grid_json(moment)
