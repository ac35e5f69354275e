"""The portable benefits gateway: platforms, their published contribution policies, links
between a platform's worker references and Keel workers, earnings events, the worker's
benefits account (allocation, withholding consent, uses), micro-contract bundles, the plan
catalogue and clearing batches.

Money moves only through the ledger service: every contribution, release from suspense,
use, premium and settlement is one ledger journal; the rows here index those journals and
keep what the journal cannot (the platform's event id, the policy version applied, the
receipt of a health expense).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Platform(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    currency = models.CharField(max_length=3, default="USD")
    # How often contributions are closed into a clearing batch.
    clearing_cadence = models.CharField(max_length=8, default="daily")
    operators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="operated_platforms", blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class ContributionPolicy(models.Model):
    """One version of a platform's published policy. Versions are never edited: a change
    is a new version effective from a later date, so past contributions keep the terms they
    were computed under."""

    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="policies")
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=120)
    effective_from = models.DateField()
    terms = models.JSONField()
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        ordering = ("platform", "-effective_from")
        constraints = [
            models.UniqueConstraint(fields=["platform", "version"], name="policy_version"),
            models.UniqueConstraint(
                fields=["platform", "effective_from"], name="policy_effective_from"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform} policy v{self.version} from {self.effective_from}"


class LinkStatus(models.TextChoices):
    INVITED = "invited", "Invited"
    ACTIVE = "active", "Linked"
    DECLINED = "declined", "Declined"
    ENDED = "ended", "Ended"


class WorkerLink(models.Model):
    """A platform's own reference for a worker, and the Keel worker it belongs to once that
    worker has consented. Events for a reference that is not (or no longer) linked are held
    in the platform's suspense account."""

    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="links")
    worker_ref = models.CharField(max_length=120)
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="platform_links",
    )
    status = models.CharField(max_length=8, choices=LinkStatus.choices, default=LinkStatus.INVITED)
    # The email a platform invited; the invitation shows to the Keel worker with it.
    invited_email = models.EmailField(blank=True)
    # The worker's tier on the platform (e.g. "platinum"), for tiered policies.
    worker_status = models.CharField(max_length=40, blank=True)
    invited_at = models.DateTimeField(default=timezone.now)
    linked_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("platform", "worker_ref")
        constraints = [
            models.UniqueConstraint(fields=["platform", "worker_ref"], name="link_platform_ref"),
        ]
        indexes = [models.Index(fields=["worker", "status"], name="link_worker_status")]

    def __str__(self) -> str:
        return f"{self.platform} {self.worker_ref} ({self.status})"


class LinkCode(models.Model):
    """A one-time code a worker hands to a platform: using it is the worker's consent."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="link_codes"
    )
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(Platform, on_delete=models.PROTECT, null=True, blank=True)


class EventStatus(models.TextChoices):
    CREDITED = "credited", "Credited to the worker"
    SUSPENSE = "suspense", "Held in suspense"
    RELEASED = "released", "Released from suspense"
    NONE = "none", "No contribution"


class EarningsEvent(models.Model):
    # No single-column indexes on platform, worker and policy: every event insert pays for
    # each index, and the composite indexes below (and the unique constraint) lead with
    # platform or worker already. Policies are versioned and never deleted, so nothing
    # looks events up by policy alone.
    platform = models.ForeignKey(
        Platform, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    event_id = models.CharField(max_length=120)
    worker_ref = models.CharField(max_length=120)
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="earnings_events",
        db_index=False,
    )
    occurred_at = models.DateTimeField()
    occurred_on = models.DateField()
    # The first day of the event's month: what the period sums group by.
    period_month = models.DateField()
    currency = models.CharField(max_length=3)
    gross = models.BigIntegerField()
    tips = models.BigIntegerField(default=0)
    bonus = models.BigIntegerField(default=0)
    jobs = models.PositiveIntegerField(default=1)
    description = models.CharField(max_length=500, blank=True)
    worker_status = models.CharField(max_length=40, blank=True)
    kind = models.CharField(max_length=16, default="earnings")  # earnings | minimum | topup
    content_hash = models.CharField(max_length=64)
    policy = models.ForeignKey(ContributionPolicy, on_delete=models.PROTECT, db_index=False)
    # What the policy made of it (see keel.gateway.rules.policy.Contribution).
    threshold_amount = models.BigIntegerField(default=0)
    eligible_amount = models.BigIntegerField(default=0)
    rate_base_delta = models.BigIntegerField(default=0)
    contribution = models.BigIntegerField(default=0)
    backdated = models.BigIntegerField(default=0)
    capped = models.BigIntegerField(default=0)
    explanation = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=8, choices=EventStatus.choices)
    journal_id = models.BigIntegerField(null=True, blank=True)
    released_journal_id = models.BigIntegerField(null=True, blank=True)
    clearing_batch = models.ForeignKey(
        "ClearingBatch", on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("platform", "id")
        constraints = [
            models.UniqueConstraint(fields=["platform", "event_id"], name="event_platform_id"),
        ]
        indexes = [
            models.Index(fields=["platform", "worker_ref", "period_month"], name="event_ref_month"),
            models.Index(fields=["worker", "occurred_on"], name="event_worker_day"),
            models.Index(fields=["platform", "clearing_batch"], name="event_clearing"),
        ]

    def __str__(self) -> str:
        return f"{self.platform} event {self.event_id}"


class BenefitsAccount(models.Model):
    """A worker's portable benefits account: the allocation of new contributions to the
    buckets, and the worker's elective withholding."""

    worker = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="benefits_account"
    )
    allocation = models.JSONField()
    opened_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"benefits account of {self.worker_id}"


