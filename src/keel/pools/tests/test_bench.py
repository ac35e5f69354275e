"""The pools figures of `keel bench`: their names and shape, never a timing threshold."""

from __future__ import annotations

import pytest

from keel import bench
from keel.bench import figure_groups, run_bench


def test_pools_group_is_registered_after_the_gateway() -> None:
    assert figure_groups().index("pools") > figure_groups().index("gateway")


@pytest.mark.slow
def test_pools_bench_on_sqlite_returns_both_figures() -> None:
    messages: list[str] = []
    # Quick sizes scaled down: 500 scenarios against 20 in the reference, two gift runs.
    result = run_bench(
        quick=True, backends=["sqlite"], scale=0.01, groups=["pools"], progress=messages.append
    )
    figures = result["figures"]
    assert [f["name"] for f in figures] == ["pools.simulate", "pools.gift_run.sqlite"]
    for fig in figures:
        assert fig["value"] > 0 and fig["baseline"] > 0
        assert fig["ratio"] == round(fig["value"] / fig["baseline"], bench.RATIO_DIGITS)
    assert [f["target"] for f in figures] == [30.0, 2.0]
    assert [f["better"] for f in figures] == ["higher", "lower"]
    assert [f["unit"] for f in figures] == ["member-months/s", "ms"]
    assert any("5 journals and 230 legs a run" in note for note in result["notes"])
