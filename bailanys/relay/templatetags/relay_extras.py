from datetime import timedelta

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def duration_short(value: timedelta) -> str:
    """A wait as a person says it: "2 h 05 min", "12 min", "40 s"."""
    seconds = max(int(value.total_seconds()), 0)
    if seconds < 60:
        return _("%(s)d s") % {"s": seconds}
    minutes = seconds // 60
    if minutes < 60:
        return _("%(m)d min") % {"m": minutes}
    return _("%(h)d h %(m)02d min") % {"h": minutes // 60, "m": minutes % 60}


@register.simple_tag
def counter_attrs(limit: int, cut: bool = False) -> str:
    """A long text field's live count (bailanys/counter.js): its attributes, escaped."""
    from django.forms.utils import flatatt

    from bailanys.relay.forms import counter_attrs as attrs

    return flatatt(attrs(int(limit), cut=cut))
