"""Client contracts and their milestones.

A contract is a worker's agreement with one client: a currency, a credit limit, a review
window and a payment-due rule, and a schedule of milestones. Money moves only through the
ledger service (``keel.career.services`` documents the chart of accounts); the rows here
keep what a journal cannot: the schedule, each milestone's state and dates, the pointer to
its one open escrow reservation, and every change as a ``MilestoneEvent`` saying who
recorded it, on whose behalf and when.

Below them: offers and their subscribers (recurring revenue), 90-day plans, upsells (a base
offer and its follow-on) and reputation (portfolio items, testimonial requests and the
testimonials clients write through them, and the opt-in public profile).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.utils import timezone


class Contract(models.Model):
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="contracts"
    )
    title = models.CharField(max_length=200)
    client_name = models.CharField(max_length=200)
    client_email = models.EmailField(blank=True)
    currency = models.CharField(max_length=3)
    # The most the worker is willing to have outstanding with this client (minor units).
    credit_limit = models.BigIntegerField(default=0)
    review_window_days = models.PositiveSmallIntegerField(default=14)
    # The payment-due rule (NYC Freelance Isn't Free Act by default): due by the
    # milestone's contract date, or this many days after delivery when it has none (or
    # always, when the contract date is not used).
    payment_due_days = models.PositiveSmallIntegerField(default=30)
    payment_due_uses_contract_date = models.BooleanField(default=True)
    # The income source released money is booked under (its slug): also the key of the
    # contract's milestones in the income forecast.
    income_source_slug = models.SlugField(max_length=60)
    # The create form's once-token: a resent form returns the contract it created.
    request_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The client's link to the contract (``keel.career.client_links``): only the digest of
    # the token is kept; empty when no link is live.
    client_link_digest = models.CharField(max_length=64, blank=True)
    client_link_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(credit_limit__gte=0), name="career_contract_limit_non_negative"
            ),
            models.UniqueConstraint(
                fields=["worker", "request_key"],
                condition=~models.Q(request_key=""),
                name="career_contract_request_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.client_name})"


class MilestoneState(models.TextChoices):
    PLANNED = "planned", "Planned"
    FUNDED = "funded", "Funded"
    DELIVERED = "delivered", "Delivered"
    RELEASED = "released", "Released"
    DISPUTED = "disputed", "Disputed"
    RESOLVED = "resolved", "Resolved"


class Milestone(models.Model):
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="milestones")
    sequence = models.PositiveSmallIntegerField()
    deliverable = models.CharField(max_length=500)
    # What the schedule says it is worth, and what partial releases of earlier milestones
    # moved onto it; its total is both.
    amount = models.BigIntegerField()
    rolled_in = models.BigIntegerField(default=0)
    due_on = models.DateField(null=True, blank=True)
    starts_on = models.DateField(null=True, blank=True)
    state = models.CharField(
        max_length=10, choices=MilestoneState.choices, default=MilestoneState.PLANNED
    )
    # Held in escrow now (the amount of the open reservation below), paid to the worker,
    # and given back to the client when it was settled.
    reserved = models.BigIntegerField(default=0)
    released = models.BigIntegerField(default=0)
    refunded = models.BigIntegerField(default=0)
    delivered_on = models.DateField(null=True, blank=True)
    settled_on = models.DateField(null=True, blank=True)
    # The milestone's one open escrow reservation (a pending ledger journal), if any.
    escrow_pending = models.ForeignKey(
        "ledger.Journal", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The income journal the released money was booked with.
    income_journal = models.ForeignKey(
        "ledger.Journal", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dispute_reason = models.TextField(blank=True)
    invoice_number = models.CharField(max_length=40, blank=True)
    invoice_issued_on = models.DateField(null=True, blank=True)
    # The invoice's total as issued: a roll-over or a part release afterwards changes the
    # milestone, never what the client was sent.
    invoice_total = models.BigIntegerField(null=True, blank=True)
    # Counts the changes; ledger keys include it, so each change posts its own journals.
    version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("contract", "sequence")
        constraints = [
            models.UniqueConstraint(fields=["contract", "sequence"], name="career_milestone_seq"),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0)
                & models.Q(rolled_in__gte=0)
                & models.Q(reserved__gte=0)
                & models.Q(released__gte=0)
                & models.Q(refunded__gte=0),
                name="career_milestone_amounts",
            ),
        ]

    def __str__(self) -> str:
        return f"milestone {self.sequence} of {self.contract_id}: {self.deliverable}"

    @property
    def total(self) -> int:
        return self.amount + self.rolled_in


class EventAction(models.TextChoices):
    FUND = "fund", "Funded into escrow"
    DELIVER = "deliver", "Delivered"
    RELEASE = "release", "Released"
    AUTO_RELEASE = "auto_release", "Released automatically"
    DISPUTE = "dispute", "Disputed"
    RESOLVE = "resolve", "Dispute resolved"
    ROLL_IN = "roll_in", "Rest of an earlier milestone rolled in"
    INVOICE = "invoice", "Invoice issued"
    CREDIT_NOTE = "credit_note", "Credit note issued"
    SUPPLEMENT = "supplement", "Supplementary invoice issued"


class Party(models.TextChoices):
    """On whose behalf a change happened. The worker records what the client does (the
    client has no account); Keel's scheduled job releases escrow when a window closes."""

    WORKER = "worker", "Worker"
    CLIENT = "client", "Client"
    KEEL = "keel", "Keel"


