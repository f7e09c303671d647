"""Which clock a page's times are on, said once per page.

The server shows times in settings.TIME_ZONE (Almaty), whatever zone the reader or the
machine is in: "23:26" alone reads as the reader's own time. Pages that show times end
with `{% times_are %}`: "Times are Almaty time (UTC+5)."
"""

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

register = template.Library()

# The zones Kazakhstan uses, as a reader names them; any other zone by its city.
ZONE_NAMES = {
    "Asia/Almaty": gettext_lazy("Almaty"),
}


def zone_name(key: str) -> str:
    return str(ZONE_NAMES.get(key) or key.rsplit("/", 1)[-1].replace("_", " "))


def utc_offset(now: datetime) -> str:
    """ "UTC+5", "UTC+5:30", "UTC-3", "UTC"."""
    minutes = int(now.utcoffset().total_seconds() // 60)
    if not minutes:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


@register.simple_tag
def times_are() -> str:
    zone = timezone.get_current_timezone()
    key = getattr(zone, "key", str(zone))
    offset = utc_offset(timezone.localtime())
    if key in ("UTC", "Etc/UTC") or (offset == "UTC" and key.startswith("Etc/")):
        text = _("Times are UTC.")
    else:
        text = _("Times are %(zone)s time (%(offset)s).") % {
            "zone": zone_name(key),
            "offset": offset,
        }
    return format_html('<p class="times-are"><small>{}</small></p>', text)
