"""The career figure of `keel bench`: its name and shape, never a timing threshold."""

from __future__ import annotations

import pytest

from keel import bench
from keel.bench import figure_groups, run_bench


def test_career_group_is_registered_after_pools() -> None:
    assert figure_groups().index("career") > figure_groups().index("pools")


@pytest.mark.slow
def test_career_bench_on_sqlite_returns_the_mrr_figure() -> None:
    result = run_bench(quick=True, backends=["sqlite"], scale=0.05, groups=["career"])
    [figure] = result["figures"]
    assert figure["name"] == "career.mrr.sqlite"
    assert figure["value"] > 0 and figure["baseline"] > 0
    assert figure["ratio"] == round(figure["value"] / figure["baseline"], bench.RATIO_DIGITS)
    assert (figure["target"], figure["better"], figure["unit"]) == (3.0, "lower", "ms")
    assert any("100 subscribers" in note for note in result["notes"])