class MilestoneEvent(models.Model):
    """One change of a milestone: what, by whom, on which day, recorded when."""

    milestone = models.ForeignKey(Milestone, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=16, choices=EventAction.choices)
    party = models.CharField(max_length=8, choices=Party.choices)
    # Who recorded it; empty when Keel's scheduled job did.
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    on = models.DateField()
    at = models.DateTimeField(default=timezone.now)
    amount = models.BigIntegerField(default=0)
    state_before = models.CharField(max_length=10, choices=MilestoneState.choices)
    state_after = models.CharField(max_length=10, choices=MilestoneState.choices)
    note = models.TextField(blank=True)
    # The ledger journals the change reserved, posted or voided, as {"reserved": [ids], ...}.
    journals = models.JSONField(default=dict, blank=True)
    # The request's idempotency key: the same key again returns this change.
    request_key = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ("at", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["milestone", "request_key"],
                condition=~models.Q(request_key=""),
                name="career_event_request_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} of milestone {self.milestone_id} on {self.on}"


class InvoiceCounter(models.Model):
    """A worker's running number within a year for one series of documents (``INV`` for
    invoices, supplementary ones included; ``CN`` for credit notes): numbers are never
    reused or skipped (taken under a row lock)."""

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    prefix = models.CharField(max_length=10, default="INV")
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["worker", "prefix", "year"], name="career_invoice_series_year"
            ),
        ]


class AdjustmentKind(models.TextChoices):
    CREDIT_NOTE = "credit_note", "Credit note"
    SUPPLEMENT = "supplement", "Supplementary invoice"


