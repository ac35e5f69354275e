from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.messages.views import SuccessMessageMixin
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, resolve_url
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.generic import FormView, UpdateView

from .forms import KeelPasswordChangeForm, LoginForm, SettingsForm, SignupForm
from .models import User

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
        user = form.save()
        login(self.request, user, backend=_MODEL_BACKEND)
        messages.success(self.request, f"Welcome to Keel, {user.get_short_name()}.")
        return HttpResponseRedirect(self._next_url())

    def _next_url(self) -> str:
        # Same rule as LoginView: only follow ?next= to this site.
        target = self.request.POST.get("next") or self.request.GET.get("next", "")
        if target and url_has_allowed_host_and_scheme(
            target,
            allowed_hosts={self.request.get_host()},
            require_https=self.request.is_secure(),
        ):
            return target
        return resolve_url(settings.LOGIN_REDIRECT_URL)


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


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


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"


class SettingsView(LoginRequiredMixin, SuccessMessageMixin, UpdateView):  # type: ignore[type-arg]
    form_class = SettingsForm
    template_name = "accounts/settings.html"
    success_url = reverse_lazy("accounts:settings")
    success_message = "Your settings are saved."

    def get_object(self, queryset: Any = None) -> User:
        user = self.request.user
        assert isinstance(user, User)  # LoginRequiredMixin has let only people through
        return user
