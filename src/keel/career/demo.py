"""The demo worker's career, built through the real services so every figure on the career
pages comes from her books: what she sells, her client contracts, her current 90-day plan
and her reputation.

* **Offers**: a monthly membership with 40 subscribers who joined over the last eighteen
  months (some pay yearly; some paused, one is paused now, five cancelled and one of them
  came back), a content-strategy retainer with three clients (the third signed during the
  plan) whose monthly fees are booked as income and whose hours are logged against the
  ten a month the retainer includes, and a pricing workbook sold once.
* **Upsell**: from the workbook to the membership; eight of its 34 buyers joined the
  membership within two months, a 24% conversion inside the 20-30% band (with the 30
  buyers the band needs before it judges).
* **Contracts**: an annual-report job whose first milestone was funded, delivered and
  released (booked as income from the client) and whose second is funded and in progress;
  and a copywriting job whose first milestone was delivered and is now late under the
  Freelance Isn't Free rule. That client asked for a 60-day review window, so Keel's
  automatic release (which would pay it) is still weeks away, as happens in real life.
* **Plan**: a 90-day plan that started 45 days before ``end`` (half-way through), with an
  MRR target, the retainer as its one expansion channel, key actions (done, overdue and
  open) and six weekly check-ins.
* **Reputation**: three portfolio items, two testimonials written through the real
  signed-link flow (a request issues the link; the client's page's service writes it) and
  a public profile at ``/p/maya-alvarez/``.

* **Peers**: a peer group she started with the other demo workers (each accepted her
  invitation; the last is still invited), a gig she passed to a peer who accepted it, did it
  and paid her referral fee (one journal in both ledgers), and a gig a peer offered her
  that waits for her answer.

Loading is idempotent: each part already there is left as it is (checked before it is
built; each part is built in one transaction, so it is either all there or not at all).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction

from keel.accounts.models import User

from . import offers as offer_services
from . import peer_services, planning, reputation_services, retainers, services, upselling
from .models import Contract, Offer, PeerGroup, Plan, Profile, TestimonialRequest
from .services import MilestoneInput

CURRENCY = "USD"
MEMBERSHIP = "Studio Notes membership"
RETAINER = "Content strategy retainer"
WORKBOOK = "Freelance pricing workbook"
MEMBERSHIP_PRICE = 1_200  # $12.00 a month
MEMBERSHIP_YEARLY = 12_000  # $120.00 a year for those who pay yearly
RETAINER_PRICE = 150_000  # $1,500.00 a month for 10 hours
WORKBOOK_PRICE = 4_900  # $49.00
MEMBERS = 40
HISTORY_DAYS = 540  # eighteen months of membership
PLAN_DAY = 45  # the plan started this many days before ``end``
HANDLE = "maya-alvarez"
PEER_GROUP = "Brand and content peers"
REFERRAL_FEE = 15_000  # $150.00 for passing on a gig

FIRST_NAMES = (
    "Alex",
    "Bea",
    "Carmen",
    "Dev",
    "Elif",
    "Finn",
    "Gita",
    "Hugo",
    "Iris",
    "Jamal",
    "Kira",
    "Leo",
    "Mina",
    "Nils",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
)
LAST_NAMES = ("Adler", "Brooks", "Chen", "Duarte", "Evans", "Frey", "Gomez", "Holm")

# Membership lifecycles, by subscriber number (0..39): days after their start.
PAUSED_AND_BACK = {3: (60, 120), 11: (75, 130), 19: (45, 100)}
PAUSED_NOW = {27: 40}
CANCELLED = {1: 90, 7: 95, 14: 150, 22: 200, 30: 80}
REACTIVATED = {7: 200}  # cancelled at 95 days, back at 200
YEARLY = frozenset({5, 13, 21, 29, 37})
# Workbook buyers who joined the membership: member number -> days between the two.
UPSELL_TAKERS = {4: 20, 8: 7, 12: 14, 16: 30, 20: 9, 24: 45, 28: 21, 32: 12}
OTHER_BUYERS = 26

RETAINER_WORK = (
    "Editorial calendar",
    "Two blog posts",
    "Newsletter draft",
    "Landing page copy",
    "Edits and review call",
)
RETAINER_CLIENTS = (
    # name, email, days before ``end`` they started
    ("Bluebird Coffee", "ops@bluebird.example", 420),
    ("Harbor Health", "marketing@harborhealth.example", 240),
    ("Lumen Labs", "hello@lumenlabs.example", 20),  # signed during the plan
)


@dataclass
class CareerSummary:
    offers: int = 0
    subscribers: int = 0
    contracts: int = 0
    plans: int = 0
    testimonials: int = 0
    portfolio_items: int = 0
    peer_groups: int = 0

    def describe(self) -> str:
        plans = "plan" if self.plans == 1 else "plans"
        groups = "group" if self.peer_groups == 1 else "groups"
        return (
            f"{self.offers} offers with {self.subscribers} subscribers and buyers,"
            f" {self.contracts} contracts, {self.plans} 90-day {plans},"
            f" {self.portfolio_items} portfolio items, {self.testimonials} testimonials"
            f" and {self.peer_groups} peer {groups} added"
        )


def load_career_demo(
    *,
    worker: User,
    others: Sequence[User],
    end: date,
    progress: Callable[[str], None] = lambda line: None,
) -> CareerSummary:
    """Build the demo worker's career up to ``end`` (see the module docstring). ``others``
    are the other demo workers, her peers."""
    summary = CareerSummary()
    if not Offer.objects.filter(worker=worker, name=MEMBERSHIP).exists():
        with transaction.atomic():
            summary.subscribers += _offers(worker, end)
        summary.offers += 3
        progress(f"{worker.name}: a membership, a retainer and a workbook, with an upsell")
    if not Contract.objects.filter(worker=worker, request_key="demo-kestrel").exists():
        with transaction.atomic():
            _contracts(worker, end)
        summary.contracts += 2
        progress(f"{worker.name}: two client contracts, one milestone paid and one late")
    if not Plan.objects.filter(worker=worker).exists():
        with transaction.atomic():
            _plan(worker, end)
        summary.plans += 1
        progress(f"{worker.name}: a 90-day plan, day {PLAN_DAY} of 90")
    if not TestimonialRequest.objects.filter(worker=worker, request_key="demo-t1").exists():
        with transaction.atomic():
            summary.portfolio_items += _portfolio(worker, end)
            summary.testimonials += _testimonials(worker, end)
    if not Profile.objects.filter(worker=worker).exists():
        reputation_services.save_profile(
            worker,
            handle=HANDLE,
            headline="Brand writer and content strategist for small studios",
            bio="I write the words that make small brands sound like themselves: websites,"
            " annual reports and launch campaigns, and a monthly retainer for teams that"
            " publish every week. Members of Studio Notes get my working templates.",
            public=True,
        )
        progress(f"{worker.name}: portfolio, testimonials and a public profile at /p/{HANDLE}/")
    if len(others) >= 2 and not PeerGroup.objects.filter(
        created_by=worker, request_key="demo-peers"
    ):
        with transaction.atomic():
            _peers(worker, others, end)
        summary.peer_groups += 1
        progress(f"{worker.name}: a peer group of {len(others) + 1}, a referral fee paid")
    return summary


# ---------------------------------------------------------------------------- peers


def _peers(worker: User, others: Sequence[User], end: date) -> None:
    group = peer_services.start_group(worker, name=PEER_GROUP, key="demo-peers")
    # Everyone but the last accepts; the last invitation is still open.
    for n, peer in enumerate(others):
        invitation = peer_services.invite(group, worker, peer.email)
        if invitation is not None and n < len(others) - 1:
            peer_services.respond(peer, invitation.pk, accept=True)
    taker, giver = others[0], others[1]
    passed = peer_services.offer_referral(
        group,
        worker,
        to_worker_id=taker.pk,
        title="Website copy for a bakery's relaunch",
        description="Six pages and a menu; they need it in three weeks and I am booked.",
        client_name="Crumb & Co",
        fee_amount=REFERRAL_FEE,
        fee_currency=CURRENCY,
        key="demo-referral-out",
    )
    peer_services.move_referral(passed, taker, "accept")
    peer_services.move_referral(passed, taker, "done")
    peer_services.pay_fee(passed, taker, on=end - timedelta(days=12))
    peer_services.offer_referral(
        group,
        giver,
        to_worker_id=worker.pk,
        title="Annual report editing for a housing co-op",
        description="Forty pages, plain-language edit, due next month.",
        client_name="Northside Housing Co-op",
        key="demo-referral-in",
    )


# ---------------------------------------------------------------------------- offers


def _person(n: int) -> tuple[str, str]:
    first = FIRST_NAMES[n % len(FIRST_NAMES)]
    last = LAST_NAMES[(n // len(FIRST_NAMES) + n) % len(LAST_NAMES)]
    return f"{first} {last}", f"{first}.{last}.{n}@example.net".lower()


def _offers(worker: User, end: date) -> int:
    membership = offer_services.create_offer(
        worker,
        name=MEMBERSHIP,
        kind="membership",
        price=MEMBERSHIP_PRICE,
        currency=CURRENCY,
        interval="month",
    )
    retainer = offer_services.create_offer(
        worker,
        name=RETAINER,
        kind="retainer",
        price=RETAINER_PRICE,
        currency=CURRENCY,
        interval="month",
        retainer_units=10,
        retainer_unit="hours",
        retainer_on_unused="roll_over",
        retainer_rollover_cap=5,
    )
    workbook = offer_services.create_offer(
        worker, name=WORKBOOK, kind="digital_product", price=WORKBOOK_PRICE, currency=CURRENCY
    )
    first = end - timedelta(days=HISTORY_DAYS)
    added = 0
    # The membership: one joins about every thirteen days.
    for n in range(MEMBERS):
        name, email = _person(n)
        started = first + timedelta(days=13 * n)
        if n in UPSELL_TAKERS:
            # They bought the workbook first, then joined.
            buyer = offer_services.add_subscriber(workbook, name=name, email=email)
            bought = started - timedelta(days=UPSELL_TAKERS[n])
            offer_services.record_payment(
                workbook, amount=WORKBOOK_PRICE, on=bought, subscriber=buyer, key=f"demo-{n}"
            )
            added += 1
        yearly = n in YEARLY
        member = offer_services.add_subscriber(
            membership,
            name=name,
            email=email,
            start_on=started,
            price=MEMBERSHIP_YEARLY if yearly else None,
            interval="year" if yearly else None,
        )
        added += 1
        events: list[tuple[int, str]] = []
        if n in PAUSED_AND_BACK:
            pause, back = PAUSED_AND_BACK[n]
            events += [(pause, "pause"), (back, "resume")]
        if n in PAUSED_NOW:
            events.append((PAUSED_NOW[n], "pause"))
        if n in CANCELLED:
            events.append((CANCELLED[n], "cancel"))
        if n in REACTIVATED:
            events.append((REACTIVATED[n], "start"))
        for days, kind in sorted(events):
            on = started + timedelta(days=days)
            if on <= end:
                offer_services.record_event(member, kind, on)
    # The workbook's other buyers: one-off purchases, the last one 100 days ago (so every
    # buyer's 60-day window to join has closed and counts).
    for k in range(OTHER_BUYERS):
        name, email = _person(MEMBERS + k)
        buyer = offer_services.add_subscriber(workbook, name=name, email=email)
        bought = end - timedelta(days=400 - 12 * k)
        offer_services.record_payment(
            workbook, amount=WORKBOOK_PRICE, on=bought, subscriber=buyer, key=f"demo-b{k}"
        )
        added += 1
    # The retainer: three clients, each paying the month's fee on the day they signed.
    for name, email, days in RETAINER_CLIENTS:
        started = end - timedelta(days=days)
        client = offer_services.add_subscriber(retainer, name=name, email=email, start_on=started)
        added += 1
        month = 0
        while (paid_on := started + timedelta(days=30 * month)) <= end:
            offer_services.record_payment(
                retainer,
                amount=RETAINER_PRICE,
                on=paid_on,
                subscriber=client,
                key=f"demo-{client.pk}-{month}",
            )
            month += 1
        # Hours logged every nine days or so: some months leave hours to roll over.
        for visit, day in enumerate(range(started.toordinal() + 2, end.toordinal() + 1, 9)):
            retainers.log_use(
                client,
                on=date.fromordinal(day),
                units=2 + (visit * 7 + days) % 3,
                note=RETAINER_WORK[visit % len(RETAINER_WORK)],
            )
    upselling.create_upsell(
        worker, base=workbook, follow_on=membership, window_days=60, key="demo-upsell"
    )
    return added


# ---------------------------------------------------------------------------- contracts


def _contracts(worker: User, end: date) -> None:
    def day(before: int) -> date:
        return end - timedelta(days=before)

    report = services.create_contract(
        worker,
        title="Annual report 2025",
        client_name="Kestrel Outdoor",
        client_email="finance@kestrel.example",
        currency=CURRENCY,
        credit_limit=600_000,
        milestones=[
            MilestoneInput("Structure, interviews and first draft", 240_000, due_on=day(40)),
            MilestoneInput("Final copy and print proofs", 360_000, due_on=day(-20)),
        ],
        key="demo-kestrel",
    )
    paid, in_progress = report.milestones.order_by("sequence")
    paid = services.fund_milestone(paid, on=day(70), recorded_by=worker)
    paid = services.deliver_milestone(paid, on=day(50), recorded_by=worker)
    services.release_milestone(paid, on=day(44), recorded_by=worker)
    services.fund_milestone(in_progress, on=day(30), recorded_by=worker)

    copy = services.create_contract(
        worker,
        title="Website copy for the spring launch",
        client_name="Fernway Press",
        client_email="studio@fernway.example",
        currency=CURRENCY,
        credit_limit=250_000,
        review_window_days=60,
        milestones=[
            MilestoneInput("Homepage and about page", 120_000, due_on=day(18)),
            MilestoneInput("Product pages and launch emails", 180_000, due_on=day(-25)),
        ],
        key="demo-fernway",
    )
    late = copy.milestones.order_by("sequence").first()
    assert late is not None
    late = services.fund_milestone(late, on=day(40), recorded_by=worker)
    late = services.deliver_milestone(late, on=day(25), recorded_by=worker)
    services.issue_invoice(late, on=day(25), recorded_by=worker)


# ---------------------------------------------------------------------------- the plan


def _plan(worker: User, end: date) -> Plan:
    starts = end - timedelta(days=PLAN_DAY)
    start_mrr = planning.mrr_series(worker.pk, CURRENCY, starts, starts)[starts]
    plan = planning.create_plan(
        worker,
        starts_on=starts,
        currency=CURRENCY,
        # Two more retainer clients and a handful of members in 90 days.
        target_mrr=start_mrr + 2 * RETAINER_PRICE + 10 * MEMBERSHIP_PRICE,
        expansion_channel=f"{RETAINER} (offer)",
        expansion_target=9 * RETAINER_PRICE,
    )
    actions = (
        ("Pitch the retainer to three past clients", 10, 8),
        ("Publish the Harbor Health case study", 30, 33),
        ("Email the workbook buyers about the membership", 40, None),
        ("Run a membership open week", 55, None),
        ("Raise the workbook price to $59", 75, None),
    )
    for title, due, done in actions:
        action = planning.add_action(plan, title, starts + timedelta(days=due))
        if done is not None:
            planning.mark_done(plan, action.pk, starts + timedelta(days=done))
    notes = (
        "Three pitches out; Lumen Labs asked for a call.",
        "Two calls booked. Membership quiet this week.",
        "Case study drafted, waiting for Harbor's sign-off.",
        "Lumen Labs signed: the retainer has three clients.",
        "Fernway has not paid the first milestone; sent a reminder with the invoice.",
        "Half-way. Retainer on plan, members behind: the open week should help.",
    )
    for week, note in enumerate(notes):
        planning.check_in(plan, starts + timedelta(days=7 * week + 4), note, today=end)
    return plan


# ---------------------------------------------------------------------------- reputation


def _portfolio(worker: User, end: date) -> int:
    items = (
        (
            "Kestrel Outdoor annual report",
            "Forty pages on a year of repairs, rentals and recycled gear: interviews with"
            " twelve staff, the structure and every word.",
            "https://kestrel.example/annual-report",
            "Kestrel Outdoor",
            "long-form writing, interviews, editing",
            44,
        ),
        (
            "How Harbor Health explains a bill",
            "A long-form guide that took patients' questions about their bills from 400 a"
            " month to 90.",
            "https://harborhealth.example/guides/your-bill",
            "Harbor Health",
            "plain language, content strategy, research",
            160,
        ),
        (
            "Bluebird Coffee: the origin stories",
            "A series of twelve essays on the farms behind each roast, one a month.",
            "https://bluebird.example/origins",
            "Bluebird Coffee",
            "long-form writing, content strategy",
            300,
        ),
    )
    for n, (title, summary, link, client, skills, days) in enumerate(items, start=1):
        reputation_services.create_portfolio_item(
            worker,
            key=f"demo-portfolio-{n}",
            title=title,
            summary=summary,
            link=link,
            client_name=client,
            skills=skills,
            done_on=end - timedelta(days=days),
        )
    return len(items)


def _testimonials(worker: User, end: date) -> int:
    """Two testimonials through the signed-link flow: the request issues the link, then the
    client's page's service writes the testimonial with it."""
    written = (
        (
            "demo-t1",
            ("Kestrel Outdoor", "finance@kestrel.example"),
            "Maya turned a year of scattered notes into a report our staff actually read."
            " She interviewed people we had never asked and found the story in it.",
            "Jo Whitfield",
            "Head of Communications, Kestrel Outdoor",
            40,
        ),
        (
            "demo-t2",
            ("Harbor Health", "marketing@harborhealth.example"),
            "Our billing questions dropped by three quarters after Maya's guide went live."
            " Clear, calm writing, and she never missed a deadline.",
            "Dr. Amara Osei",
            "Patient Experience Lead, Harbor Health",
            150,
        ),
    )
    for key, (client, email), text, author, role, days in written:
        asked = datetime.combine(end - timedelta(days=days), time(9), tzinfo=UTC)
        _, token = reputation_services.request_testimonial(
            worker, client_name=client, client_email=email, now=asked, key=key
        )
        assert token is not None  # a new request: the key was checked before
        reputation_services.write_testimonial(
            token, text=text, author_name=author, author_role=role, now=asked + timedelta(days=2)
        )
    return len(written)
