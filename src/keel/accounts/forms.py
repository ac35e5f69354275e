"""Sign-up, log-in and settings forms, built on Django's own auth forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import (
    AdminUserCreationForm,
    AuthenticationForm,
    BaseUserCreationForm,
    PasswordChangeForm,
    PasswordResetForm,
    SetPasswordForm,
    UserChangeForm,
)
from django.core.exceptions import ValidationError

from keel.money import CURRENCIES, is_currency
from keel.web.forms import BootstrapFormMixin

from .mail import send_rendered
from .models import Role, User

# The currencies most freelancers on the platforms Keel imports from are paid in. The
# settings form adds the person's current currency if an operator set another one.
COMMON_CURRENCIES = (
    "AUD", "BRL", "CAD", "CHF", "CZK", "DKK", "EUR", "GBP", "HKD", "INR", "JPY", "KES",
    "MXN", "NGN", "NOK", "NZD", "PHP", "PLN", "SEK", "SGD", "USD", "ZAR",
)  # fmt: skip

# What a person can choose to be at sign-up. Pool membership is not self-declared: a
# person becomes a pool member by joining a pool.
SIGNUP_ROLES = (
    (Role.WORKER.value, "I earn as a worker"),
    (Role.PLATFORM_OPERATOR.value, "I operate a platform"),
)


def currency_choices(current: str | None = None) -> list[tuple[str, str]]:
    codes = set(COMMON_CURRENCIES)
    if current and is_currency(current):
        codes.add(current)
    return [(code, f"{code} — {CURRENCIES[code].name}") for code in sorted(codes)]


class UserFieldsMixin:
    """Cleaning shared by every form that edits a person's email or home currency."""

    cleaned_data: dict[str, Any]
    instance: User

    def clean_email(self) -> str:
        # The manager stores addresses in lower case and log-in looks them up that way, so
        # "Ana@Example.com" and "ana@example.com" must be the same person.
        email = str(self.cleaned_data["email"]).strip().lower()
        others = User.objects.filter(email__iexact=email)
        if self.instance.pk is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise ValidationError(
                "An account with this email address already exists. Log in instead, or use"
                " another address.",
                code="unique",
            )
        return email

    def clean_home_currency(self) -> str:
        code = self.cleaned_data["home_currency"]
        if not is_currency(code):
            raise ValidationError(
                "Choose your home currency as an ISO 4217 code, such as USD or EUR.",
                code="invalid_currency",
            )
        return str(code)


class SignupForm(BootstrapFormMixin, UserFieldsMixin, BaseUserCreationForm):  # type: ignore[type-arg]
    role = forms.ChoiceField(
        label="How will you use Keel?",
        choices=SIGNUP_ROLES,
        initial=Role.WORKER.value,
        widget=forms.RadioSelect,
        help_text="Workers see their income, pay themselves a steady salary and receive portable"
        " benefits. Platform operators pay benefit contributions for the people who work"
        " through their platform.",
    )
    home_currency = forms.ChoiceField(
        label="Home currency",
        choices=currency_choices,
        initial="USD",
        help_text="The currency you plan your life in. Income in other currencies is kept as is.",
    )

    field_order = ("name", "email", "home_currency", "role", "password1", "password2")

    class Meta:
        model = User
        fields = ("email", "name", "home_currency")
        labels = {"email": "Email address", "name": "Your name"}
        error_messages = {"name": {"required": "Enter your name, as you would like to be greeted."}}
        widgets = {
            "email": forms.EmailInput(attrs={"autocomplete": "email"}),
            "name": forms.TextInput(attrs={"autocomplete": "name"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # BaseUserCreationForm focuses the username field (email); the form starts at name.
        self.fields["email"].widget.attrs.pop("autofocus", None)
        self.fields["name"].widget.attrs["autofocus"] = True
        self.fields["password2"].label = "Password again"

    def clean_email(self) -> str:
        # Whether the address has an account is not the form's to say: the sign-up answers
        # alike either way and tells only the address itself (services.request_signup).
        return str(self.cleaned_data["email"]).strip().lower()

    def validate_unique(self) -> None:
        # The model's unique email would say it too; confirm_signup checks it again.
        pass

    def save(self, commit: bool = True) -> User:
        raise TypeError("a sign-up creates no one until its email link is opened")


class LoginForm(BootstrapFormMixin, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email address and password do not match an account. Check"
        " both and try again.",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email address"
        self.fields["username"].widget.attrs["autocomplete"] = "email"

    def clean_username(self) -> str:
        # Addresses are stored in lower case (see UserManager); match them that way.
        return str(self.cleaned_data["username"]).strip().lower()


class KeelPasswordChangeForm(BootstrapFormMixin, PasswordChangeForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = "Current password"
        self.fields["new_password2"].label = "New password again"


class KeelPasswordResetForm(BootstrapFormMixin, PasswordResetForm):
    """Asks for the address; emails a reset link only to an open account with a password
    (Django leaves out inactive accounts, so closed ones, and unusable passwords), and the
    page that follows is the same either way."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].label = "Email address"
        self.fields["email"].widget.attrs["autofocus"] = True

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        # Through the task queue, like all of Keel's mail: the page must not take longer
        # for an address that has an account.
        send_rendered(to_email, subject_template_name, email_template_name, context)


class KeelSetPasswordForm(BootstrapFormMixin, SetPasswordForm):  # type: ignore[type-arg]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password2"].label = "New password again"


class SettingsForm(BootstrapFormMixin, UserFieldsMixin, forms.ModelForm):  # type: ignore[type-arg]
    home_currency = forms.ChoiceField(
        label="Home currency",
        help_text=(
            "Keel plans your salary and buffer in this currency. It can change until money"
            " first moves on your books."
        ),
    )

    class Meta:
        model = User
        fields = ("name", "home_currency")
        labels = {"name": "Your name"}
        error_messages = {"name": {"required": "Enter your name, as you would like to be greeted."}}
        widgets = {"name": forms.TextInput(attrs={"autocomplete": "name"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["home_currency"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = currency_choices(self.instance.home_currency)


class AdminUserAddForm(UserFieldsMixin, AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name", "home_currency")


class AdminUserChangeForm(UserFieldsMixin, UserChangeForm):  # type: ignore[type-arg]
    class Meta:
        model = User
        fields = "__all__"


class TwoFactorCodeForm(BootstrapFormMixin, forms.Form):
    """One code: six digits from the authenticator app or, where `backup` allows, a backup
    code. Checking it is the two_factor service's job; this form only takes it in."""

    code = forms.CharField(
        label="Code",
        max_length=32,
        strip=True,
        error_messages={"required": "Enter the code your authenticator app shows."},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"}
        ),
    )

    def __init__(self, *args: Any, backup: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        widget = self.fields["code"].widget
        if backup:
            self.fields[
                "code"
            ].help_text = (
                "The 6-digit code your authenticator app shows, or one of your backup codes."
            )
        else:
            self.fields["code"].help_text = "The 6-digit code your authenticator app shows now."
            widget.attrs["inputmode"] = "numeric"
