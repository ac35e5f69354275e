"""Mangled real-looking files: an importer returns a ParsedFile or raises ImportFormatError.

Each sample in docs/samples is mutated the way files get damaged in the wild (cut short,
junk bytes, a cell replaced by anything at all, spreadsheet formulas, huge fields, lines
dropped or repeated).  Whatever comes out, no other exception escapes, and every row that
does come out keeps its kind's identity.
"""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel.income.importers import ImportFormatError, ParsedFile, parse, row_problems

from .helpers import SAMPLES, sample_profile

SAMPLE_OF = {
    spec["format"]: name
    for name, spec in json.loads((SAMPLES / "EXPECTED.json").read_text(encoding="utf-8")).items()
    if not name.startswith("_")
}
NASTY = st.sampled_from(
    [
        '=HYPERLINK("http://example.com/x","click")',
        "=1+2",
        "+SUM(A1:A9)",
        "@cmd",
        '"',
        '""',
        ",,,",
        ";",
        "\n",
        "\r",
        "\x00",
        "-",
        "--",
        "1e9",
        "NaN",
        "∞",
        "١٢٣",
        "9" * 400,
        "0.001",
        "-0",
        "12/31/9999",
        "00/00/0000",
        "Feb 30, 2024",
        "usd",
        "XXX",
    ]
)


@st.composite
def mangled(draw: st.DrawFn, data: bytes) -> bytes:
    lines = data.split(b"\n")
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        how = draw(
            st.sampled_from(["cut", "junk", "cell", "nasty", "huge", "drop", "repeat", "bom"])
        )
        if how == "cut":
            joined = b"\n".join(lines)
            lines = joined[: draw(st.integers(0, len(joined)))].split(b"\n")
        elif how == "junk":
            at = draw(st.integers(0, len(lines) - 1))
            junk = draw(st.binary(min_size=1, max_size=12))
            spot = draw(st.integers(0, len(lines[at])))
            lines[at] = lines[at][:spot] + junk + lines[at][spot:]
        elif how in ("cell", "nasty", "huge"):
            at = draw(st.integers(0, len(lines) - 1))
            cells = lines[at].split(b",")
            which = draw(st.integers(0, len(cells) - 1))
            if how == "cell":
                value = draw(st.text(max_size=20)).encode("utf-8", "surrogatepass")
            elif how == "nasty":
                value = draw(NASTY).encode()
            else:
                value = b"x" * draw(st.sampled_from([1_000, 131_073, 300_000]))
            cells[which] = value
            lines[at] = b",".join(cells)
        elif how == "drop" and len(lines) > 1:
            del lines[draw(st.integers(0, len(lines) - 1))]
        elif how == "repeat":
            at = draw(st.integers(0, len(lines) - 1))
            lines.insert(at, lines[at])
        elif how == "bom":
            lines[0] = b"\xef\xbb\xbf" + lines[0]
    return b"\n".join(lines)


def check(fmt: str, data: bytes) -> None:
    profile = sample_profile() if fmt == "csv" else None
    try:
        result = parse(fmt, io.BytesIO(data), profile=profile)
    except ImportFormatError:
        return
    assert isinstance(result, ParsedFile)
    assert result.rows_read >= len(result.rows) + len(result.skipped) + len(result.rejected)
    for row in result.rows:
        assert row_problems(row) == [], row
        assert row.line >= 2
    for bad in result.rejected:
        assert bad.line >= 1 and bad.reason


@pytest.mark.parametrize("fmt", sorted(SAMPLE_OF))
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_mangled_sample_never_crashes(fmt, data):
    original = (SAMPLES / SAMPLE_OF[fmt]).read_bytes()
    check(fmt, data.draw(mangled(original)))


@pytest.mark.parametrize("fmt", sorted(SAMPLE_OF))
@settings(max_examples=30, deadline=None)
@given(blob=st.binary(max_size=300))
def test_random_bytes_never_crash(fmt, blob):
    check(fmt, blob)