class InvoiceAdjustment(models.Model):
    """A credit note or a supplementary invoice against a milestone's issued invoice,
    issued when the milestone changed after the invoice (``rules.contracts.AdjustmentKind``).

    Issued once and never changed: the database refuses every update, and every delete
    but the test suite's purge (migration 0009). ``amount`` is positive; a credit note
    takes it off the invoice. The referenced invoice's number, date and issued total are
    kept on the row, so the document reads the same whatever happens to the milestone.
    No money moves: Keel books a milestone's income when its escrow is released, so the
    books already hold what the client paid; the document puts the paperwork right.
    """

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    milestone = models.ForeignKey(
        Milestone, on_delete=models.PROTECT, related_name="invoice_adjustments"
    )
    kind = models.CharField(max_length=12, choices=AdjustmentKind.choices)
    number = models.CharField(max_length=40)
    issued_on = models.DateField()
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=500)
    invoice_number = models.CharField(max_length=40)
    invoice_issued_on = models.DateField()
    invoice_total = models.BigIntegerField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # The issuing form's once-token: the same form sent again returns this document.
    request_key = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ("issued_on", "id")
        constraints = [
            models.UniqueConstraint(fields=["worker", "number"], name="career_adjustment_number"),
            models.UniqueConstraint(
                fields=["milestone", "request_key"],
                condition=~models.Q(request_key=""),
                name="career_adjustment_request_once",
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="career_adjustment_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"

    @property
    def signed_amount(self) -> int:
        """The amount as the client books it: negative on a credit note."""
        return -self.amount if self.kind == AdjustmentKind.CREDIT_NOTE else self.amount


# ---------------------------------------------------------------------------- offers


class OfferKind(models.TextChoices):
    MEMBERSHIP = "membership", "Membership"
    SUBSCRIPTION = "subscription", "Subscription"
    RETAINER = "retainer", "Retainer"
    DIGITAL_PRODUCT = "digital_product", "Digital product"
    ONE_OFF_SERVICE = "one_off_service", "One-off service"


class BillingInterval(models.TextChoices):
    WEEK = "week", "Weekly"
    MONTH = "month", "Monthly"
    QUARTER = "quarter", "Quarterly"
    YEAR = "year", "Yearly"


class RetainerUnit(models.TextChoices):
    HOURS = "hours", "Hours"
    DELIVERABLES = "deliverables", "Deliverables"


class UnusedUnits(models.TextChoices):
    ROLL_OVER = "roll_over", "Roll over"
    EXPIRE = "expire", "Expire"


class Offer(models.Model):
    """Something a worker sells (``keel.career.rules.recurring.Offer`` checks it): a
    recurring membership, subscription or retainer, or a one-time digital product or
    service. Payments for it are booked under its own income source."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="offers"
    )
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=OfferKind.choices)
    price = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    # Empty for one-time sales.
    interval = models.CharField(max_length=8, choices=BillingInterval.choices, blank=True)
    # Retainers only: units included per period and what happens to unused ones.
    retainer_units = models.PositiveIntegerField(null=True, blank=True)
    retainer_unit = models.CharField(max_length=12, choices=RetainerUnit.choices, blank=True)
    retainer_on_unused = models.CharField(max_length=10, choices=UnusedUnits.choices, blank=True)
    retainer_rollover_cap = models.PositiveIntegerField(null=True, blank=True)
    active = models.BooleanField(default=True)
    # The income source payments for the offer are booked under (its slug, unique per
    # worker): income items under it are matched to the offer.
    income_source_slug = models.SlugField(max_length=60)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-active", "name", "id")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="career_offer_price_non_negative"
            ),
            models.UniqueConstraint(
                fields=["worker", "income_source_slug"], name="career_offer_source_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_recurring(self) -> bool:
        return bool(self.interval)


class SubscriberStatus(models.TextChoices):
    NEW = "new", "Not started"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    CANCELLED = "cancelled", "Cancelled"


class Subscriber(models.Model):
    """A buyer of an offer. Their lifecycle is their ``SubscriptionEvent`` rows; ``status``,
    ``price`` and ``interval`` are kept in step with the latest event for the pages."""

    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="subscribers")
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    external_reference = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=10, choices=SubscriberStatus.choices, default=SubscriberStatus.NEW
    )
    price = models.BigIntegerField(null=True, blank=True)
    interval = models.CharField(max_length=8, choices=BillingInterval.choices, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("name", "id")

    def __str__(self) -> str:
        return f"{self.name} ({self.offer_id})"


class SubscriptionEventKind(models.TextChoices):
    START = "start", "Started"
    PAUSE = "pause", "Paused"
    RESUME = "resume", "Resumed"
    CHANGE = "change", "Changed plan"
    CANCEL = "cancel", "Cancelled"


class SubscriptionEvent(models.Model):
    """One event in a subscriber's life, checked by ``recurring.subscription_history``
    against the subscriber's earlier events before it is saved. ``worker`` and
    ``currency`` repeat the offer's so the reports read every event of a worker with one
    indexed query."""

    subscriber = models.ForeignKey(Subscriber, on_delete=models.PROTECT, related_name="events")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    kind = models.CharField(max_length=8, choices=SubscriptionEventKind.choices)
    on = models.DateField()
    # A start's or change's price per interval; null for the other kinds.
    price = models.BigIntegerField(null=True, blank=True)
    interval = models.CharField(max_length=8, choices=BillingInterval.choices, null=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("subscriber", "on", "id")
        indexes = [
            models.Index(
                fields=["worker", "currency", "subscriber", "on", "id"],
                name="career_subevent_report",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of subscriber {self.subscriber_id} on {self.on}"


class PaymentMatch(models.TextChoices):
    RECORDED = "recorded", "Recorded in Keel"
    SOURCE = "source", "Booked under the offer's source"
    MANUAL = "manual", "Matched by hand"


class OfferPayment(models.Model):
    """An income item (and its ledger journal) matched to an offer and, when known, to
    the subscriber who paid it."""

    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="payments")
    subscriber = models.ForeignKey(
        Subscriber, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    income_item = models.OneToOneField(
        "income.IncomeItem", on_delete=models.PROTECT, related_name="offer_payment"
    )
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    on = models.DateField()
    matched_by = models.CharField(max_length=10, choices=PaymentMatch.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-on", "-id")

    def __str__(self) -> str:
        return f"payment {self.amount} {self.currency} for offer {self.offer_id}"


class RetainerUse(models.Model):
    """Units (hours or deliverables) of a retainer a subscriber used on a day; each billing
    period's uses are set against what the period includes and what rolled over into it
    (``keel.career.retainers``)."""

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.PROTECT, related_name="retainer_uses"
    )
    on = models.DateField()
    units = models.PositiveIntegerField()
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("on", "id")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(units__gt=0), name="career_retaineruse_units_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.units} units on {self.on} ({self.subscriber_id})"


# ---------------------------------------------------------------------------- 90-day plans


class PlanStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    REVIEWED = "reviewed", "Reviewed"


class Plan(models.Model):
    """A 90-day plan (``keel.career.rules.plans`` has the calendar and the rules): a
    recurring-revenue target from the MRR the books showed on its first day, and exactly
    one expansion channel. Progress is never stored: ``keel.career.planning`` computes it
    from the books whenever it is shown."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="plans"
    )
    starts_on = models.DateField()
    # The currency of the MRR the plan targets (the worker's offers in it).
    currency = models.CharField(max_length=3)
    # MRR on ``starts_on`` from the books, captured when the plan was made.
    start_mrr = models.BigIntegerField()
    target_mrr = models.BigIntegerField()
    # The one expansion channel, by name; ``expansion_source_slug`` is the income source it
    # is (empty for a channel typed in that has no income source yet): its income counts
    # as the channel's whatever the source is later renamed to.
    expansion_channel = models.CharField(max_length=100)
    expansion_source_slug = models.SlugField(max_length=60, blank=True)
    # Optional income to earn from the channel over the 90 days (minor units).
    expansion_target = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=PlanStatus.choices, default=PlanStatus.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-starts_on", "-id")
        indexes = [
            models.Index(fields=["worker", "status", "starts_on"], name="career_plan_worker")
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start_mrr__gte=0)
                & models.Q(target_mrr__gte=models.F("start_mrr")),
                name="career_plan_target",
            ),
        ]

    def __str__(self) -> str:
        return f"plan from {self.starts_on} ({self.worker_id})"


