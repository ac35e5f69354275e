"""Elective withholding from imported income: with the worker's written consent, a share of
the net amount of every newly imported income item moves into the benefits buckets, in the
import's own transaction; stopping it stops it at once. Driven through the real income
import of a shipped sample file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from keel.accounts.models import User
from keel.gateway import services
from keel.gateway.errors import GatewayError
from keel.gateway.services import benefits as benefits_services
from keel.income import services as income
from keel.income.importers.base import ParsedRow, RowKind
from keel.income.models import IncomeItem, Source
from keel.income.signals import BookedIncome, income_booked
from keel.ledger import services as ledger
from keel.ledger.models import Journal

SAMPLES = Path(__file__).resolve().parents[4] / "docs" / "samples"
UPWORK_CSV = SAMPLES / "upwork.csv"
# The four income items of the Upwork sample, as booked: gross - fee = net.
UPWORK_NETS = [23_220, 45_000, 6_750, 18_000]
# 5% of each, rounded half up per item: 6,750 * 5% = 337.5 -> 338.
UPWORK_SHARES_5 = [1_161, 2_250, 338, 900]
# Each share split 30/30/20/10/10 by largest remainder, summed over the four items.
UPWORK_BUCKETS_5 = {
    "health": 349 + 675 + 101 + 270,
    "retirement": 348 + 675 + 101 + 270,
    "time_off": 232 + 450 + 68 + 180,
    "emergency": 116 + 225 + 34 + 90,
    "tax": 116 + 225 + 34 + 90,
}


@pytest.fixture
def importer(worker: User) -> User:
    # Cash here is exactly what reached the bank; the income tax set-aside is its own test.
    settings = income.income_settings(worker)
    settings.tax_set_aside = False
    settings.save()
    return worker


def import_upwork(worker: User) -> income.ImportSummary:
    with UPWORK_CSV.open("rb") as handle:
        return income.import_file(
            worker, handle, fmt="upwork", source=income.source_for_import(worker, "upwork")
        )


def buckets(worker: User) -> dict[str, int]:
    return {b.bucket: b.balance for b in services.bucket_balances(worker) if b.currency == "USD"}


def withholding_journals() -> int:
    return Journal.objects.filter(kind="benefit_withholding").count()


def cash(worker: User) -> int:
    return ledger.balance(income.cash_code(worker, "USD")).posted


def income_row(line: int, net: int, external_id: str, on: date = date(2026, 3, 2)) -> ParsedRow:
    return ParsedRow(
        line=line,
        kind=RowKind.INCOME,
        occurred_on=on,
        currency="USD",
        gross=net,
        net=net,
        external_id=external_id,
        description=f"Invoice {external_id}",
    )


def test_the_receiver_is_connected():
    assert any("gateway.withholding" in str(key) for key, *_ in income_booked.receivers), (
        "the gateway must listen to income_booked"
    )


def test_consent_at_5_percent_withholds_exactly_5_percent_of_each_item(importer):
    services.start_withholding(importer, 500)
    summary = import_upwork(importer)
    assert summary.applied and summary.imported == 7
    items = IncomeItem.objects.filter(worker=importer, kind="income").order_by("occurred_on")
    assert sorted(i.net for i in items) == sorted(UPWORK_NETS)
    journals = Journal.objects.filter(kind="benefit_withholding").order_by("effective_date")
    assert journals.count() == 4
    # One journal per income item, keyed by the item, on the item's own day.
    for journal in journals:
        item = IncomeItem.objects.get(pk=journal.metadata["income_item"])
        assert journal.effective_date == item.occurred_on
        assert journal.idempotency_key == f"gateway:withholding:{item.pk}"
        withheld = sum(
            leg.amount
            for leg in journal.legs.all()
            if leg.account.code == benefits_services.withheld_code(importer, "USD")
        )
        assert withheld == UPWORK_SHARES_5[UPWORK_NETS.index(item.net)]
    assert buckets(importer) == UPWORK_BUCKETS_5
    assert sum(UPWORK_BUCKETS_5.values()) == sum(UPWORK_SHARES_5) == 4_649
    # The money came out of the worker's cash and is recorded as moved to benefits.
    assert ledger.balance(benefits_services.withheld_code(importer, "USD")).posted == 4_649
    assert ledger.verify().ok


def test_withholding_moves_the_share_out_of_cash(importer):
    # The sample's payout brought $400.00 to the bank account; 5% of each payment moved on.
    services.start_withholding(importer, 500)
    import_upwork(importer)
    assert cash(importer) == 40_000 - 4_649


def test_withholding_follows_the_allocation(importer):
    services.set_allocation(
        importer, {"health": 0, "retirement": 10_000, "time_off": 0, "emergency": 0, "tax": 0}
    )
    services.start_withholding(importer, 500)
    import_upwork(importer)
    assert buckets(importer) == {
        "health": 0,
        "retirement": 4_649,
        "time_off": 0,
        "emergency": 0,
        "tax": 0,
    }


def test_without_consent_nothing_is_withheld(importer):
    import_upwork(importer)
    assert withholding_journals() == 0
    assert sum(buckets(importer).values()) == 0
    assert cash(importer) == 40_000


def test_stop_means_the_next_import_moves_nothing(importer):
    source = income.source_for_import(importer, "upwork")
    services.start_withholding(importer, 500)
    income.book_rows(importer, source, [income_row(2, 10_000, "A-1")])
    assert withholding_journals() == 1
    assert sum(buckets(importer).values()) == 500
    assert services.stop_withholding(importer) == 1
    journals = Journal.objects.count()

    booked = income.book_rows(importer, source, [income_row(2, 20_000, "A-2")])

    assert booked.applied and booked.imported == 1
    assert withholding_journals() == 1
    assert Journal.objects.count() == journals + 1  # the income item's own journal only
    assert sum(buckets(importer).values()) == 500


def test_a_new_consent_replaces_the_old_rate(importer):
    source = income.source_for_import(importer, "upwork")
    services.start_withholding(importer, 500)
    services.start_withholding(importer, 1_000)
    income.book_rows(importer, source, [income_row(2, 10_000, "B-1")])
    assert sum(buckets(importer).values()) == 1_000


def test_reimport_adds_nothing(importer):
    services.start_withholding(importer, 500)
    import_upwork(importer)
    journals = Journal.objects.count()
    before = buckets(importer)

    again = import_upwork(importer)

    assert again.imported == 0 and again.duplicates == 7  # every row that moves money
    assert Journal.objects.count() == journals
    assert buckets(importer) == before


def test_refunds_fees_and_transfers_are_not_withheld(importer):
    source = income.source_for_import(importer, "upwork")
    services.start_withholding(importer, 500)
    income.book_rows(
        importer,
        source,
        [
            ParsedRow(2, RowKind.REFUND, date(2026, 3, 2), "USD", gross=5_000, net=-5_000),
            ParsedRow(3, RowKind.FEE, date(2026, 3, 2), "USD", gross=0, fee=300, net=-300),
            ParsedRow(4, RowKind.TRANSFER, date(2026, 3, 2), "USD", gross=9_000, net=-9_000),
            # Income whose fee ate it all: nothing to withhold from.
            ParsedRow(5, RowKind.INCOME, date(2026, 3, 2), "USD", gross=100, fee=100, net=0),
        ],
    )
    assert withholding_journals() == 0
    assert sum(buckets(importer).values()) == 0


def test_a_refused_import_withholds_nothing(importer):
    source = income.source_for_import(importer, "upwork")
    services.start_withholding(importer, 500)
    journals = Journal.objects.count()
    bad = ParsedRow(3, RowKind.INCOME, date(2026, 3, 2), "USD", gross=1_000, fee=0, net=999)

    booked = income.book_rows(importer, source, [income_row(2, 10_000, "C-1"), bad])

    assert not booked.applied
    assert Journal.objects.count() == journals
    assert IncomeItem.objects.filter(worker=importer).count() == 0
    assert sum(buckets(importer).values()) == 0


def test_a_failed_withholding_refuses_the_import(importer, monkeypatch):
    """The import and its withholding are one transaction: if withholding fails, the
    income is not booked either."""

    def broken(worker: User, items: list[tuple[int, date, int, str]]) -> int:
        raise GatewayError("the custody account is closed", field="custody")

    services.start_withholding(importer, 500)
    monkeypatch.setattr(benefits_services, "withhold_from_income", broken)
    journals = Journal.objects.count()

    with pytest.raises(GatewayError, match="custody account is closed"):
        import_upwork(importer)

    assert Journal.objects.count() == journals
    assert IncomeItem.objects.filter(worker=importer).count() == 0
    assert sum(buckets(importer).values()) == 0


def test_the_signal_carries_each_new_income_item(importer):
    seen: list[tuple[User, list[BookedIncome]]] = []

    def listen(sender: object, *, worker: User, items: list[BookedIncome], **kw: object) -> None:
        seen.append((worker, items))

    income_booked.connect(listen, dispatch_uid="test.listen")
    try:
        import_upwork(importer)
        import_upwork(importer)
    finally:
        income_booked.disconnect(dispatch_uid="test.listen")
    first, second = seen
    assert first[0] == importer
    assert sorted(i.net for i in first[1]) == sorted(UPWORK_NETS)
    ids = {i.item_id for i in first[1]}
    assert ids == set(
        IncomeItem.objects.filter(worker=importer, kind="income").values_list("pk", flat=True)
    )
    assert all(i.currency == "USD" for i in first[1])
    assert second == (importer, [])  # a re-import books nothing new


def test_the_web_import_path_withholds_too(importer):
    """Preview, then apply: the path the import page takes."""
    services.start_withholding(importer, 500)
    source = income.source_for_import(importer, "upwork")
    with UPWORK_CSV.open("rb") as handle:
        batch = income.preview_upload(
            importer, name="upwork.csv", stream=handle, fmt="upwork", source=source
        )
    assert withholding_journals() == 0  # a preview books nothing
    summary = income.apply_batch(batch)
    assert summary.applied
    assert buckets(importer) == UPWORK_BUCKETS_5
    assert Source.objects.filter(worker=importer).count() == 1
