"""The "Your data" part of the settings: download everything as one archive, or close the
account (``keel.accounts.data_export`` and ``keel.accounts.closing`` do the work)."""

from __future__ import annotations

import tempfile
from typing import Any

from django import forms
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.generic import FormView, TemplateView

from keel.web.forms import BootstrapFormMixin

from . import closing
from .data_export import archive_name, write_archive
from .models import User

# An archive this large stays in memory; a larger one goes to a temporary file, so a
# worker with years of history never holds a worker process's memory.
_SPOOL_BYTES = 16 * 1024 * 1024


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required has let only people through
    return user


@login_required
@require_POST
def download_data(request: HttpRequest) -> FileResponse:
    """The whole archive as a download. POST only: building it reads everything the person
    has, which a link preview or a prefetch must never start."""
    user = _user(request)
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - FileResponse closes it
    write_archive(user, spool)
    spool.seek(0)
    response = FileResponse(
        spool, as_attachment=True, filename=archive_name(user), content_type="application/zip"
    )
    response["Cache-Control"] = "no-store"
    return response


class CloseAccountForm(BootstrapFormMixin, forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    confirmation = forms.CharField(
        label=f"Type “{closing.CONFIRMATION}”",
        help_text="To show that you mean it: closing cannot be undone.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class CloseAccountView(LoginRequiredMixin, FormView):  # type: ignore[type-arg]
    form_class = CloseAccountForm
    template_name = "accounts/close.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("blockers", closing.blockers(_user(self.request)))
        context["confirmation"] = closing.CONFIRMATION
        return context

    def form_valid(self, form: CloseAccountForm) -> HttpResponse:
        try:
            closing.close_account(
                _user(self.request),
                password=form.cleaned_data["password"],
                confirmation=form.cleaned_data["confirmation"],
            )
        except closing.ClosingRefused as exc:
            context = self.get_context_data(form=form, blockers=list(exc.blockers))
            return self.render_to_response(context, status=409)
        except closing.ClosingError as exc:
            form.add_error(exc.field, str(exc))
            return self.form_invalid(form)
        logout(self.request)
        return HttpResponseRedirect(reverse("accounts:closed"))


class ClosedView(TemplateView):
    template_name = "accounts/closed.html"
