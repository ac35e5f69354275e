from __future__ import annotations

from django import forms

from keel.web.forms import BootstrapFormMixin

from .services import AuditFilter


class AuditFilterForm(BootstrapFormMixin, forms.Form):
    action = forms.CharField(
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"list": "audit-actions"}),
        help_text='A code such as "login.failed", or "login" for every log-in event.',
    )
    actor = forms.CharField(
        required=False, max_length=254, help_text="Part of an email address, or a person's id."
    )
    subject = forms.CharField(required=False, max_length=100, help_text='Exact, e.g. "pool:12".')
    pool = forms.IntegerField(required=False, min_value=1, label="Pool id")
    platform = forms.IntegerField(required=False, min_value=1, label="Platform id")
    worker = forms.IntegerField(required=False, min_value=1, label="Worker id")

    def audit_filter(self) -> AuditFilter:
        data = self.cleaned_data
        return AuditFilter(
            action=data.get("action") or "",
            actor=data.get("actor") or "",
            subject=data.get("subject") or "",
            pool_id=data.get("pool"),
            platform_id=data.get("platform"),
            worker_id=data.get("worker"),
        )
