"""The income figures of `keel bench`: the shape of the result, never a timing threshold."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from keel import bench
from keel.bench import figure_groups, format_table, run_bench
from keel.bench_income import UPWORK_HEADER, write_upwork_file

FIGURE_KEYS = {"name", "value", "unit", "baseline", "ratio", "target", "better", "met"}
INCOME_NAMES = [
    "import.upwork.sqlite",
    "import.upwork.parse",
    "dashboard.sqlite",
    "forecast.backtest.coverage",
]


def test_income_group_is_registered_after_the_ledger():
    assert figure_groups()[:2] == ["ledger", "income"]


def test_generated_upwork_file_has_the_real_header_and_exact_row_count(tmp_path):
    path = tmp_path / "upwork.csv"
    shape = write_upwork_file(path, 501)
    with path.open(encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    sample = (Path(__file__).parents[3] / "docs" / "samples" / "upwork.csv").read_text()
    assert sample.splitlines()[0].lstrip("\ufeff") == UPWORK_HEADER
    assert table[0] == UPWORK_HEADER.split(",")
    assert shape["rows"] == len(table) - 1 == 501
    refs = [row[13] for row in table[1:]]
    assert len(set(refs)) == len(refs)
    # Newest first, as Upwork writes it: the Ref IDs (issued in order) go down.
    assert refs == sorted(refs, reverse=True)
    types = {row[2] for row in table[1:]}
    assert {"Hourly", "Fixed-price", "Service Fee", "Withdrawal", "Withdrawal Fee"} <= types


@pytest.mark.slow
def test_income_bench_returns_every_figure():
    messages: list[str] = []
    # 50,000 rows and items in quick mode: 2,000 of each.
    result = run_bench(
        quick=True, backends=["sqlite"], scale=0.04, groups=["income"], progress=messages.append
    )
    figures = result["figures"]
    assert [f["name"] for f in figures] == INCOME_NAMES
    for fig in figures:
        assert set(fig) == FIGURE_KEYS
        assert fig["value"] > 0 and fig["baseline"] > 0
        assert fig["ratio"] == round(fig["value"] / fig["baseline"], bench.RATIO_DIGITS)
        if fig["target"] is None:
            assert fig["met"] is None
        elif fig["better"] == "higher":
            assert fig["met"] is (fig["ratio"] >= fig["target"])
        else:
            assert fig["met"] is (fig["ratio"] <= fig["target"])
    imported, parse, dashboard, coverage = figures
    assert (imported["unit"], parse["unit"], dashboard["unit"], coverage["unit"]) == (
        "rows/s", "rows/s", "ms", "share"
    )  # fmt: skip
    assert (imported["target"], parse["target"], dashboard["target"], coverage["target"]) == (
        0.30, None, 3.0, 1.0
    )  # fmt: skip
    assert [f["better"] for f in figures] == ["higher", "higher", "lower", "higher"]
    assert coverage["baseline"] == 0.8 and 0 < coverage["value"] <= 1
    assert "income/import: 2,000 rows" in " ".join(messages)
    assert "income/dashboard: done" in messages
    assert result["notes"][0].startswith("income: the import and dashboard figures are")
    assert result["notes"][1].startswith("forecast.backtest.coverage: ratio")
    table = format_table(result)
    for name in INCOME_NAMES:
        assert name in table


def test_income_group_skips_without_sqlite():
    # No child process runs: the group only notes why it has no figures.
    result = run_bench(quick=True, backends=["postgres"], groups=["income"])
    assert result["figures"] == []
    assert result["notes"] == ["income figures skipped: they are measured on SQLite only"]
