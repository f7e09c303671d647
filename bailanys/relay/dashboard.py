"""The coordinator's dashboard: the whole load in counts and charts, no personal data.

Everything here is a count, a duration or a volunteer's username, so reading it
is not audited (it refreshes itself every few seconds); the pages that show a
person's data are. Each figure is one aggregate query, so the dashboard costs
the same with ten cases or a hundred thousand.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import TruncHour
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from bailanys.accounts.models import User
from bailanys.outbox.models import OutboxMessage
from bailanys.relay import charts
from bailanys.relay.models import (
    OPEN_STATES,
    Attempt,
    Case,
    CaseState,
    Claim,
    Kind,
    Outcome,
    Request,
    VolunteerProfile,
)
from bailanys.relay.services import require_coordinator

HOURS = 24
LOAD_ROWS = 12

# How outcomes are grouped per hour: what the requester hears, roughly.
OUTCOME_GROUPS = {
    Outcome.REACHED: "done",
    Outcome.DELIVERED: "done",
    Outcome.NO_ANSWER: "retry",
    Outcome.BUSY: "retry",
    Outcome.SWITCHED_OFF: "retry",
    Outcome.WRONG_NUMBER: "ended",
    Outcome.REFUSED: "ended",
    Outcome.ESCALATE: "escalated",
}


@dataclass(frozen=True)
class Dashboard:
    counts: dict[str, int]
    oldest_wait: timedelta | None
    median_wait: timedelta | None
    volunteers_active: int
    volunteers_holding: int
    attention: list[tuple[str, int, str]]  # (label, count, link name)
    channels: list[dict]
    gateways: list[dict]
    states_chart: SafeString
    kinds_chart: SafeString
    requests_chart: SafeString
    outcomes_chart: SafeString
    load_chart: SafeString
    generated_at: datetime


def _hours(now: datetime) -> list[datetime]:
    """The last HOURS whole hours in local time, oldest first, this hour last."""
    this_hour = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    return [this_hour - timedelta(hours=n) for n in range(HOURS - 1, -1, -1)]


def _per_hour(queryset, field: str, hours: list[datetime], group=None) -> dict:
    """{hour: {group: count}} over the hours, from one GROUP BY query."""
    rows = (
        queryset.filter(**{f"{field}__gte": hours[0]})
        .annotate(hour=TruncHour(field))
        .values("hour", *([group] if group else []))
        .annotate(n=Count("pk"))
        .order_by()
    )
    out: dict = {hour: {} for hour in hours}
    for row in rows:
        hour = timezone.localtime(row["hour"])
        key = OUTCOME_GROUPS.get(row[group], "ended") if group else "requests"
        if hour in out:
            out[hour][key] = out[hour].get(key, 0) + row["n"]
    return out


def _waits(now: datetime) -> tuple[timedelta | None, timedelta | None]:
    """How long the oldest waiting case has waited, and the median wait of all waiting."""
    waiting = Case.objects.filter(state=CaseState.QUEUED, available_at__lte=now).order_by(
        "created_at"
    )
    count = waiting.count()
    if not count:
        return None, None
    oldest = waiting.values_list("created_at", flat=True).first()
    middle = waiting.values_list("created_at", flat=True)[count // 2]
    return now - oldest, now - middle


def _channels(now: datetime) -> list[dict]:
    """The outbox per channel: what waits, what failed today, what went out in the last hour."""
    day = now - timedelta(hours=24)
    hour = now - timedelta(hours=1)
    pending = (OutboxMessage.State.PENDING, OutboxMessage.State.SENDING)
    rows = (
        OutboxMessage.objects.filter(Q(state__in=pending) | Q(created_at__gte=day))
        .values("channel")
        .annotate(
            waiting=Count("pk", filter=Q(state__in=pending)),
            failed=Count("pk", filter=Q(state=OutboxMessage.State.FAILED, created_at__gte=day)),
            sent=Count("pk", filter=Q(state=OutboxMessage.State.SENT, sent_at__gte=hour)),
        )
        .order_by("channel")
    )
    return [{**row, "ok": not row["failed"] or row["sent"] > 0} for row in rows]


def dashboard(*, coordinator: User, gateways: list[dict] = ()) -> Dashboard:
    """Coordinators only: anyone else is told nothing exists (NotYourClaim).

    `gateways` are the SMS gateways' health rows, which the caller reads from the SMS
    channel (the relay core knows no channel).
    """
    from bailanys.parsing.models import ParsedPost
    from bailanys.relay.credit import credits_low

    require_coordinator(coordinator, 0)
    now = timezone.now()
    by_state = dict(Case.objects.values_list("state").annotate(n=Count("pk")).order_by())
    counts = {state.value: by_state.get(state.value, 0) for state in CaseState}
    counts["waiting"] = Case.objects.filter(state=CaseState.QUEUED, available_at__lte=now).count()
    counts["later"] = counts[CaseState.QUEUED] - counts["waiting"]

    first_kind = Subquery(
        Request.objects.filter(case=OuterRef("pk")).order_by("created_at").values("kind")[:1]
    )
    by_kind = dict(
        Case.objects.filter(state__in=OPEN_STATES)
        .annotate(kind=first_kind)
        .values_list("kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
    hours = _hours(now)
    requests = _per_hour(Request.objects.all(), "created_at", hours)
    outcomes = _per_hour(Attempt.objects.all(), "created_at", hours, group="outcome")
    label = [timezone.localtime(hour).strftime("%H") for hour in hours]

    since = now - timedelta(hours=24)
    load = list(
        Attempt.objects.filter(created_at__gte=since, volunteer__isnull=False)
        .values_list("volunteer__username")
        .annotate(n=Count("pk"))
        .order_by("-n", "volunteer__username")[:LOAD_ROWS]
    )
    holding = Claim.objects.filter(ended_at__isnull=True).count()
    active = (
        User.objects.filter(is_active=True)
        .filter(
            Q(claims__started_at__gte=now - timedelta(hours=1)) | Q(claims__ended_at__isnull=True)
        )
        .distinct()
        .count()
    )
    oldest, median = _waits(now)
    labels = {"ok": _("Working"), "stale": _("Not heard from"), "off": _("Switched off")}
    attention = [
        (_("Escalated to coordinators"), counts[CaseState.ESCALATED], "relay:coordinator"),
        (
            _("Flagged as possible scams"),
            Case.objects.filter(state__in=OPEN_STATES).exclude(flag="").count(),
            "relay:coordinator",
        ),
        (
            _("Posts waiting for review"),
            ParsedPost.objects.filter(state=ParsedPost.State.REVIEW).count(),
            "parsing:review_queue",
        ),
        (
            _("Volunteers who asked to talk"),
            VolunteerProfile.objects.filter(needs_talk_at__isnull=False).count(),
            "relay:coordinator",
        ),
        (
            _("Requesters we could not tell by SMS"),
            OutboxMessage.objects.filter(
                channel="sms", state=OutboxMessage.State.FAILED, request__isnull=False
            ).count(),
            "relay:coordinator",
        ),
        (
            _("Volunteers low on phone credit"),
            len(credits_low(coordinator=coordinator).volunteers),
            "relay:coordinator",
        ),
    ]
    return Dashboard(
        counts=counts,
        oldest_wait=oldest,
        median_wait=median,
        volunteers_active=active,
        volunteers_holding=holding,
        attention=attention,
        channels=_channels(now),
        gateways=[{**g, "state_label": labels[g["state"]]} for g in gateways],
        states_chart=charts.bars(
            "states",
            _("Cases by state"),
            [(state.label, counts[state.value]) for state in CaseState],
        ),
        kinds_chart=charts.bars(
            "kinds",
            _("Open cases by kind"),
            [(kind.label, by_kind.get(kind.value, 0)) for kind in Kind],
            css="kind",
        ),
        requests_chart=charts.columns(
            "requests",
            _("Requests per hour, last 24 hours"),
            [(label[i], requests[hour]) for i, hour in enumerate(hours)],
            [charts.Series("requests", _("Requests"))],
        ),
        outcomes_chart=charts.columns(
            "outcomes",
            _("Outcomes per hour, last 24 hours"),
            [(label[i], outcomes[hour]) for i, hour in enumerate(hours)],
            [
                charts.Series("done", _("Reached or passed on")),
                charts.Series("retry", _("No answer: retry")),
                charts.Series("ended", _("Wrong number or refused")),
                charts.Series("escalated", _("To a coordinator")),
            ],
        ),
        load_chart=charts.bars("load", _("Calls per volunteer, last 24 hours"), load, css="load"),
        generated_at=now,
    )
