from urllib.parse import unquote_to_bytes

from django import forms
from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from bailanys.relay import services
from bailanys.relay.models import LANGUAGE_CHOICES, Kind, Outcome, Resolution

NOT_UTF8 = _("This text was not sent as valid UTF-8. Check it and send it again.")


def form_data(request: HttpRequest) -> tuple[QueryDict | None, set[str]]:
    """A form post's fields, and the names of those whose bytes were not UTF-8.

    Django reads a form forgivingly: bytes that are not UTF-8 become U+FFFD, or, when
    they are not percent-escaped, the whole body is read as Latin-1. An urlencoded
    body (what a browser sends) is read again, strictly, field by field, so a U+FFFD
    the person really sent is text like any other; a bad field keeps its readable
    part, for the form to show again, and bad bytes in a field's name count under "".
    A multipart body cannot be read twice (the CSRF check has read it), but Django
    decodes each of its fields on its own: there a U+FFFD marks the bad bytes.
    None for a request that is no post.
    """
    if request.method != "POST":
        return None, set()
    post = request.POST  # Django's own limits first: field count, charset
    if request.content_type == "multipart/form-data":
        bad = {name for name, values in post.lists() if any("\ufffd" in v for v in values)}
        if bad:
            post = post.copy()
            for name in bad:
                post.setlist(name, [value.replace("\ufffd", "") for value in post.getlist(name)])
        return post, bad
    if request.content_type != "application/x-www-form-urlencoded":
        return post, set()
    data, bad = QueryDict(mutable=True), set()
    for pair in request.body.split(b"&"):
        if not pair:
            continue
        name, _eq, value = (
            unquote_to_bytes(part.replace(b"+", b" ")) for part in pair.partition(b"=")
        )
        try:
            key = name.decode("utf-8")
        except UnicodeDecodeError:
            bad.add("")
            continue
        try:
            data.appendlist(key, value.decode("utf-8"))
        except UnicodeDecodeError:
            bad.add(key)
            data.appendlist(key, value.decode("utf-8", errors="ignore"))
    return (data if bad else post), bad


def counter_attrs(limit: int, *, cut: bool = False) -> dict[str, str]:
    """A long text field's attributes for bailanys/counter.js: a live count under it.

    `cut`: the field keeps a maxlength (the browser stops at the limit), and the count
    says so when it gets there. Otherwise the field takes any length and the count says
    it is too long, as the server will. In the language active now (a request's).
    """
    attrs = {
        "data-counter": str(limit),
        "data-counter-text": gettext("%(count)s of %(limit)s characters"),
        "data-counter-over": gettext(
            "Too long: %(count)s characters, at most %(limit)s. Shorten it before sending."
        ),
    }
    if cut:
        attrs["maxlength"] = str(limit)
        attrs["data-counter-full"] = gettext(
            "%(limit)s characters: the limit. Anything more you type or paste is not kept."
        )
    return attrs


