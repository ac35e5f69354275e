"""Operators can see keys and revoke them; nobody creates or edits one here, because only
`services.create_key` produces the plaintext and the hash together."""

from __future__ import annotations

from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from keel.accounts.models import User

from . import services
from .models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "name",
        "prefix",
        "user",
        "owner_type",
        "owner_id",
        "status",
        "created_at",
        "last_used_at",
    )
    list_filter = ("owner_type",)
    search_fields = ("name", "prefix", "user__email")
    # The hash is no secret worth hiding from operators, but it is of no use to them either.
    exclude = ("secret_hash",)
    readonly_fields = (
        "name",
        "user",
        "owner_type",
        "owner_id",
        "prefix",
        "scopes",
        "created_at",
        "last_used_at",
        "revoked_at",
        "expires_at",
    )
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        # Revoked keys stay as a record of who had access when.
        return False

    @admin.display(description="status")
    def status(self, obj: ApiKey) -> str:
        return obj.status()

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        assert isinstance(request.user, User)  # the admin lets only staff through
        with transaction.atomic():
            # One at a time through the service, so each revocation is audited as staff's.
            revoked = [
                services.revoke_key(key.user, key.pk, by=request.user)
                for key in queryset.filter(revoked_at__isnull=True).select_related("user")
            ]
        self.message_user(request, f"Revoked {len(revoked)} key(s).")
