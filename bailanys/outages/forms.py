"""The coordinator's form for posting state changes to a Telegram channel."""

from django import forms
from django.utils.translation import gettext_lazy as _

from bailanys.outages.announce import CHAT


class AnnounceForm(forms.Form):
    chat = forms.CharField(
        label=_("Telegram channel"),
        help_text=_(
            'Its public name, e.g. "@kz_status", or its numeric id ("-100…"). '
            "Add the bot to the channel as an administrator first."
        ),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    language = forms.ChoiceField(
        label=_("Language of the posts"),
        choices=[("ru", "Русский"), ("kk", "Қазақша"), ("en", "English")],
    )
    on = forms.BooleanField(label=_("Post state changes"), required=False)
    rehearsals = forms.BooleanField(
        label=_("Post changes from a replayed timeline (a rehearsal) too"), required=False
    )

    def clean_chat(self) -> str:
        chat = self.cleaned_data["chat"].strip()
        if chat and not CHAT.match(chat):
            raise forms.ValidationError(
                _(
                    'Not a Telegram channel: a name like "@kz_status" or a number like '
                    '"-1001234567890".'
                )
            )
        return chat

    def clean(self):
        data = super().clean()
        if data.get("on") and not data.get("chat") and "chat" not in self.errors:
            self.add_error("chat", _("Name the channel to post to."))
        return data
