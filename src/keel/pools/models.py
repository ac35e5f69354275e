"""Peer pools: mutual-aid funds run by their members.

A pool's rules are data (``rules.pool_rules``), versioned: a change is a new version adopted
by a passing vote, never an edit. Money moves only through the ledger service; each deposit,
monthly gift, refund, grant, pot, repayment and exit payout is one ledger journal in the
pool's own accounts (``pool:<id>:…``), so every member can read the whole ledger and no
steward can hide or change an entry. The rows here index those journals and keep what a
journal cannot: who applied, who voted how, which claim a gift paid, the shortfalls a gift
run recorded, what a claim repaid or had waived.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class PoolKind(models.TextChoices):
    SICK_LEAVE = "sick_leave", "Sick-leave fund"
    EMERGENCY = "emergency", "Emergency fund"
    HEALTH_SHARING = "health_sharing", "Health cost-sharing"
    ROTATING_SAVINGS = "rotating_savings", "Rotating savings"


class Pool(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=20, choices=PoolKind.choices)
    description = models.TextField(blank=True)
    currency = models.CharField(max_length=3)
    # Outsiders may read a public pool's page and ledger, with members shown by pseudonym.
    is_public = models.BooleanField(default=False)  # mirrors the current rules' `public`
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="pools_started"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class RulesVersion(models.Model):
    """One version of a pool's rules. Version 1 is what the pool was created with; every
    later version was adopted by the vote it points at."""

    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="rules_versions")
    version = models.PositiveIntegerField()
    rules = models.JSONField()
    effective_from = models.DateField()
    adopted_at = models.DateTimeField(default=timezone.now)
    adopted_by_vote = models.OneToOneField(
        "Vote", on_delete=models.PROTECT, null=True, blank=True, related_name="adopted_rules"
    )

    class Meta:
        ordering = ("pool", "-version")
        constraints = [
            models.UniqueConstraint(fields=["pool", "version"], name="pool_rules_version"),
        ]


class MemberRole(models.TextChoices):
    STEWARD = "steward", "Steward"
    MEMBER = "member", "Member"


class MemberStatus(models.TextChoices):
    INVITED = "invited", "Invited"
    APPLIED = "applied", "Applied"
    ACTIVE = "active", "Member"
    REJECTED = "rejected", "Not admitted"
    LEFT = "left", "Left"


def pseudonym(number: int) -> str:
    """How a member is shown to outsiders and in the ledger's memos."""
    return f"Member {number}"


class Membership(models.Model):
    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="pool_memberships"
    )
    # Shown instead of the name to anyone outside the pool; numbered in joining order.
    number = models.PositiveIntegerField()
    role = models.CharField(max_length=10, choices=MemberRole.choices, default=MemberRole.MEMBER)
    status = models.CharField(max_length=10, choices=MemberStatus.choices)
    # The monthly gift the member is insured for (sick-leave funds), in minor units.
    tier_gift = models.BigIntegerField(null=True, blank=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="pool_invitations_sent",
    )
    joined_on = models.DateField(null=True, blank=True)
    left_on = models.DateField(null=True, blank=True)
    # Which time the member is in the pool: 1, then one more each time they come back after
    # leaving. A member's deposits, refunds and exit are once per period, not once ever: the
    # one who left took their reserve, so the month or year they come back in is due again.
    period = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("pool", "number")
        constraints = [
            models.UniqueConstraint(fields=["pool", "user"], name="pool_member_once"),
            models.UniqueConstraint(fields=["pool", "number"], name="pool_member_number"),
        ]

    def __str__(self) -> str:
        return self.pseudonym

    @property
    def pseudonym(self) -> str:
        return pseudonym(self.number)


class Deposit(models.Model):
    """A member's deposit for one month: due until paid; the journal is the payment."""

    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="deposits")
    # The membership's period it fell due in (Membership.period): a month paid before
    # leaving was taken back with the reserve, so it is due again if the member comes back
    # within it; an unpaid one is not owed after leaving.
    period = models.PositiveSmallIntegerField(default=1)
    month = models.DateField()  # first day of the month
    amount = models.BigIntegerField()
    journal_id = models.BigIntegerField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("membership", "month", "period")
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "period", "month"], name="pool_deposit_period_month"
            ),
        ]


class ClaimKind(models.TextChoices):
    SICKNESS = "sickness", "Sickness"
    GRANT = "grant", "Emergency grant"
    NEED = "need", "Health cost"


class ClaimStatus(models.TextChoices):
    PENDING = "pending", "Waiting for approvals"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CLOSED = "closed", "Closed"


class Claim(models.Model):
    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="claims")
    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="claims")
    kind = models.CharField(max_length=10, choices=ClaimKind.choices)
    status = models.CharField(
        max_length=10, choices=ClaimStatus.choices, default=ClaimStatus.PENDING
    )
    start_date = models.DateField()
    recovered_on = models.DateField(null=True, blank=True)
    # Grants and health costs ask for an amount; sickness is paid at the member's tier.
    amount = models.BigIntegerField(null=True, blank=True)
    description = models.TextField(blank=True)
    reported_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    # Grants and health costs are paid once, by this journal.
    journal_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ("pool", "-reported_at")


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class ClaimDecision(models.Model):
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="decisions")
    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    reason = models.TextField(blank=True)
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("claim", "decided_at")
        constraints = [
            models.UniqueConstraint(fields=["claim", "membership"], name="claim_decision_once"),
        ]


class ClaimReminder(models.Model):
    """A reminder to the members who have not decided on a pending claim yet."""

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="reminders")
    sent_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    sent_to = models.ManyToManyField(Membership, related_name="+")
    sent_at = models.DateTimeField(default=timezone.now)