class PlanAction(models.Model):
    """A key action of a plan, due within it; ``done_on`` once done."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="actions")
    title = models.CharField(max_length=200)
    due_on = models.DateField()
    done_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("due_on", "id")

    def __str__(self) -> str:
        return self.title


class CheckIn(models.Model):
    """The weekly check-in of plan week ``week`` (1..13), made on ``on``: one a week."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="check_ins")
    week = models.PositiveSmallIntegerField()
    on = models.DateField()
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("week",)
        constraints = [
            models.UniqueConstraint(fields=["plan", "week"], name="career_checkin_week"),
        ]

    def __str__(self) -> str:
        return f"week {self.week} of plan {self.plan_id}"


class PlanReview(models.Model):
    """The end-of-plan review, stored once on the review day or after: each target against
    what happened (``results``: name, planned, actual, met), the review's sentences, and the
    draft of the next plan's targets from the trend."""

    plan = models.OneToOneField(Plan, on_delete=models.CASCADE, related_name="review")
    results = models.JSONField(default=list)
    words = models.JSONField(default=list)
    end_mrr = models.BigIntegerField()
    trend_growth = models.BigIntegerField()
    next_starts_on = models.DateField()
    next_start_mrr = models.BigIntegerField()
    next_target_mrr = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"review of plan {self.plan_id}"


# ---------------------------------------------------------------------------- upsells


