"""The Bootstrap mixin marks invalid fields, including ones whose widget a form replaced."""

from __future__ import annotations

from typing import Any

from django import forms

from keel.web.forms import BootstrapFormMixin


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
