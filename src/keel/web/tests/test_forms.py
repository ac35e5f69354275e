"""The Bootstrap mixin marks invalid fields, including ones whose widget a form replaced."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms

from keel.web.forms import BootstrapFormMixin, OnceTokenMixin, new_form_token


class SwappedWidgetForm(BootstrapFormMixin, forms.Form):
    amount = forms.IntegerField()
    currency = forms.ChoiceField(choices=[("EUR", "EUR")])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One currency: shown as a hidden input, after the mixin styled the select.
        self.fields["currency"].widget = forms.HiddenInput()


def test_invalid_fields_are_marked_even_when_a_widget_was_replaced() -> None:
    form = SwappedWidgetForm(data={})
    assert not form.is_valid()
    assert form.fields["amount"].widget.attrs["class"] == "form-control is-invalid"
    assert form.fields["currency"].widget.attrs["class"] == "is-invalid"
    assert form.fields["currency"].widget.attrs["aria-invalid"] == "true"


class OnceForm(OnceTokenMixin, forms.Form):
    pass


def test_a_claimed_token_is_given_back_when_its_action_raises_and_kept_when_it_is_done(db):
    form = OnceForm({"token": new_form_token()})
    assert form.is_valid()
    assert form.claim("scope") is True
    assert form.claim("scope") is False  # the same form again: a repeat

    with pytest.raises(RuntimeError), form.given_back_on_error("scope"):
        raise RuntimeError("refused, or the database stayed busy")
    # Nothing was done: the same form (corrected or not) may be sent again.
    assert form.claim("scope") is True

    with form.given_back_on_error("scope"):
        pass  # done
    assert form.claim("scope") is False
    assert form.claim("another-scope") is True


def test_a_form_without_a_token_is_never_taken_for_a_repeat(db):
    form = OnceForm({})
    assert form.is_valid()
    with pytest.raises(RuntimeError), form.given_back_on_error("scope"):
        raise RuntimeError("refused")
    assert (form.claim("scope"), form.claim("scope")) == (True, True)
