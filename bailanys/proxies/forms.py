"""The console's proxy forms: vouch for a number, release a wave of the reserve."""

from django import forms
from django.utils.translation import gettext_lazy as _

from bailanys import phones
from bailanys.proxies.models import Pool

MAX_WAVE = 10_000


class VouchForm(forms.Form):
    # No max_length: phones.normalize says "too long" itself, as on every phone field.
    phone = forms.CharField(
        label=_("Their phone number"),
        help_text=_("For example 8 701 234 56 78 or +7 701 234 5678"),
        widget=forms.TextInput(
            attrs={
                "inputmode": "tel",
                "autocomplete": "off",
                "maxlength": phones.MAX_INPUT_LENGTH,
            }
        ),
    )

    def clean_phone(self) -> str:
        try:
            return phones.normalize(self.cleaned_data["phone"])
        except phones.InvalidPhone as exc:
            raise forms.ValidationError(str(exc)) from None


class ReleaseForm(forms.Form):
    count = forms.IntegerField(label=_("How many"), min_value=1, max_value=MAX_WAVE, initial=3)
    to = forms.ChoiceField(
        label=_("To the pool"),
        choices=[(Pool.PUBLIC, Pool.PUBLIC.label), (Pool.TRUSTED, Pool.TRUSTED.label)],
        initial=Pool.PUBLIC,
    )
