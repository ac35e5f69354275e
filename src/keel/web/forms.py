"""Form helpers every Keel app can use to get Bootstrap-styled, accessible forms."""

from __future__ import annotations

from typing import Any

from django import forms


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
            field.widget.attrs["class"] += " is-invalid"
            field.widget.attrs["aria-invalid"] = "true"
            # Setting aria-describedby stops Django adding its own for the help text, so
            # name both: the errors first, since they are what the person must act on.
            described_by = [f"{auto_id}-errors"]
            if field.help_text:
                described_by.append(f"{auto_id}_helptext")
            field.widget.attrs["aria-describedby"] = " ".join(described_by)
