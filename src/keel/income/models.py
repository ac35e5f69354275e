"""A worker's income portfolio: where money comes from (sources), how it behaves (streams),
each income item and the ledger journal behind it, exchange rates, and imports.

Every IncomeItem points at exactly one ledger journal; the item is an index that lets
analytics group income by source and stream without re-reading legs. Money moves only
through the ledger service.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SourceKind(models.TextChoices):
    PLATFORM = "platform", "Platform"
    CLIENT = "client", "Direct client"
    SHOP = "shop", "Own shop"
    MEMBERSHIP = "membership", "Membership site"
    OTHER = "other", "Other"


class StreamKind(models.TextChoices):
    RECURRING = "recurring", "Recurring"
    PROJECT = "project", "Project"
    MICRO = "micro", "Micro-work"


class ItemKind(models.TextChoices):
    INCOME = "income", "Income"
    REFUND = "refund", "Refund"
    FEE = "fee", "Fee"
    TRANSFER = "transfer", "Transfer"


class IncomeSettings(models.Model):
    worker = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="income_settings"
    )
    # Monthly essential expenses in the worker's home currency (minor units).
    essential_expenses = models.BigIntegerField(default=0)
    tax_set_aside = models.BooleanField(default=True)
    tax_rate_bps = models.PositiveIntegerField(default=2500)
    salary = models.BigIntegerField(default=0, help_text="Monthly salary paid from the buffer.")
    salary_day = models.PositiveSmallIntegerField(default=25)

    def __str__(self) -> str:
        return f"income settings of {self.worker_id}"


class Source(models.Model):
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="income_sources"
    )
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60)
    kind = models.CharField(max_length=16, choices=SourceKind.choices, default=SourceKind.OTHER)
    default_stream = models.CharField(
        max_length=16, choices=StreamKind.choices, default=StreamKind.PROJECT
    )
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["worker", "slug"], name="income_source_slug_unique")
        ]
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Stream(models.Model):
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="income_streams"
    )
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="streams")
    kind = models.CharField(max_length=16, choices=StreamKind.choices)
    name = models.CharField(max_length=120)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "kind"], name="income_stream_kind_unique")
        ]

    def __str__(self) -> str:
        return self.name


class ExchangeRate(models.Model):
    """Units of `quote` per one unit of `base` on a date. A worker's own rates win over
    shared ones (worker null)."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="exchange_rates",
    )
    base = models.CharField(max_length=3)
    quote = models.CharField(max_length=3)
    on = models.DateField()
    rate = models.DecimalField(max_digits=24, decimal_places=10)
    origin = models.CharField(max_length=40, default="manual")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["worker", "base", "quote", "on"], name="income_rate_unique"
            ),
            # SQL counts no two NULLs as equal, so the constraint above never stopped a
            # second shared rate (worker null) for the same pair and day: the demo's
            # idempotent load added a copy at every start, and setting that rate again
            # then failed with MultipleObjectsReturned.
            models.UniqueConstraint(
                fields=["base", "quote", "on"],
                condition=models.Q(worker__isnull=True),
                name="income_rate_unique_shared",
            ),
        ]
        indexes = [models.Index(fields=["base", "quote", "on"], name="income_rate_lookup")]

    def __str__(self) -> str:
        return f"1 {self.base} = {self.rate} {self.quote} on {self.on}"


class ImportProfileRecord(models.Model):
    """A saved column mapping for files in no known format (keel.income.importers.csv)."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_profiles"
    )
    name = models.CharField(max_length=80)
    config = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["worker", "name"], name="income_profile_unique")
        ]

    def __str__(self) -> str:
        return self.name


class ImportStatus(models.TextChoices):
    # Uploaded; a job is reading the file and checking it against the books.
    CHECKING = "checking", "Checking"
    PREVIEWED = "previewed", "Previewed"
    APPLIED = "applied", "Applied"
    REFUSED = "refused", "Refused"
    # The file could not be read at all; the batch's summary holds the reason.
    FAILED = "failed", "Failed"


class ImportBatch(models.Model):
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_batches"
    )
    format = models.CharField(max_length=32)
    filename = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    stored_path = models.CharField(max_length=500, blank=True)
    source = models.ForeignKey(Source, null=True, on_delete=models.SET_NULL)
    profile = models.ForeignKey(ImportProfileRecord, null=True, on_delete=models.SET_NULL)
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=ImportStatus.choices)
    summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.format} import {self.filename}"


class IncomeItem(models.Model):
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="income_items"
    )
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="items")
    stream = models.ForeignKey(Stream, null=True, on_delete=models.PROTECT, related_name="items")
    journal = models.OneToOneField(
        "ledger.Journal", on_delete=models.PROTECT, related_name="income_item"
    )
    batch = models.ForeignKey(ImportBatch, null=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=16, choices=ItemKind.choices)
    occurred_on = models.DateField()
    currency = models.CharField(max_length=3)
    gross = models.BigIntegerField(default=0)
    fee = models.BigIntegerField(default=0)
    tips = models.BigIntegerField(default=0)
    net = models.BigIntegerField(default=0)
    # What the item is worth to the worker's income in their home currency, converted at
    # the rate of its own date; the original amounts above are kept.
    home_currency = models.CharField(max_length=3)
    home_income = models.BigIntegerField(default=0)
    fx_rate = models.DecimalField(max_digits=24, decimal_places=10, null=True, blank=True)
    identity = models.CharField(max_length=200)
    external_id = models.CharField(max_length=200, blank=True)
    description = models.CharField(max_length=500, blank=True)
    counterparty = models.CharField(max_length=200, blank=True)
    hours = models.IntegerField(null=True, blank=True, help_text="Hundredths of an hour.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["worker", "identity"], name="income_item_identity")
        ]
        indexes = [
            models.Index(fields=["worker", "occurred_on"], name="income_item_worker_date"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.gross} {self.currency} on {self.occurred_on}"