class RequestForm(forms.Form):
    """The public intake form. Validation is the service's, shared with the API."""

    recipient_name = forms.CharField(
        label=_("Name of the person to call"), max_length=services.MAX_NAME
    )
    recipient_phone = forms.CharField(
        label=_("Their phone number"),
        max_length=64,
        help_text=_("For example 8 701 234 56 78 or +7 701 234 5678"),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    recipient_city = forms.CharField(
        label=_("Their city or village"), max_length=services.MAX_CITY, required=False
    )
    recipient_language = forms.ChoiceField(
        label=_("Language they speak"), choices=LANGUAGE_CHOICES, initial="ru"
    )
    kind = forms.ChoiceField(
        label=_("What do you need?"), choices=Kind.choices, initial=Kind.WELFARE_CHECK
    )
    # No max_length: a browser would cut a long paste silently at its maxlength. The
    # service refuses it with the count, and the page shows what was written again.
    message = forms.CharField(
        label=_("Your message for them"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    urgent = forms.BooleanField(label=_("Urgent"), required=False)
    requester_name = forms.CharField(
        label=_("Your name, as they know you"), max_length=services.MAX_NAME
    )
    requester_contact = forms.CharField(
        label=_("How to reach you (optional)"), max_length=services.MAX_CONTACT, required=False
    )
    checkin_pin = forms.CharField(
        label=_("A PIN you agreed with them (optional)"),
        help_text=_("4 to 8 digits. If they text SAFE and this PIN, you know it is them."),
        max_length=8,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def __init__(self, *args, language: str = "en", not_utf8: set[str] = frozenset(), **kwargs):
        """`not_utf8`: the fields whose bytes were not UTF-8 (see `form_data`)."""
        super().__init__(*args, **kwargs)
        self.language = language
        self.not_utf8 = not_utf8
        self.fields["message"].widget.attrs.update(counter_attrs(services.MAX_MESSAGE))
        # The person to call most likely speaks the language the form is read in: a
        # Kazakh form asks for a Kazakh speaker first, a Russian one for a Russian
        # speaker. The English form is read abroad, while the person called is in
        # Kazakhstan, where Russian is the likeliest to be understood: Russian.
        self.fields["recipient_language"].initial = language if language in ("ru", "kk") else "ru"

    def clean(self):
        cleaned = super().clean()
        for name in sorted(self.not_utf8):
            if name in self.fields:
                self.add_error(name, NOT_UTF8)
            elif NOT_UTF8 not in self.non_field_errors():
                self.add_error(None, NOT_UTF8)
        if self.errors:
            return cleaned
        payload = {
            "requester": {
                "name": cleaned.get("requester_name"),
                "language": self.language,
                "contact": cleaned.get("requester_contact"),
            },
            "recipient": {
                "name": cleaned.get("recipient_name"),
                "phone": cleaned.get("recipient_phone"),
                "city": cleaned.get("recipient_city"),
                "language": cleaned.get("recipient_language"),
            },
            "message": cleaned.get("message"),
            "kind": cleaned.get("kind"),
            "urgent": bool(cleaned.get("urgent")),
            "checkin_pin": cleaned.get("checkin_pin"),
        }
        try:
            cleaned["data"] = services.request_check(payload)
        except services.InputError as exc:
            for dotted, reason in exc.errors.items():
                field = dotted.replace(".", "_")
                self.add_error(field if field in self.fields else None, reason)
        return cleaned


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(choices=Outcome.choices)
    reply = forms.CharField(required=False, max_length=services.MAX_REPLY)
    note = forms.CharField(required=False, max_length=services.MAX_NOTE)
    hard = forms.BooleanField(required=False)
    # "sms" when the volunteer texted instead of calling; absent means a call.
    via = forms.CharField(required=False, max_length=20)
    # Checked by the service (shared with the API), so a bad value gets its own message.
    minutes = forms.CharField(required=False, max_length=20)


class RetainForm(forms.Form):
    case_id = forms.IntegerField(label=_("Case number"), min_value=1)
    until = forms.DateField(label=_("Keep until"), widget=forms.DateInput(attrs={"type": "date"}))
    # Required, but the service says so (one message, wherever a reason comes from).
    reason = forms.CharField(label=_("Why"), max_length=services.MAX_NOTE, required=False)


# --- Coordinator tools (relay.coordination) -----------------------------------


class CaseLookupForm(forms.Form):
    case = forms.IntegerField(label=_("Case number"), min_value=1)


class ReassignForm(forms.Form):
    username = forms.CharField(label=_("Reassign to (username)"), max_length=150)


class CloseForm(forms.Form):
    resolution = forms.ChoiceField(
        label=_("Resolution"),
        choices=[(v, label) for v, label in Resolution.choices if v != Resolution.MERGED],
        initial=Resolution.BY_COORDINATOR,
    )
    # Required, but the service says so (one message, wherever a reason comes from).
    reason = forms.CharField(
        label=_("Reason (for the team; requesters are only told the case closed)"),
        max_length=services.MAX_NOTE,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class MergeForm(forms.Form):
    keep_id = forms.IntegerField(label=_("Keep case number"), min_value=1)
    merge_id = forms.IntegerField(label=_("Merge case number into it"), min_value=1)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("keep_id") and cleaned.get("keep_id") == cleaned.get("merge_id"):
            raise forms.ValidationError(_("Choose two different cases."))
        return cleaned


class BroadcastForm(forms.Form):
    # Required and at most 500 characters after cleaning: the service says so.
    text = forms.CharField(
        label=_("Note to every volunteer"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": "500"}),
    )
