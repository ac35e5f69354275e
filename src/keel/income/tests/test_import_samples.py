"""Every shipped sample books into the ledger with the totals docs/samples/EXPECTED.json
states, re-importing it adds nothing, and `keel import` reports the same in JSON."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from keel.accounts.services import create_worker
from keel.cli import main
from keel.income import services as income
from keel.income.models import ImportProfileRecord, IncomeItem
from keel.ledger import services as ledger
from keel.ledger.models import Account, Journal

SAMPLES = Path(__file__).resolve().parents[4] / "docs" / "samples"
EXPECTED = {
    name: spec
    for name, spec in json.loads((SAMPLES / "EXPECTED.json").read_text()).items()
    if not name.startswith("_")
}


@pytest.fixture
def worker(db):
    user = create_worker("sam@example.org", name="Sam Okafor", password=None, currency="USD")
    # Cash here is exactly what reached the bank; the set-aside has its own test.
    settings = income.income_settings(user)
    settings.tax_set_aside = False
    settings.save()
    # Shared EUR→USD rates for the sample years, so euro rows can be converted.
    day = date(2023, 1, 1)
    while day <= date(2025, 12, 31):
        income.set_rate(None, "EUR", "USD", day, "1.1000")
        day += timedelta(days=7)
    return user


def _source_and_profile(worker, fmt: str):
    if fmt == "csv":
        config = json.loads((SAMPLES / "csv-bank.profile.json").read_text())
        profile = ImportProfileRecord.objects.create(
            worker=worker, name=config["name"], config=config
        )
        return income.ensure_source(worker, "Girokonto", kind="other"), profile
    return income.source_for_import(worker, fmt), None


def _owner_total(worker, prefix: str, currency: str) -> int:
    total = 0
    for account in Account.objects.filter(
        owner_id=worker.pk, code__startswith=prefix, currency=currency
    ):
        total += ledger.balance(account).posted
    return total


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_books_its_expected_totals(worker, name):
    spec = EXPECTED[name]
    source, profile = _source_and_profile(worker, spec["format"])
    with (SAMPLES / name).open("rb") as handle:
        summary = income.import_file(
            worker, handle, fmt=spec["format"], source=source, profile=profile
        )
    assert summary.rejected == []
    assert (summary.rows_read, summary.imported, summary.applied) == (
        spec["rows_read"],
        spec["moved"],
        True,
    )
    base = f"worker:{worker.pk}:"
    for currency, kinds in spec["totals"].items():

        def get(kind: str, field: str, kinds: dict = kinds) -> int:
            return kinds.get(kind, {}).get(field, 0)

        earned = get("income", "gross") + get("income", "tips") - get("refund", "gross")
        fees = sum(get(kind, "fee") for kind in ("income", "refund", "fee", "transfer"))
        held = sum(get(kind, "net") for kind in ("income", "refund", "fee", "transfer"))
        to_bank = -get("transfer", "net") - get("transfer", "fee")
        assert _owner_total(worker, base + "income:", currency) == earned, currency
        assert _owner_total(worker, base + "expenses:fees:", currency) == fees, currency
        assert _owner_total(worker, base + "sources:", currency) == held, currency
        # What left a balance went to the worker's bank (cash) or was spent (a purchase,
        # a bill: outside their books).
        moved_out = _owner_total(worker, base + "cash", currency) + _owner_total(
            worker, base + "expenses:spent", currency
        )
        assert moved_out == to_bank, currency
    journals = Journal.objects.count()
    with (SAMPLES / name).open("rb") as handle:
        again = income.import_file(
            worker, handle, fmt=spec["format"], source=source, profile=profile
        )
    assert (again.imported, again.duplicates) == (0, spec["moved"])
    assert Journal.objects.count() == journals
    assert ledger.verify().ok


def test_keel_import_json_summary(worker, capsys):
    code = main(
        [
            "import",
            str(SAMPLES / "upwork.csv"),
            "--format",
            "upwork",
            "--worker",
            "sam@example.org",
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["rows_read"], report["imported"], report["duplicates"]) == (13, 7, 0)
    assert report["rejected"] == []
    # Hand-checked in docs/importers.md: 1,033.00 earned, 103.30 fees on payments.
    assert report["totals"]["USD"]["income_gross"] == 103_300
    assert IncomeItem.objects.filter(worker__email="sam@example.org").count() == 7


def test_keel_import_refuses_a_file_with_a_bad_row_and_books_nothing(worker, tmp_path, capsys):
    lines = (SAMPLES / "upwork.csv").read_text(encoding="utf-8").splitlines()
    bad = lines[0] + "\n" + lines[1].replace("-0.99", "-0.9x9") + "\n" + "\n".join(lines[2:])
    path = tmp_path / "bad.csv"
    path.write_text(bad, encoding="utf-8")
    code = main(["import", str(path), "--format", "upwork", "--worker", "sam@example.org"])
    assert code == 1
    err = capsys.readouterr().err
    assert "line 2, column Amount $" in err
    assert "nothing was imported" in err
    assert IncomeItem.objects.count() == 0
    assert Journal.objects.count() == 0


def test_keel_report_json(worker, capsys):
    assert (
        main(
            [
                "import",
                str(SAMPLES / "upwork.csv"),
                "--format",
                "upwork",
                "--worker",
                "sam@example.org",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["report", "--worker", "sam@example.org", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["currency"] == "USD"
    assert report["forecast"]["days"] == 90
    assert set(report) >= {
        "coefficient_of_variation",
        "spikes_and_dips",
        "largest_source",
        "baseline_coverage",
        "runway_months",
        "salary",
        "buffer",
        "tax",
    }


def test_keel_import_profile_then_csv_import(worker, capsys):
    profile = SAMPLES / "csv-bank.profile.json"
    assert main(["import-profile", str(profile), "--worker", "sam@example.org"]) == 0
    assert "saved import profile 'Girokonto (DE)'" in capsys.readouterr().out
    code = main(
        [
            "import",
            str(SAMPLES / "csv-bank.csv"),
            "--format",
            "csv",
            "--worker",
            "sam@example.org",
            "--source",
            "Girokonto",
            "--profile",
            "Girokonto (DE)",
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["imported"] == EXPECTED["csv-bank.csv"]["moved"]


def test_a_bad_profile_names_the_key(worker, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "columns": {}}))
    assert main(["import-profile", str(bad), "--worker", "sam@example.org"]) == 1
    assert "columns" in capsys.readouterr().err
    assert ImportProfileRecord.objects.count() == 0


def test_keel_import_says_what_it_booked_and_that_a_reimport_books_nothing(worker, capsys):
    args = ["import", str(SAMPLES / "upwork.csv"), "--format", "upwork",
            "--worker", "sam@example.org"]  # fmt: skip
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "booked 7 item(s)"
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "nothing new to book: every row was imported before"
