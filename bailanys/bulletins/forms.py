"""The coordinator's bulletin form: a text per language, the source, regions, the expiry.

The form only reads what was typed; the rules (one text at least, a source, cities the
gazetteer knows, an expiry in the future) are bailanys.bulletins.services', whose errors
the view puts next to these fields.
"""

from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bailanys.bulletins.models import LANGUAGES
from bailanys.bulletins.services import DEFAULT_HOURS, MAX_SOURCE, MAX_TEXT
from bailanys.relay.services.inputs import clean_text

LANGUAGE_LABELS = {
    "ru": _("Text in Russian"),
    "kk": _("Text in Kazakh"),
    "en": _("Text in English"),
}
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def default_expiry():
    return timezone.localtime() + timedelta(hours=DEFAULT_HOURS)


class BulletinForm(forms.Form):
    text_ru = forms.CharField(required=False)
    text_kk = forms.CharField(required=False)
    text_en = forms.CharField(required=False)
    source = forms.CharField(
        label=_("Source"),
        required=False,
        help_text=_('Who said it, with a link, or "seen by our volunteer at …".'),
        widget=forms.TextInput(attrs={"maxlength": MAX_SOURCE, "autocomplete": "off"}),
    )
    official = forms.BooleanField(
        label=_("Official message, relayed as received"),
        required=False,
        help_text=_("A state SMS or an akimat post seen elsewhere, copied word for word."),
    )
    regions = forms.CharField(
        label=_("Regions"),
        required=False,
        help_text=_("City names, separated by commas. Empty: the whole country."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    expires_at = forms.DateTimeField(
        label=_("Expires"),
        input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    corrects = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, parts_url: str = "", **kwargs):
        kwargs.setdefault("initial", {}).setdefault("expires_at", default_expiry())
        super().__init__(*args, **kwargs)
        for language in LANGUAGES:
            field = self.fields[f"text_{language}"]
            field.label = LANGUAGE_LABELS[language]
            attrs = {"rows": 4, "maxlength": MAX_TEXT, "lang": language}
            if parts_url:
                # The SMS parts of each version, counted by the server as the coordinator types.
                attrs.update(
                    {
                        "hx-post": parts_url,
                        "hx-trigger": "keyup changed delay:300ms",
                        "hx-target": "#parts",
                        "hx-swap": "outerHTML",
                        "hx-include": "closest form",
                    }
                )
            field.widget = forms.Textarea(attrs=attrs)

    def texts(self) -> dict[str, str]:
        data = self.cleaned_data
        return {
            language: clean_text(data.get(f"text_{language}"), multiline=True)
            for language in LANGUAGES
            if clean_text(data.get(f"text_{language}"))
        }

    def regions_list(self) -> list[str]:
        raw = clean_text(self.cleaned_data.get("regions"))
        return [name.strip() for name in raw.split(",") if name.strip()]

    def source_text(self) -> str:
        return clean_text(self.cleaned_data.get("source"))