class WithholdingConsent(models.Model):
    """The worker's written consent to withhold a share of the earnings they report or
    import into their benefits account. Revoking stops withholding at once; a new consent
    is a new row, so the record of every consent stays."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="withholding_consents"
    )
    rate_bps = models.PositiveIntegerField()
    consent_text = models.TextField()
    consented_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-consented_at",)


class UseKind(models.TextChoices):
    TIME_OFF = "time_off", "Time-off payout"
    HEALTH = "health", "Health expense reimbursement"
    RETIREMENT = "retirement", "Retirement transfer"
    EMERGENCY = "emergency", "Emergency withdrawal"
    PREMIUM = "premium", "Plan premium"


class BenefitUse(models.Model):
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="benefit_uses"
    )
    kind = models.CharField(max_length=12, choices=UseKind.choices)
    bucket = models.CharField(max_length=12)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    used_on = models.DateField()
    # Retirement transfers name the provider; premiums name the plan.
    provider = models.CharField(max_length=120, blank=True)
    note = models.CharField(max_length=300, blank=True)
    receipt = models.FileField(upload_to="receipts/%Y/%m/", blank=True)
    receipt_name = models.CharField(max_length=200, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    journal_id = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-used_on", "-id")


class BundleStatus(models.TextChoices):
    OFFERED = "offered", "Offered"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Bundle(models.Model):
    """A platform's committed minimum volume of work for one linked worker."""

    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="bundles")
    link = models.ForeignKey(WorkerLink, on_delete=models.PROTECT, related_name="bundles")
    reference = models.CharField(max_length=120)
    title = models.CharField(max_length=200)
    terms = models.JSONField()
    starts_on = models.DateField()
    ends_on = models.DateField()
    status = models.CharField(
        max_length=10, choices=BundleStatus.choices, default=BundleStatus.OFFERED
    )
    offered_at = models.DateTimeField(default=timezone.now)
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-starts_on", "-id")
        constraints = [
            models.UniqueConstraint(fields=["platform", "reference"], name="bundle_reference"),
        ]


class Plan(models.Model):
    """A benefit plan in the catalogue, priced lower as more Keel workers enroll."""

    provider = models.CharField(max_length=120)
    product_type = models.CharField(max_length=60)
    name = models.CharField(max_length=160, unique=True)
    description = models.TextField(blank=True)
    currency = models.CharField(max_length=3)
    pricing = models.JSONField()
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ("product_type", "name")

    def __str__(self) -> str:
        return f"{self.provider} {self.name}"


class Enrollment(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="enrollments")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="enrollments"
    )
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ("-started_on",)
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "worker"],
                condition=models.Q(ended_on__isnull=True),
                name="enrollment_open_once",
            ),
        ]


