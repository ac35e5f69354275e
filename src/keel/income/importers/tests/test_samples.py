"""Every sample in docs/samples produces exactly what docs/samples/EXPECTED.json says."""

from __future__ import annotations

import json

import pytest

from keel.income.importers import FORMATS, detect_format, parse, row_problems

from .helpers import SAMPLES, sample_profile

EXPECTED = {
    name: spec
    for name, spec in json.loads((SAMPLES / "EXPECTED.json").read_text(encoding="utf-8")).items()
    if not name.startswith("_")
}


def test_there_is_one_sample_per_format():
    assert sorted(spec["format"] for spec in EXPECTED.values()) == sorted(FORMATS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_gives_its_expected_totals(name):
    spec = EXPECTED[name]
    profile = sample_profile(spec["profile"]) if "profile" in spec else None
    with (SAMPLES / name).open("rb") as stream:
        result = parse(spec["format"], stream, profile=profile)
    assert result.format == spec["format"]
    assert result.rejected == []
    assert result.rows_read == spec["rows_read"]
    assert len(result.rows) == spec["moved"]
    assert len(result.skipped) == spec["skipped"]
    assert len(result.rejected) == spec["rejected"]
    assert result.totals() == spec["totals"]
    assert [problem for row in result.rows for problem in row_problems(row)] == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_format_is_detected_from_its_header(name):
    expected = EXPECTED[name]["format"]
    head = (SAMPLES / name).read_bytes()[:2048]
    assert detect_format(head) == (None if expected == "csv" else expected)