class GiftRun(models.Model):
    """The monthly gift run for one pool and month: once only, whatever runs it."""

    # No index of its own: the unique (pool, month) index serves every look-up by pool.
    pool = models.ForeignKey(
        Pool, on_delete=models.PROTECT, related_name="gift_runs", db_index=False
    )
    month = models.DateField()
    cut_percent = models.PositiveSmallIntegerField(default=0)
    ran_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("pool", "-month")
        constraints = [
            models.UniqueConstraint(fields=["pool", "month"], name="gift_run_month"),
        ]


class Gift(models.Model):
    """What one claim received in one gift run: its gross gift, the cut and the shortfalls
    are kept here because the journal records only what was actually given."""

    # No index of its own: the unique (run, claim) index serves every look-up by run.
    run = models.ForeignKey(GiftRun, on_delete=models.PROTECT, related_name="gifts", db_index=False)
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="gifts")
    gross = models.BigIntegerField()
    after_cut = models.BigIntegerField()
    received = models.BigIntegerField()
    journal_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ("run", "claim")
        constraints = [
            models.UniqueConstraint(fields=["run", "claim"], name="gift_once_per_run"),
        ]


class GiftShortfall(models.Model):
    """A giver whose reserve could not cover their share of a gift."""

    gift = models.ForeignKey(Gift, on_delete=models.PROTECT, related_name="shortfalls")
    giver = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    owed = models.BigIntegerField()
    given = models.BigIntegerField()


class VoteSubject(models.TextChoices):
    ADMISSION = "admission", "Admission"
    RULE_CHANGE = "rule_change", "Rule change"
    GRANT = "grant", "Large grant"
    WAIVER = "waiver", "Waiving gifts owed back"


class VoteStatus(models.TextChoices):
    OPEN = "open", "Open"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Did not pass"


class Vote(models.Model):
    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="votes")
    subject = models.CharField(max_length=12, choices=VoteSubject.choices)
    title = models.CharField(max_length=200)
    # What passing does: the applicant admitted, the proposed rules adopted, the grant paid.
    applicant = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    proposed_rules = models.JSONField(null=True, blank=True)
    claim = models.ForeignKey(
        Claim, on_delete=models.PROTECT, null=True, blank=True, related_name="votes"
    )
    # Why the proposer asks (a waiver): members' free text, shown only to those who see names.
    reason = models.TextField(blank=True)
    opened_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    closes_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=VoteStatus.choices, default=VoteStatus.OPEN)
    # Who could vote, fixed when the vote opened: later joiners do not move the quorum.
    eligible = models.ManyToManyField(Membership, related_name="+")
    result = models.JSONField(default=dict, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("pool", "-opened_at")


class RepaymentKind(models.TextChoices):
    PAID = "paid", "Paid back"
    FROM_RESERVE = "reserve", "Taken from the reserve on leaving"
    WAIVED = "waived", "Waived by the members' vote"


class Repayment(models.Model):
    """Part of what a claim owes back (gifts given for months after a late-reported
    recovery, ``services.owed_back``): paid into the pool's bank, taken from the member's
    reserve when they leave (each by its journal, which returns every giver their share),
    or waived by a vote (no journal: the givers forgo it)."""

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="repayments")
    kind = models.CharField(max_length=8, choices=RepaymentKind.choices)
    amount = models.BigIntegerField()
    # The ledger journal's idempotency key (a waiver's: its vote): a repeated form or
    # retried call finds its repayment here instead of booking a second one.
    key = models.CharField(max_length=160, unique=True)
    journal_id = models.BigIntegerField(null=True, blank=True)
    received_on = models.DateField()
    recorded_by = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    vote = models.OneToOneField(
        "Vote", on_delete=models.PROTECT, null=True, blank=True, related_name="waiver"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("claim", "recorded_at", "id")


class Choice(models.TextChoices):
    YES = "yes", "Yes"
    NO = "no", "No"
    ABSTAIN = "abstain", "Abstain"


class Ballot(models.Model):
    vote = models.ForeignKey(Vote, on_delete=models.PROTECT, related_name="ballots")
    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    choice = models.CharField(max_length=8, choices=Choice.choices)
    cast_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("vote", "cast_at")
        constraints = [
            models.UniqueConstraint(fields=["vote", "membership"], name="one_member_one_vote"),
        ]


class Round(models.Model):
    """A rotating savings round: everyone pays in, one member takes the pot."""

    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="rounds")
    cycle = models.PositiveIntegerField()
    number = models.PositiveIntegerField()
    month = models.DateField()
    recipient = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    pot = models.BigIntegerField()
    journal_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ("pool", "cycle", "number")
        constraints = [
            models.UniqueConstraint(fields=["pool", "cycle", "number"], name="pool_round"),
            models.UniqueConstraint(fields=["pool", "month"], name="pool_round_month"),
        ]


class Refund(models.Model):
    """The yearly refund of a reserve above the cap."""

    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="refunds")
    # The membership's period (Membership.period): a member refunded before leaving who comes
    # back the same year and builds a reserve above the cap again is refunded again.
    period = models.PositiveSmallIntegerField(default=1)
    year = models.PositiveIntegerField()
    amount = models.BigIntegerField()
    journal_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "period", "year"], name="pool_refund_period_year"
            ),
        ]


class EmailInvitation(models.Model):
    """An invitation to an address that has no Keel account yet. It becomes an ordinary
    invitation (an invited Membership) when someone with that address joins Keel; until then
    the pool's stewards see it by its address and may withdraw it."""

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="email_invitations")
    email = models.EmailField()
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="pool_email_invitations_sent",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("pool", "created_at")
        constraints = [
            models.UniqueConstraint(fields=["pool", "email"], name="pool_email_invitation_once")
        ]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.pool}"
