"""The timeline of the /status/ page as inline SVG, drawn on the server (no script, no
library, nothing from another host). Colours come from CSS classes in site.css (the
page's Content-Security-Policy allows no inline style); every span also carries its state
as text: a label inside it when it is wide enough, and a <title> always."""

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from bailanys.outages.announce import LOCAL, local_time
from bailanys.outages.models import State
from bailanys.outages.page import Lane

WIDTH = 360
FONT = 12
BAR = 16
GAP = 8
AXIS = 18
CHAR = 7  # px: about the width of a letter at FONT; a span too narrow for its state's
# word keeps it in its title (and the legend) only


def _x(at: datetime, start: datetime, end: datetime) -> float:
    whole = (end - start).total_seconds() or 1
    return round(WIDTH * (at - start).total_seconds() / whole, 1)


def _ticks(start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    """Local midnights (as "5 Jan") over several days; within a day every 1, 3 or 6 hours
    (as "14:00"), so that a few hours have marks too."""
    local = timezone.localtime(start, LOCAL)
    span = end - start
    if span <= timedelta(days=1, hours=1):
        every = 1 if span <= timedelta(hours=6) else 3 if span <= timedelta(hours=13) else 6
        hour = local.replace(minute=0, second=0, microsecond=0)
        hour += timedelta(hours=(every - hour.hour % every) % every)
        found = []
        while hour <= end:
            if hour >= start:
                found.append((hour, date_format(hour, "H:i")))
            hour += timedelta(hours=every)
        return found
    day = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    found = []
    while day <= end:
        found.append((day, date_format(day, "j M")))
        day = (day + timedelta(days=1, hours=2)).replace(hour=0)
    return found


def timeline_svg(lanes: list[Lane], start: datetime, end: datetime) -> SafeString:
    row = FONT + 4 + BAR + GAP
    height = AXIS + len(lanes) * row
    body = [f'<line class="axis" x1="0" y1="{AXIS - 4}" x2="{WIDTH}" y2="{AXIS - 4}"/>']
    for at, label in _ticks(start, end):
        x = _x(at, start, end)
        anchor = "start" if x < 30 else "end" if x > WIDTH - 30 else "middle"
        body.append(
            f'<line class="tick" x1="{x}" y1="{AXIS - 8}" x2="{x}" y2="{height}"/>'
            f'<text x="{x}" y="{FONT}" text-anchor="{anchor}">{escape(label)}</text>'
        )
    for index, lane in enumerate(lanes):
        y = AXIS + index * row
        body.append(f'<text class="lane" x="0" y="{y + FONT}">{escape(lane.label)}</text>')
        for since, until, state in lane.spans:
            x1, x2 = _x(since, start, end), _x(until, start, end)
            label = State(state).label
            title = _("%(state)s, %(from)s to %(to)s") % {
                "state": label,
                "from": local_time(since),
                "to": local_time(until),
            }
            top = y + FONT + 4
            body.append(
                f'<g class="st-{escape(state)}"><title>{escape(title)}</title>'
                f'<rect x="{x1}" y="{top}" width="{max(x2 - x1, 1)}" height="{BAR}"/>'
                + (
                    f'<text x="{x1 + 3}" y="{top + BAR - 4}">{escape(label)}</text>'
                    if x2 - x1 >= CHAR * len(label) + 6
                    else ""
                )
                + "</g>"
            )
    title = _("Timeline from %(from)s to %(to)s (Almaty time)") % {
        "from": local_time(start),
        "to": local_time(end),
    }
    return mark_safe(  # noqa: S308  every text above went through escape()
        f'<svg class="chart timeline" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" font-size="{FONT}"><title>{escape(title)}</title>'
        f"{''.join(body)}</svg>"
    )
