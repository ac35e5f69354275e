"""Small helpers for the importer tests (no Django, no database)."""

from __future__ import annotations

import codecs
import io
import json
from pathlib import Path
from typing import Any

from keel.income.importers import ImportProfile, ParsedFile, ParsedRow, parse, row_problems

SAMPLES = Path(__file__).resolve().parents[5] / "docs" / "samples"


def run(
    fmt: str, text: str, *, bom: bool = False, encoding: str = "utf-8", **kw: Any
) -> ParsedFile:
    data = text.encode(encoding)
    if bom:
        data = codecs.BOM_UTF8 + data
    result = parse(fmt, io.BytesIO(data), **kw)
    for row in result.rows:
        assert row_problems(row) == [], (row, row_problems(row))
    return result


def only(result: ParsedFile) -> ParsedRow:
    assert len(result.rows) == 1, (result.rows, result.skipped, result.rejected)
    return result.rows[0]


def sample_profile(name: str = "csv-bank.profile.json") -> ImportProfile:
    return ImportProfile.from_dict(json.loads((SAMPLES / name).read_text(encoding="utf-8")))


def rejected(result: ParsedFile) -> list[tuple[int, str]]:
    return [(r.line, r.column) for r in result.rejected]