class PremiumCharge(models.Model):
    """One month's premium for one enrollment: paid from the health bucket, or unpaid
    (visible to the worker) when the bucket could not cover it."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="charges")
    month = models.DateField()
    amount = models.BigIntegerField()
    individual_price = models.BigIntegerField()
    enrolled_count = models.PositiveIntegerField()
    paid = models.BooleanField()
    use = models.OneToOneField(BenefitUse, on_delete=models.PROTECT, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-month",)
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "month"], name="premium_once"),
        ]


class ClearingBatch(models.Model):
    """What a platform owes for one period, closed once; settled by recorded payments."""

    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="batches")
    period_start = models.DateField()
    period_end = models.DateField()
    currency = models.CharField(max_length=3)
    event_count = models.PositiveIntegerField()
    owed = models.BigIntegerField()
    closed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-period_end", "platform")
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "period_start", "period_end", "currency"],
                name="clearing_period_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform} {self.period_start}..{self.period_end} {self.currency}"


class Settlement(models.Model):
    """A payment the operator recorded against a clearing batch."""

    batch = models.ForeignKey(ClearingBatch, on_delete=models.PROTECT, related_name="settlements")
    reference = models.CharField(max_length=120)
    amount = models.BigIntegerField()
    received_on = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    journal_id = models.BigIntegerField()
    recorded_at = models.DateTimeField(default=timezone.now)
    # A payment recorded in error is withdrawn, never deleted: its journal is reversed and
    # the row stays, with who withdrew it and why.
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    withdrawal_reason = models.CharField(max_length=200, blank=True)
    withdrawal_journal_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ("recorded_at",)
        constraints = [
            # One standing payment per reference: a withdrawn one frees its reference for
            # the payment recorded again correctly.
            models.UniqueConstraint(
                fields=["batch", "reference"],
                condition=models.Q(withdrawn_at__isnull=True),
                name="settlement_reference",
            ),
        ]


class EventCorrection(models.Model):
    """A platform's correction of one recorded earnings event: the figures the event should
    have carried, the contribution they give under the event's own policy version and period
    context, and the difference booked as one ledger journal. The event itself never
    changes; its corrections chain, each from the figures of the one before."""

    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="corrections")
    correction_id = models.CharField(max_length=120)
    event = models.ForeignKey(EarningsEvent, on_delete=models.PROTECT, related_name="corrections")
    # 1 for an event's first correction, 2 for the one after, …
    sequence = models.PositiveIntegerField()
    reason = models.CharField(max_length=500)
    gross = models.BigIntegerField()
    tips = models.BigIntegerField(default=0)
    bonus = models.BigIntegerField(default=0)
    jobs = models.PositiveIntegerField(default=1)
    content_hash = models.CharField(max_length=64)
    # What the policy makes of the corrected figures (the event's contribution as corrected).
    threshold_amount = models.BigIntegerField(default=0)
    eligible_amount = models.BigIntegerField(default=0)
    contribution = models.BigIntegerField(default=0)
    explanation = models.CharField(max_length=300, blank=True)
    # The corrected contribution minus what was booked for the event before this correction.
    difference = models.BigIntegerField()
    # What moved: the difference upward; downward, minus what the buckets (or suspense) gave.
    booked = models.BigIntegerField()
    # The part of a take-back the worker's account did not hold, borne by the platform.
    shortfall = models.BigIntegerField(default=0)
    status = models.CharField(max_length=8, choices=EventStatus.choices)
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="earnings_corrections",
    )
    journal_id = models.BigIntegerField(null=True, blank=True)
    released_journal_id = models.BigIntegerField(null=True, blank=True)
    clearing_batch = models.ForeignKey(
        ClearingBatch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrections",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("platform", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "correction_id"], name="correction_platform_id"
            ),
            models.UniqueConstraint(fields=["event", "sequence"], name="correction_sequence"),
        ]
        indexes = [
            models.Index(fields=["platform", "clearing_batch"], name="correction_clearing"),
        ]

    def __str__(self) -> str:
        return f"{self.platform} correction {self.correction_id} of event {self.event_id}"

    @property
    def previous_contribution(self) -> int:
        """What was booked for the event before this correction."""
        return self.contribution - self.difference
