from __future__ import annotations

from typing import Any

import django_otp
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.signals import user_login_failed
from django.contrib.messages.views import SuccessMessageMixin
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse, reverse_lazy
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.views.generic import FormView, RedirectView, TemplateView, UpdateView

from keel.audit import services as audit

from . import limits, mail, notices, two_factor
from .forms import (
    KeelPasswordChangeForm,
    KeelPasswordResetForm,
    KeelSetPasswordForm,
    LoginForm,
    SettingsForm,
    SignupForm,
    TwoFactorCodeForm,
)
from .models import User
from .services import (
    SIGNUP_LINK_HOURS,
    AccountSetupError,
    change_home_currency,
    confirm_signup,
    pending_signup,
    request_signup,
)

# Sign-up logs the new person in through the model backend, which is also the backend
# that will load them on later requests. Naming it keeps login() working when another
# backend (rate limiting, single sign-on) is added to AUTHENTICATION_BACKENDS.
_MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


class SignupView(FormView):  # type: ignore[type-arg]
    form_class = SignupForm
    template_name = "accounts/signup.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated:
            return redirect(settings.LOGIN_REDIRECT_URL)
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: SignupForm) -> HttpResponse:
        data = form.cleaned_data
        wait = limits.mail_request_wait(self.request, data["email"])
        if wait:
            form.add_error(None, limits.too_many_mail_requests(wait))
            response = self.form_invalid(form)
            response.status_code = 429
            response["Retry-After"] = str(wait)
            return response
        request_signup(
            email=data["email"],
            name=data["name"],
            home_currency=data["home_currency"],
            role=data["role"],
            password=data["password1"],
            next_url=self._next_url(),
            site=mail.site_url(self.request),
        )
        return redirect("accounts:signup_sent")

    def _next_url(self) -> str:
        # Same rule as LoginView: only follow ?next= to this site.
        target = self.request.POST.get("next") or self.request.GET.get("next", "")
        if target and url_has_allowed_host_and_scheme(
            target,
            allowed_hosts={self.request.get_host()},
            require_https=self.request.is_secure(),
        ):
            return target
        return ""


class SignupSentView(TemplateView):
    """What every sign-up is answered with, for a new address and a taken one alike."""

    template_name = "accounts/signup_sent.html"
    extra_context = {"hours": SIGNUP_LINK_HOURS}


class SignupConfirmView(TemplateView):
    """The link from the sign-up email. Opening it shows a button; the account is created
    by the POST, so a mail scanner that fetches every link in a message creates nothing."""

    template_name = "accounts/signup_confirm.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated:
            return redirect(settings.LOGIN_REDIRECT_URL)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        pending = pending_signup(kwargs["token"])
        return self.render_to_response(
            {"pending": pending, "hours": SIGNUP_LINK_HOURS},
            status=200 if pending else 404,
        )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            user, next_url = confirm_signup(kwargs["token"])
        except AccountSetupError as refused:
            return self.render_to_response(
                {"pending": None, "refused": str(refused), "hours": SIGNUP_LINK_HOURS},
                status=404,
            )
        # Opening the link proves the address; the password was chosen at sign-up.
        login(request, user, backend=_MODEL_BACKEND)
        messages.success(request, f"Welcome to Keel, {user.get_short_name()}.")
        return HttpResponseRedirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))


class LoginView(auth_views.LoginView):
    """The password step. Someone with two-factor sign-in on is not logged in here: the
    session remembers whose password was right and the code step logs them in."""

    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        assert isinstance(user, User)
        if not two_factor.is_enabled(user):
            return super().form_valid(form)
        two_factor.begin_pending_login(self.request, user, self.get_redirect_url())
        return HttpResponseRedirect(reverse("accounts:login_verify"))


