"""API keys: how machines (a platform's payroll system, a person's own scripts) call Keel.

The key itself is never stored, only its SHA-256 (see `keys.py` for why a fast hash is
right for random keys). A key acts as the user who created it; `owner_type`/`owner_id`
additionally tie it to something that user operates (a platform owns its keys), which the
domain that owns that thing interprets.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from . import keys


class ApiKey(models.Model):
    name = models.CharField(max_length=keys.MAX_NAME_LENGTH)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    owner_type = models.CharField(max_length=32, null=True, blank=True)
    owner_id = models.BigIntegerField(null=True, blank=True)
    # Public part of the key, unique, used to find the row before comparing hashes.
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["user", "created_at"], name="api_key_user"),
            models.Index(fields=["owner_type", "owner_id"], name="api_key_owner"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(owner_type__isnull=True, owner_id__isnull=True)
                | models.Q(owner_type__isnull=False, owner_id__isnull=False),
                name="api_key_owner_pair",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    def status(self) -> str:
        return keys.key_status(self.revoked_at, self.expires_at, timezone.now())

    @property
    def is_active(self) -> bool:
        return self.status() == "active"
