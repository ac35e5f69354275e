"""Form helpers every Keel app can use to get Bootstrap-styled, accessible forms."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django import forms
from django.core.cache import cache

# Long enough to cover any reload of the page that sent the form.
ALREADY_CREATED = (
    "That form was already sent: the key it created is in the list below and is not shown"
    " again. Revoke it if you did not keep it."
)
ONCE_TOKEN_SECONDS = 24 * 3600


def _css_class(widget: forms.Widget) -> str:
    if isinstance(widget, forms.CheckboxInput | forms.RadioSelect | forms.CheckboxSelectMultiple):
        return "form-check-input"
    if isinstance(widget, forms.Select | forms.SelectMultiple):
        return "form-select"
    return "form-control"


class BootstrapFormMixin:
    """Gives widgets Bootstrap's classes, and marks fields with errors as invalid so that
    both the red outline and screen readers (aria-invalid) tell people what to fix.

    Mix in before the Django form class: ``class MyForm(BootstrapFormMixin, forms.Form)``.
    """

    fields: dict[str, forms.Field]
    errors: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # form.fields is a per-instance deep copy, so changing widget attrs here never
        # leaks into other forms.
        for field in self.fields.values():
            existing = field.widget.attrs.get("class", "")
            field.widget.attrs["class"] = f"{existing} {_css_class(field.widget)}".strip()

    def full_clean(self) -> None:
        super().full_clean()  # type: ignore[misc]
        for name in self.errors:
            field = self.fields.get(name)
            if field is None:  # non-field errors
                continue
            auto_id = self[name].auto_id  # type: ignore[index]
            # A form may replace a widget after __init__ (a choice shown as a hidden input
            # when there is one option), so the class set above may be gone.
            existing = field.widget.attrs.get("class", "")
            field.widget.attrs["class"] = f"{existing} is-invalid".strip()
            field.widget.attrs["aria-invalid"] = "true"
            # Setting aria-describedby stops Django adding its own for the help text, so
            # name both: the errors first, since they are what the person must act on.
            described_by = [f"{auto_id}-errors"]
            if field.help_text:
                described_by.append(f"{auto_id}_helptext")
            field.widget.attrs["aria-describedby"] = " ".join(described_by)


def new_form_token() -> str:
    return secrets.token_urlsafe(16)


class OnceTokenMixin(forms.Form):
    """A hidden token that lets a view act on a form only once: a reloaded or doubled POST
    (the browser re-sends it) is told it already happened instead of doing it again."""

    # Not required: a client that sends no token (a script posting the form) simply gets
    # no protection against its own repeats; the pages always send one.
    token = forms.CharField(
        widget=forms.HiddenInput, max_length=64, initial=new_form_token, required=False
    )

    def claim(self, scope: str) -> bool:
        """True the first time this token is claimed within `scope` (or when there is no
        token), False after."""
        token = self.cleaned_data.get("token")
        if not token:
            return True
        return bool(cache.add(self._once_key(scope, token), True, timeout=ONCE_TOKEN_SECONDS))

    @contextmanager
    def given_back_on_error(self, scope: str) -> Iterator[None]:
        """Around the action a claimed token guards: if it raises (a refused form, a
        database that stayed busy), the action did not happen, so the claim is given back
        and the same form, corrected or not, can be sent again instead of being taken for
        a repeat."""
        try:
            yield
        except BaseException:
            token = self.cleaned_data.get("token")
            if token:
                cache.delete(self._once_key(scope, token))
            raise

    @staticmethod
    def _once_key(scope: str, token: str) -> str:
        return f"form-once:{scope}:{token}"