class LoginVerifyView(FormView):  # type: ignore[type-arg]
    """The code step of a log-in: a code from the authenticator app or a backup code.

    Wrong codes count towards the same lock-out as wrong passwords (django-axes, per email
    address and IP address), on top of django-otp's own back-off per device, so six digits
    cannot be guessed by trying them."""

    form_class = TwoFactorCodeForm
    template_name = "accounts/login_verify.html"
    pending: two_factor.PendingLogin

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        pending = two_factor.pending_login(request)
        if pending is None:
            messages.info(request, "Log in with your email address and password first.")
            return redirect("accounts:login")
        self.pending = pending
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: TwoFactorCodeForm) -> HttpResponse:
        request = self.request
        user = self.pending.user
        credentials = {settings.AXES_USERNAME_FORM_FIELD: user.email}
        if not AxesProxyHandler.is_allowed(request, credentials):
            return limits.locked_out(request, None, credentials)
        try:
            device = two_factor.verify_code(user, form.cleaned_data["code"])
        except two_factor.TwoFactorError as refused:
            if refused.counts:
                # django-axes counts this like a wrong password; at the limit its middleware
                # answers with the lock-out page instead of this form.
                user_login_failed.send(sender=__name__, credentials=credentials, request=request)
            form.add_error("code", str(refused))
            return self.form_invalid(form)
        two_factor.clear_pending_login(request)
        login(request, user, backend=self.pending.backend)
        django_otp.login(request, device)
        return HttpResponseRedirect(
            self.pending.next_url or resolve_url(settings.LOGIN_REDIRECT_URL)
        )


class AdminLoginRedirectView(RedirectView):
    """The admin's own log-in form knows nothing of two-factor codes: send operators through
    Keel's log-in, then back to where the admin wanted them."""

    def get_redirect_url(self, *args: Any, **kwargs: Any) -> str:
        target = self.request.GET.get("next") or reverse("admin:index")
        return f"{reverse('accounts:login')}?{urlencode({'next': target})}"