class Upsell(models.Model):
    """A follow-on offered to the buyers of a base offer (both the worker's own).
    ``keel.career.upselling`` reads buyers and takers from the offers' subscribers and
    payments; nothing about them is stored here. ``window_days``: how long after buying the
    base a purchase of the follow-on still counts (empty: any time after)."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="upsells"
    )
    base = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="upsells_from")
    follow_on = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="upsells_to")
    window_days = models.PositiveSmallIntegerField(null=True, blank=True)
    # The create form's once-token: a resent form returns the upsell it created.
    request_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(base=models.F("follow_on")), name="career_upsell_two_offers"
            ),
            models.UniqueConstraint(fields=["base", "follow_on"], name="career_upsell_once"),
            models.UniqueConstraint(
                fields=["worker", "request_key"],
                condition=~models.Q(request_key=""),
                name="career_upsell_request_once",
            ),
        ]

    def __str__(self) -> str:
        return f"upsell {self.base_id} -> {self.follow_on_id}"


# ---------------------------------------------------------------------------- reputation


def private_storage() -> FileSystemStorage:
    """Where portfolio uploads live: under the data directory's media folder like the
    gateway's receipts, which no URL serves (there is no MEDIA_URL route, and whitenoise
    serves only static files). A file reaches a browser only through the owner-only view
    ``career:portfolio_file``."""
    return FileSystemStorage(location=Path(settings.MEDIA_ROOT) / "private")


class PortfolioItem(models.Model):
    """A piece of long-form work: shown on the public profile (when it is public) with its
    link; an uploaded file is served to its worker only."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="portfolio_items"
    )
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    link = models.URLField(max_length=500, blank=True)
    file = models.FileField(
        upload_to="portfolio/%Y/%m/", storage=private_storage, blank=True, max_length=300
    )
    file_name = models.CharField(max_length=200, blank=True)
    done_on = models.DateField(null=True, blank=True)
    # Free text for now: "writing, research" (comma-separated).
    skills = models.CharField(max_length=300, blank=True)
    client_name = models.CharField(max_length=200, blank=True)
    request_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-done_on", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["worker", "request_key"],
                condition=~models.Q(request_key=""),
                name="career_portfolio_request_once",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def skill_list(self) -> list[str]:
        return [s.strip() for s in self.skills.split(",") if s.strip()]


class TestimonialRequest(models.Model):
    """A request sent to a client for a testimonial. The link's token is never stored:
    only its SHA-256 digest, so a database leak does not hand out working links, and a
    token whose digest differs (a replaced link) is refused. ``used_at`` is set in the
    same transaction that stores the testimonial."""

    __test__ = False  # not a pytest test class, whatever its name

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="testimonial_requests"
    )
    client_name = models.CharField(max_length=200)
    client_email = models.EmailField(max_length=254)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    token_digest = models.CharField(max_length=64)
    request_key = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["worker", "request_key"],
                condition=~models.Q(request_key=""),
                name="career_testimonial_request_once",
            ),
        ]

    def __str__(self) -> str:
        return f"testimonial request to {self.client_name}"


class Testimonial(models.Model):
    """What the client wrote through the link: verified by construction (it can only be
    made through a genuine, unexpired, unused link). ``shown`` is the worker's choice."""

    __test__ = False  # not a pytest test class, whatever its name

    request = models.OneToOneField(
        TestimonialRequest, on_delete=models.PROTECT, related_name="testimonial"
    )
    text = models.TextField()
    author_name = models.CharField(max_length=200)
    author_role = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    verified = models.BooleanField(default=True, editable=False)
    shown = models.BooleanField(default=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"testimonial by {self.author_name}"


class Profile(models.Model):
    """A worker's public profile at /p/<handle>/: private until they opt in."""

    worker = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="career_profile"
    )
    handle = models.CharField(max_length=30, unique=True)
    headline = models.CharField(max_length=200, blank=True)
    bio = models.TextField(blank=True)
    public = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.handle


# ---------------------------------------------------------------------------- skills


class Skill(models.Model):
    """A skill the worker has, at a level from 1 (learning) to 5 (expert). ``name`` is kept
    lowercase and trimmed (``keel.career.skills_services`` does it), so the same skill
    matches across workers in the anonymised peer figures."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="skills"
    )
    name = models.CharField(max_length=60)
    level = models.PositiveSmallIntegerField(default=3)
    acquired_on = models.DateField(null=True, blank=True)
    request_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("name", "id")
        constraints = [
            models.UniqueConstraint(fields=["worker", "name"], name="career_skill_once"),
            models.CheckConstraint(
                condition=models.Q(level__gte=1) & models.Q(level__lte=5),
                name="career_skill_level",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class WorkLog(models.Model):
    """A piece of work done: when, how long (whole minutes), what it paid (minor units of
    ``currency``), for which client and with which skills; optionally the milestone or
    offer payment the money came from."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="work_logs"
    )
    done_on = models.DateField()
    minutes = models.PositiveIntegerField()
    income = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    client_name = models.CharField(max_length=200, blank=True)
    skills = models.ManyToManyField(Skill, related_name="work_logs")
    milestone = models.ForeignKey(
        Milestone, null=True, blank=True, on_delete=models.SET_NULL, related_name="work_logs"
    )
    offer_payment = models.ForeignKey(
        OfferPayment, null=True, blank=True, on_delete=models.SET_NULL, related_name="work_logs"
    )
    request_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-done_on", "-id")
        indexes = [
            models.Index(fields=["worker", "currency", "done_on"], name="career_worklog_by_day")
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(minutes__gt=0) & models.Q(income__gte=0),
                name="career_worklog_amounts",
            ),
            models.UniqueConstraint(
                fields=["worker", "request_key"],
                condition=~models.Q(request_key=""),
                name="career_worklog_request_once",
            ),
        ]

    def __str__(self) -> str:
        return f"work on {self.done_on} ({self.minutes} min)"


