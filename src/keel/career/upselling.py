"""Upsells from the books: who bought a base offer, who of them took the follow-on, and
what ``keel.career.rules.upsells`` makes of it.

Purchases
    A purchase of an offer is a subscriber's first *start* event (a recurring offer) or a
    payment matched to the offer (``OfferPayment``: how one-off products and services are
    bought, and also a recurring offer's payments). A buyer's first purchase of the base is
    their base date (the rules take the earliest); every purchase of the follow-on is
    handed to the rules, which count a buyer once, from their first purchase that counts.

Matching buyers across the two offers
    The same person is two ``Subscriber`` rows, one per offer. Two rows are one buyer when
    they share an email address (compared without case and surrounding spaces) or an
    external reference (compared exactly, without surrounding spaces); the match is
    transitive (A and B share an email, B and C a reference: one buyer). A row with
    neither can only match itself, so it is a buyer of the base who can never be a taker.
    A payment matched to no subscriber is a purchase by nobody known: as a base purchase
    it is a buyer of its own, as a follow-on purchase it never counts (the report says how
    many purchases did not count).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import Min

from keel.accounts.models import User
from keel.money import Money

from .errors import CareerError
from .models import Offer, OfferPayment, Subscriber, SubscriptionEvent, Upsell
from .rules import upsells as rules

MAX_WINDOW_DAYS = 3650


def create_upsell(
    worker: User,
    *,
    base: Offer,
    follow_on: Offer,
    window_days: int | None = None,
    key: str = "",
) -> Upsell:
    """A new upsell of two of ``worker``'s offers. With ``key``, a second call with the
    same key returns the upsell the first one created."""
    if key:
        existing = Upsell.objects.filter(worker=worker, request_key=key).first()
        if existing is not None:
            return existing
    if base.worker_id != worker.pk:
        raise CareerError("base: no such offer", field="base", code="missing")
    if follow_on.worker_id != worker.pk:
        raise CareerError("follow_on: no such offer", field="follow_on", code="missing")
    if base.pk == follow_on.pk:
        raise CareerError(
            "follow_on: the follow-on must be another offer than the base",
            field="follow_on",
            code="same_offer",
        )
    if window_days is not None and not 0 <= window_days <= MAX_WINDOW_DAYS:
        raise CareerError(
            f"window_days: must be 0 to {MAX_WINDOW_DAYS} days",
            field="window_days",
            code="invalid",
        )
    if Upsell.objects.filter(base=base, follow_on=follow_on).exists():
        raise CareerError(
            f"follow_on: {follow_on.name} is already the upsell of {base.name}",
            field="follow_on",
            code="duplicate",
        )
    try:
        with transaction.atomic():
            return Upsell.objects.create(
                worker=worker,
                base=base,
                follow_on=follow_on,
                window_days=window_days,
                request_key=key,
            )
    except IntegrityError:
        raise CareerError(
            "follow_on: this upsell already exists", field="follow_on", code="duplicate"
        ) from None


# ---------------------------------------------------------------------------- buyers


class _Identities:
    """Union-find over subscribers: rows sharing an email or a reference are one buyer."""

    def __init__(self, subscribers: Iterable[Subscriber]) -> None:
        self.parent: dict[int, int] = {}
        self.names: dict[int, str] = {}
        owner: dict[str, int] = {}
        for s in subscribers:
            self.parent.setdefault(s.pk, s.pk)
            self.names.setdefault(s.pk, s.name)
            for key in self.keys(s):
                if key in owner:
                    self._union(owner[key], s.pk)
                else:
                    owner[key] = s.pk

    @staticmethod
    def keys(s: Subscriber) -> list[str]:
        keys = []
        if s.email.strip():
            keys.append("email:" + s.email.strip().lower())
        if s.external_reference.strip():
            keys.append("ref:" + s.external_reference.strip())
        return keys

    def find(self, pk: int) -> int:
        root = pk
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[pk] != root:  # path compression
            self.parent[pk], pk = root, self.parent[pk]
        return root

    def _union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def buyer(self, pk: int) -> str:
        return f"s{self.find(pk)}"


def _purchases(offer: Offer, ids: _Identities) -> list[rules.Purchase]:
    """``(buyer, date)`` of every purchase of ``offer``: first starts and payments."""
    rows: list[rules.Purchase] = [
        (ids.buyer(sub_id), first)
        for sub_id, first in SubscriptionEvent.objects.filter(subscriber__offer=offer, kind="start")
        .values("subscriber_id")
        .annotate(first=Min("on"))
        .values_list("subscriber_id", "first")
    ]
    for pay_id, sub_id, on in OfferPayment.objects.filter(offer=offer).values_list(
        "id", "subscriber_id", "on"
    ):
        # A payment by no known subscriber is its own buyer: a base buyer who can never
        # take the follow-on, or a follow-on purchase by no base buyer (never counts).
        rows.append((ids.buyer(sub_id) if sub_id is not None else f"p{pay_id}", on))
    return rows


@dataclass(frozen=True, slots=True)
class BuyerRow:
    """One buyer of the base for the page: their name, base date and, when they took the
    follow-on, the day and how many days after."""

    name: str
    bought_on: date
    took_on: date | None
    days: int | None


@dataclass(frozen=True, slots=True)
class UpsellSummary:
    upsell: Upsell
    report: rules.UpsellReport
    buyers: list[BuyerRow]

    @property
    def in_band(self) -> bool:
        return self.report.band == "inside"


def upsell_summary(upsell: Upsell, today: date, *, with_buyers: bool = True) -> UpsellSummary:
    """The report of ``upsell`` as of ``today`` (the rules' ``as_of``) and, for the page,
    the buyers of the base with the day each took the follow-on (if they did)."""
    subscribers = Subscriber.objects.filter(offer__in=[upsell.base_id, upsell.follow_on_id])
    ids = _Identities(subscribers.order_by("id"))
    base = _purchases(upsell.base, ids)
    follow = _purchases(upsell.follow_on, ids)
    report = rules.upsell_report(
        base,
        follow,
        window_days=upsell.window_days,
        as_of=today,
        upsell_price=Money(upsell.follow_on.price, upsell.follow_on.currency),
    )
    rows: list[BuyerRow] = []
    if with_buyers:
        first: dict[rules.BuyerId, date] = {}
        for buyer, day in base:
            if day <= today and (buyer not in first or day < first[buyer]):
                first[buyer] = day
        for buyer, bought in sorted(first.items(), key=lambda kv: (kv[1], str(kv[0]))):
            took = min(
                (
                    d
                    for b, d in follow
                    if b == buyer
                    and bought <= d <= today
                    and (upsell.window_days is None or (d - bought).days <= upsell.window_days)
                ),
                default=None,
            )
            key = str(buyer)
            name = ids.names.get(ids.find(int(key[1:])), "") if key[0] == "s" else ""
            rows.append(
                BuyerRow(
                    name=name or "Unnamed buyer",
                    bought_on=bought,
                    took_on=took,
                    days=None if took is None else (took - bought).days,
                )
            )
    return UpsellSummary(upsell=upsell, report=report, buyers=rows)


def upsell_summaries(worker: User, today: date) -> list[UpsellSummary]:
    upsells = Upsell.objects.filter(worker=worker).select_related("base", "follow_on")
    return [upsell_summary(u, today, with_buyers=False) for u in upsells]
