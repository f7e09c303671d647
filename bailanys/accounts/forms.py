from django import forms
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _

from bailanys.accounts import selectors
from bailanys.accounts.models import INVITABLE_ROLES, AccountState, Role, User


class LoginForm(AuthenticationForm):
    """Django's login form, saying why a right password was still refused.

    Axes counts every failed attempt, these included, and while a login is
    locked nothing is looked up at all.
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        "pending": _(
            "Your account is waiting for a coordinator's approval. You can log in as soon as "
            "a coordinator approves it."
        ),
        "suspended": _(
            "This account has been suspended. Ask a coordinator if you think this is a mistake."
        ),
    }

    @property
    def refusal(self) -> str:
        """The reason a right password was refused (pending, suspended), or ''."""
        for code in (AccountState.PENDING, AccountState.SUSPENDED):
            if self.has_error(NON_FIELD_ERRORS, code):
                return str(self.error_messages[code])
        return ""

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            self.user_cache = authenticate(self.request, username=username, password=password)
            if self.user_cache is None:
                if not getattr(self.request, "axes_locked_out", False):
                    state = selectors.account_state_for_login(username=username, password=password)
                    if state in (AccountState.PENDING, AccountState.SUSPENDED):
                        raise ValidationError(self.error_messages[state], code=state)
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class JoinForm(forms.Form):
    """Sign up with an invitation: a username and a password typed twice."""

    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        help_text=_("Letters, digits and @ . + - _ only. Not your real name if you prefer."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password1"].help_text = _(
            "At least %(n)d characters, and not a password many people use."
        ) % {"n": _min_length()}

    def clean_username(self) -> str:
        username = User.normalize_username(self.cleaned_data["username"])
        User.username_validator(username)
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError(_("That username is taken. Choose another."), code="taken")
        return username

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords are not the same."))
        elif first:
            candidate = User(username=cleaned.get("username", ""))
            try:
                password_validation.validate_password(first, candidate)
            except ValidationError as exc:
                for error in exc.error_list:
                    self.add_error("password1", _in_our_words(error))
        return cleaned


def _min_length() -> int:
    validators = password_validation.get_default_password_validators()
    return next((v.min_length for v in validators if hasattr(v, "min_length")), 0)


def _in_our_words(error: ValidationError) -> ValidationError:
    """Django has no Kazakh for its password validators: the two we use, in ours."""
    if error.code == "password_too_short":
        message = _("Too short: at least %(n)d characters.") % {"n": error.params["min_length"]}
    elif error.code == "password_too_common":
        message = _("Many people use this password. Choose another.")
    else:
        return error
    return ValidationError(message, code=error.code)


class InvitationForm(forms.Form):
    role = forms.ChoiceField(
        label=_("Role"),
        choices=[(r.value, r.label) for r in Role if r in INVITABLE_ROLES],
        initial=Role.VOLUNTEER,
    )


class CodeForm(forms.Form):
    """A six-digit code from an authenticator app."""

    code = forms.RegexField(
        label=_("Code from the app"),
        regex=r"^\s*\d{6,8}\s*$",
        error_messages={"invalid": _("Type the 6 digits the app shows.")},
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": "8"}
        ),
    )

    def clean_code(self) -> str:
        return self.cleaned_data["code"].strip()