class SkillSharing(models.Model):
    """The worker's opt-in to anonymised peer figures: sharing their own rate ceilings
    (only ever as part of a figure at least five peers stand behind) and, in return,
    seeing such figures in their adjacent-skill suggestion. No row means not opted in."""

    worker = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="skill_sharing"
    )
    opted_in = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"skill sharing of {self.worker_id}: {self.opted_in}"


# ---------------------------------------------------------------------------- peers


class PeerGroup(models.Model):
    """A group of workers who pass gigs to each other. Any worker can start one; its
    members invite others."""

    name = models.CharField(max_length=120)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="peer_groups_started"
    )
    request_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("name", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "request_key"],
                condition=~models.Q(request_key=""),
                name="career_peergroup_request_once",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PeerStatus(models.TextChoices):
    INVITED = "invited", "Invited"
    ACTIVE = "active", "Member"
    LEFT = "left", "Left"


class PeerMembership(models.Model):
    group = models.ForeignKey(PeerGroup, on_delete=models.CASCADE, related_name="memberships")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="peer_memberships"
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="peer_invitations_sent",
    )
    status = models.CharField(max_length=8, choices=PeerStatus.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("group", "created_at", "id")
        constraints = [
            models.UniqueConstraint(fields=["group", "worker"], name="career_peer_once"),
        ]

    def __str__(self) -> str:
        return f"{self.worker_id} in group {self.group_id} ({self.status})"


class PeerEmailInvitation(models.Model):
    """An invitation to a group sent to an address that has no Keel worker account yet. It
    becomes an ordinary invitation (an invited PeerMembership) when someone with that
    address joins Keel, so inviting answers alike whether or not the address is a worker's."""

    group = models.ForeignKey(PeerGroup, on_delete=models.CASCADE, related_name="email_invitations")
    email = models.EmailField()
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="peer_email_invitations_sent",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("group", "created_at", "id")
        constraints = [
            models.UniqueConstraint(fields=["group", "email"], name="career_peer_email_once"),
        ]

    def __str__(self) -> str:
        return f"invitation of {self.email} to group {self.group_id}"


class ReferralStatus(models.TextChoices):
    OFFERED = "offered", "Offered"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    DONE = "done", "Done"


class Referral(models.Model):
    """A gig one member passes to another on the group's board, with an optional referral
    fee the receiver of the gig pays the referrer; ``fee_journal`` is the one ledger journal
    that recorded it in both workers' books (``keel.career.peers``)."""

    group = models.ForeignKey(PeerGroup, on_delete=models.CASCADE, related_name="referrals")
    from_worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="referrals_made"
    )
    to_worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="referrals_received"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    client_name = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=8, choices=ReferralStatus.choices, default=ReferralStatus.OFFERED
    )
    fee_amount = models.BigIntegerField(null=True, blank=True)
    fee_currency = models.CharField(max_length=3, blank=True)
    fee_journal = models.ForeignKey(
        "ledger.Journal", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    fee_paid_on = models.DateField(null=True, blank=True)
    request_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(from_worker=models.F("to_worker")),
                name="career_referral_two_workers",
            ),
            models.CheckConstraint(
                condition=models.Q(fee_amount__isnull=True) | models.Q(fee_amount__gt=0),
                name="career_referral_fee_positive",
            ),
            models.UniqueConstraint(
                fields=["from_worker", "request_key"],
                condition=~models.Q(request_key=""),
                name="career_referral_request_once",
            ),
        ]

    def __str__(self) -> str:
        return f"referral {self.title} ({self.from_worker_id} -> {self.to_worker_id})"
