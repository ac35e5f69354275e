"""The reputation pages' forms: a portfolio item, a testimonial request, the client's
testimonial and the worker's profile. The services check everything again; a refusal
comes back onto the field it names (``forms.add_career_error``)."""

from __future__ import annotations

from typing import Any

from django import forms

from keel.web.forms import BootstrapFormMixin, OnceTokenMixin

from .forms import _date_widget
from .reputation_services import MAX_FILE_BYTES


class PortfolioForm(BootstrapFormMixin, OnceTokenMixin):
    title = forms.CharField(label="Title", max_length=200)
    summary = forms.CharField(
        label="Summary", required=False, max_length=20_000, widget=forms.Textarea(attrs={"rows": 4})
    )
    link = forms.URLField(
        label="Link (optional)", required=False, max_length=500, assume_scheme="https"
    )
    file = forms.FileField(
        label="Or a file (optional)",
        required=False,
        help_text=f"A PDF, PNG or JPG, at most {MAX_FILE_BYTES // (1024 * 1024)} MB. Only you"
        " can open it; your public profile shows the link, never the file.",
        widget=forms.FileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg"}),
    )
    remove_file = forms.BooleanField(label="Remove the file", required=False)
    done_on = forms.DateField(label="Date", required=False, widget=_date_widget())
    skills = forms.CharField(
        label="Skills used", required=False, max_length=300, help_text="Separated by commas."
    )
    client_name = forms.CharField(label="Client (optional)", required=False, max_length=200)

    def __init__(self, *args: Any, has_file: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not has_file:
            del self.fields["remove_file"]


class TestimonialRequestForm(BootstrapFormMixin, OnceTokenMixin):
    __test__ = False  # not a pytest test class

    client_name = forms.CharField(label="Client's name", max_length=200)
    client_email = forms.EmailField(label="Client's email", max_length=254)


class TestimonialForm(BootstrapFormMixin, forms.Form):
    __test__ = False

    author_name = forms.CharField(label="Your name", max_length=200)
    author_role = forms.CharField(
        label="Your role (optional)", max_length=200, required=False, help_text="E.g. CTO, Acme."
    )
    text = forms.CharField(
        label="Your testimonial", max_length=5000, widget=forms.Textarea(attrs={"rows": 6})
    )


class ProfileForm(BootstrapFormMixin, forms.Form):
    handle = forms.CharField(
        label="Handle",
        max_length=30,
        help_text="Your profile's address: /p/<handle>/. 3 to 30 lowercase letters, digits"
        " and hyphens.",
    )
    headline = forms.CharField(label="Headline", max_length=200, required=False)
    bio = forms.CharField(
        label="About you", max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 5})
    )
    public = forms.BooleanField(
        label="Make my profile public",
        required=False,
        help_text="Off: only you can see it. On: anyone with the address sees your portfolio,"
        " the testimonials you show and your active offers.",
    )
