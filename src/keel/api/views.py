"""The API keys settings page: list, create (the key is shown once), revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from keel.accounts.models import User
from keel.web.forms import ALREADY_CREATED

from . import keys, services
from .forms import KeyForm

TEMPLATE = "api/keys.html"


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _page(
    request: HttpRequest,
    form: KeyForm,
    *,
    new_key: object = None,
    plaintext: str | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "keys": services.list_keys(_user(request)),
        "form": form,
        "new_key": new_key,
        "new_key_plaintext": plaintext,
    }
    return render(request, TEMPLATE, context, status=status)


@login_required
@require_GET
@never_cache
def key_list(request: HttpRequest) -> HttpResponse:
    return _page(request, KeyForm())


@login_required
@require_POST
@never_cache  # the response carries the plaintext key: no cache may keep it
def key_create(request: HttpRequest) -> HttpResponse:
    form = KeyForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    once = f"api-key:{request.user.pk}"
    if not form.claim(once):
        # The browser re-sent the form (a reload): the key exists and is never shown again.
        messages.info(request, ALREADY_CREATED)
        return redirect("api_keys:list")
    try:
        with form.given_back_on_error(once):
            key, plaintext = services.create_key(
                _user(request),
                form.cleaned_data["name"],
                form.cleaned_data["scopes"],
                expires_at=form.expires_at(timezone.now()),
            )
    except keys.ApiKeyError as exc:
        field = (exc.field or "").split(".")[0]
        form.add_error(field if field in form.fields else None, exc.message)
        return _page(request, form, status=400)
    # Rendered, not redirected: a redirect would need the plaintext parked in the session
    # (a database row) to show it on the next page.
    return _page(request, KeyForm(), new_key=key, plaintext=plaintext)


@login_required
@require_http_methods(["GET", "POST"])
def key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    try:
        key = services.get_key(_user(request), key_id)
    except services.ApiKeyNotFound:
        raise Http404("no such key") from None
    if request.method == "POST":
        services.revoke_key(_user(request), key_id)
        messages.success(request, f"Key “{key.name}” (keel_{key.prefix}_…) is revoked.")
        return redirect("api_keys:list")
    return render(request, "api/keys_revoke.html", {"key": key})
