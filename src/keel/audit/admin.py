"""The audit log in the operators' admin: to read, never to add, change or delete (the
database would refuse the last two anyway)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "occurred_at",
        "action",
        "actor_label",
        "subject",
        "pool_id",
        "platform_id",
        "worker_id",
        "remote_ip",
    )
    list_filter = ("action",)
    search_fields = ("action", "actor_label", "subject", "remote_ip")
    date_hierarchy = "occurred_at"
    ordering = ("-occurred_at", "-id")
    readonly_fields = (
        "occurred_at",
        "action",
        "actor_id",
        "actor_label",
        "subject",
        "pool_id",
        "platform_id",
        "worker_id",
        "remote_ip",
        "user_agent",
        "details",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