class LogoutView(auth_views.LogoutView):
    """Log out on POST only (Django refuses GET), with a message on the page that follows."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You have logged out.")
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = KeelPasswordChangeForm
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change_done")

    def form_valid(self, form: KeelPasswordChangeForm) -> HttpResponse:
        # One transaction: a password that did not change leaves no event saying it did.
        with transaction.atomic():
            response = super().form_valid(form)
            user = form.user
            audit.record(
                "password.changed", actor=user, request=self.request, subject=f"user:{user.pk}"
            )
            notices.notify(user, notices.Change.PASSWORD_CHANGED, request=self.request)
        return response


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"


def reset_lifetime() -> str:
    """How long a reset link works, in words ("1 hour", "30 minutes")."""
    seconds = settings.PASSWORD_RESET_TIMEOUT
    count, unit = (
        (seconds // 3600, "hour") if seconds % 3600 == 0 else (-(-seconds // 60), "minute")
    )
    return f"{count} {unit}{'' if count == 1 else 's'}"


class ResetLifetimeMixin:
    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)  # type: ignore[misc]
        context["reset_hours"] = reset_lifetime()
        return context


class PasswordResetView(ResetLifetimeMixin, auth_views.PasswordResetView):
    """Forgot your password: the same answer whether or not the address has an account."""

    form_class = KeelPasswordResetForm
    template_name = "accounts/password_reset.html"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    email_template_name = "accounts/email/password_reset.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    @property
    def extra_email_context(self) -> dict[str, Any]:
        return {"reset_hours": reset_lifetime()}

    def form_valid(self, form: KeelPasswordResetForm) -> HttpResponse:
        wait = limits.mail_request_wait(self.request, form.cleaned_data["email"])
        if wait:
            form.add_error(None, limits.too_many_mail_requests(wait))
            response = self.form_invalid(form)
            response.status_code = 429
            response["Retry-After"] = str(wait)
            return response
        return super().form_valid(form)


class PasswordResetDoneView(ResetLifetimeMixin, auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_sent.html"


class PasswordResetConfirmView(ResetLifetimeMixin, auth_views.PasswordResetConfirmView):
    form_class = KeelSetPasswordForm
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")
    # A reset link only sets the password. Whoever holds it (perhaps someone who got into
    # the person's mailbox) still logs in through LoginView, where two-factor sign-in asks
    # for the code.
    post_reset_login = False

    def form_valid(self, form: KeelSetPasswordForm) -> HttpResponse:
        # One transaction: a password that did not change leaves no event saying it did.
        with transaction.atomic():
            response = super().form_valid(form)
            user = form.user
            audit.record(
                "password.reset", actor=user, request=self.request, subject=f"user:{user.pk}"
            )
            notices.notify(user, notices.Change.PASSWORD_RESET, request=self.request)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


class SettingsView(LoginRequiredMixin, SuccessMessageMixin, UpdateView):  # type: ignore[type-arg]
    form_class = SettingsForm
    template_name = "accounts/settings.html"
    success_url = reverse_lazy("accounts:settings")
    success_message = "Your settings are saved."

    def get_object(self, queryset: Any = None) -> User:
        user = self.request.user
        assert isinstance(user, User)  # LoginRequiredMixin has let only people through
        return user

    def form_valid(self, form: SettingsForm) -> HttpResponse:
        user = self.get_object()
        kept = User.objects.values_list("home_currency", flat=True).get(pk=user.pk)
        try:
            change_home_currency(user, form.cleaned_data["home_currency"])
        except AccountSetupError as exc:
            user.home_currency = kept  # the form set it on the signed-in person
            form.add_error("home_currency", str(exc))
            return self.form_invalid(form)
        return super().form_valid(form)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.get_object()
        context["two_factor_enabled"] = user.two_factor_enabled
        context["two_factor_encouragement"] = (
            [] if user.two_factor_enabled else two_factor.encouragement(user)
        )
        return context


class TwoFactorView(LoginRequiredMixin, TemplateView):
    """Two-factor sign-in on the settings side: its state, the QR code and secret while it is
    being turned on, and the forms that need a current code (turning it off, new backup
    codes)."""

    template_name = "accounts/two_factor.html"

    @property
    def person(self) -> User:
        user = self.request.user
        assert isinstance(user, User)  # LoginRequiredMixin has let only people through
        return user

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.person
        enabled = two_factor.is_enabled(user)
        pending = None if enabled else two_factor.pending_setup(user)
        context.update(
            enabled=enabled,
            encouragement=two_factor.encouragement(user),
            backup_codes_left=two_factor.backup_codes_left(user) if enabled else 0,
            pending=pending is not None,
        )
        context.setdefault("confirm_form", TwoFactorCodeForm(prefix="confirm", backup=False))
        context.setdefault("disable_form", TwoFactorCodeForm(prefix="disable"))
        context.setdefault("codes_form", TwoFactorCodeForm(prefix="codes"))
        if pending is not None:
            # Drawn by qrcode from the device's own otpauth:// URI: no user input reaches it.
            context["qr_svg"] = mark_safe(two_factor.provisioning_svg(pending))  # noqa: S308
            context["secret"] = two_factor.secret_text(pending)
        return context

    def page_with(self, **forms: TwoFactorCodeForm) -> HttpResponse:
        return self.render_to_response(self.get_context_data(**forms))

    def backup_codes_page(self, codes: list[str], heading: str) -> HttpResponse:
        response = render(
            self.request,
            "accounts/two_factor_backup_codes.html",
            {"codes": codes, "heading": heading},
        )
        # Shown once: no browser or proxy may keep a copy.
        add_never_cache_headers(response)
        return response


class TwoFactorSetupView(TwoFactorView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            two_factor.start_setup(self.person)
        except two_factor.TwoFactorError as refused:
            messages.error(request, str(refused))
        return redirect("accounts:two_factor")


class TwoFactorConfirmView(TwoFactorView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = TwoFactorCodeForm(request.POST, prefix="confirm", backup=False)
        if not form.is_valid():
            return self.page_with(confirm_form=form)
        try:
            device, codes = two_factor.confirm_setup(self.person, form.cleaned_data["code"])
        except two_factor.TwoFactorError as refused:
            if refused.field is None:
                messages.error(request, str(refused))
                return redirect("accounts:two_factor")
            form.add_error("code", str(refused))
            return self.page_with(confirm_form=form)
        # This session has just shown a code; other open sessions must now show theirs.
        django_otp.login(request, device)
        return self.backup_codes_page(codes, "Two-factor sign-in is on")


class TwoFactorDisableView(TwoFactorView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = TwoFactorCodeForm(request.POST, prefix="disable")
        if form.is_valid():
            try:
                two_factor.turn_off(self.person, form.cleaned_data["code"], request=request)
            except two_factor.TwoFactorError as refused:
                form.add_error("code", str(refused))
            else:
                messages.success(
                    request, "Two-factor sign-in is off. Your backup codes no longer work."
                )
                return redirect("accounts:two_factor")
        return self.page_with(disable_form=form)


class BackupCodesView(TwoFactorView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = TwoFactorCodeForm(request.POST, prefix="codes")
        if form.is_valid():
            try:
                device, codes = two_factor.replace_backup_codes(
                    self.person, form.cleaned_data["code"]
                )
            except two_factor.TwoFactorError as refused:
                form.add_error("code", str(refused))
            else:
                # The session may have been verified by a backup code whose device is gone.
                django_otp.login(request, device)
                return self.backup_codes_page(codes, "New backup codes")
        return self.page_with(codes_form=form)
