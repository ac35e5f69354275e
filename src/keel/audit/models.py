"""One table of security events.

Nothing here points at another table with a foreign key: a key that cascades would delete
events and one that sets null would update them, and the database refuses both. Who and
what an event is about are kept as plain ids plus a label captured when it happened, so an
event still says who it was after the person's account is renamed or deleted.
"""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Now

MAX_ACTION_LENGTH = 64
MAX_LABEL_LENGTH = 254
MAX_SUBJECT_LENGTH = 100
MAX_USER_AGENT_LENGTH = 256


class AuditEvent(models.Model):
    # The database's clock, not the caller's: an event cannot be backdated by the code
    # that records it.
    occurred_at = models.DateTimeField(db_default=Now(), editable=False)
    action = models.CharField(max_length=MAX_ACTION_LENGTH)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=MAX_LABEL_LENGTH, blank=True)
    subject = models.CharField(max_length=MAX_SUBJECT_LENGTH, blank=True)
    pool_id = models.BigIntegerField(null=True, blank=True)
    platform_id = models.BigIntegerField(null=True, blank=True)
    worker_id = models.BigIntegerField(null=True, blank=True)
    remote_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=MAX_USER_AGENT_LENGTH, blank=True)
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        verbose_name = "audit event"
        ordering = ("-occurred_at", "-id")
        indexes = [
            models.Index(fields=["occurred_at"], name="audit_occurred"),
            models.Index(fields=["action", "occurred_at"], name="audit_action"),
            models.Index(fields=["actor_id"], name="audit_actor"),
            models.Index(fields=["subject"], name="audit_subject"),
            models.Index(fields=["pool_id"], name="audit_pool"),
            models.Index(fields=["platform_id"], name="audit_platform"),
            models.Index(fields=["worker_id"], name="audit_worker"),
        ]

    def __str__(self) -> str:
        by = f" by {self.actor_label}" if self.actor_label else ""
        return f"{self.action}{by}" + (f" on {self.subject}" if self.subject else "")
