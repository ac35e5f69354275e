"""Double-entry ledger tables.

Legs carry signed amounts in minor units: positive is a debit, negative a credit. A journal's
legs sum to zero per currency. Accounts keep running totals (posted and pending, debits and
credits, never negative) that the ledger service updates in the same transaction as the legs;
`keel ledger verify` recomputes them from the legs.

The database itself refuses what the service would never do (see migrations 0002): updating or
deleting a leg, deleting a journal, changing a posted journal, adding legs to a journal that
already exists, or inserting a journal whose legs do not balance.
"""

from __future__ import annotations

from django.db import models


class OwnerType(models.TextChoices):
    WORKER = "worker", "Worker"
    POOL = "pool", "Pool"
    PLATFORM = "platform", "Platform"
    KEEL = "keel", "Keel"


class AccountKind(models.TextChoices):
    ASSET = "asset", "Asset"
    LIABILITY = "liability", "Liability"
    EQUITY = "equity", "Equity"
    INCOME = "income", "Income"
    EXPENSE = "expense", "Expense"


class JournalStatus(models.TextChoices):
    POSTED = "posted", "Posted"
    PENDING = "pending", "Pending"
    # A pending journal ends in exactly one of these; its legs then count nowhere and any
    # posted part lives in the journal that posted it.
    COMPLETED = "completed", "Posted from pending"
    VOIDED = "voided", "Voided"
    EXPIRED = "expired", "Expired"


class Account(models.Model):
    code = models.CharField(max_length=200, unique=True)
    name = models.CharField(max_length=200, blank=True)
    owner_type = models.CharField(max_length=16, choices=OwnerType.choices)
    owner_id = models.BigIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=16, choices=AccountKind.choices)
    currency = models.CharField(max_length=3)
    # The lowest natural balance allowed (usually 0); null means no floor.
    floor = models.BigIntegerField(null=True, blank=True)
    posted_debits = models.BigIntegerField(default=0)
    posted_credits = models.BigIntegerField(default=0)
    pending_debits = models.BigIntegerField(default=0)
    pending_credits = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["owner_type", "owner_id"], name="ledger_acct_owner")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(posted_debits__gte=0)
                & models.Q(posted_credits__gte=0)
                & models.Q(pending_debits__gte=0)
                & models.Q(pending_credits__gte=0),
                name="ledger_account_totals_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Journal(models.Model):
    # Ids are allocated by the ledger service before the legs are written (legs go in
    # first, then the journal row whose insert trigger checks they balance).
    id = models.BigIntegerField(primary_key=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    content_hash = models.CharField(max_length=64)
    kind = models.CharField(max_length=40)
    status = models.CharField(max_length=16, choices=JournalStatus.choices)
    effective_date = models.DateField()
    created_at = models.DateTimeField()
    memo = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Two-phase: a journal that posts (part of) a pending one points at it; so does nothing
    # else. A pending journal expires at expires_at unless posted or voided first.
    pending = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="resolutions"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )

    class Meta:
        indexes = [
            models.Index(fields=["effective_date"], name="ledger_journal_date"),
            models.Index(
                fields=["expires_at"],
                name="ledger_journal_open_pending",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"journal {self.id} ({self.kind})"


class Leg(models.Model):
    journal = models.ForeignKey(Journal, on_delete=models.PROTECT, related_name="legs")
    # Indexed by (account, effective_date) below, which also serves lookups by account.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="legs", db_index=False
    )
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    # Copied from the journal so balances as of a date read one table.
    effective_date = models.DateField()
    # True for the legs of a pending journal: they count as pending while the journal is
    # pending and nowhere once it is resolved.
    is_pending = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["account", "effective_date"], name="ledger_leg_account_date"),
        ]
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount=0), name="ledger_leg_non_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount} {self.currency}"
