"""The gateway figures of `keel bench`: their names and shape, never a timing threshold."""

from __future__ import annotations

import pytest

from keel import bench
from keel.bench import figure_groups, format_table, run_bench
from keel.bench_gateway import make_events

FIGURE_KEYS = {"name", "value", "unit", "baseline", "ratio", "target", "better", "met"}


def test_gateway_group_is_registered():
    assert "gateway" in figure_groups()
    assert figure_groups().index("gateway") > figure_groups().index("ledger")


def test_generated_events_are_valid_and_in_time_order():
    events = make_events(50, ["a", "b"], ["z"], prefix="t", seed=1)
    assert [e["event_id"] for e in events] == [f"t-{n:09d}" for n in range(50)]
    assert [e["occurred_at"] for e in events] == sorted(e["occurred_at"] for e in events)
    assert {e["worker_ref"] for e in events} <= {"a", "b", "z"}
    assert all(500 <= e["gross"] < 6_000 and e["currency"] == "USD" for e in events)
    # Deterministic, so a run can be repeated.
    assert make_events(50, ["a", "b"], ["z"], prefix="t", seed=1) == events


def check(fig: dict) -> None:
    assert set(fig) == FIGURE_KEYS
    assert fig["value"] > 0 and fig["baseline"] > 0
    assert fig["ratio"] == round(fig["value"] / fig["baseline"], bench.RATIO_DIGITS)
    if fig["target"] is None:
        assert fig["met"] is None
    elif fig["better"] == "higher":
        assert fig["met"] is (fig["ratio"] >= fig["target"])
    else:
        assert fig["met"] is (fig["ratio"] <= fig["target"])


@pytest.mark.slow
def test_gateway_bench_on_sqlite_returns_every_figure():
    messages: list[str] = []
    # Quick sizes scaled down: 100 events, 20 single requests, 10 workers.
    result = run_bench(
        quick=True, backends=["sqlite"], scale=0.01, groups=["gateway"], progress=messages.append
    )
    figures = result["figures"]
    assert [f["name"] for f in figures] == [
        "gateway.events.inprocess.sqlite",
        "gateway.events.http.sqlite",
        "gateway.single.p50",
        "gateway.single.p99",
    ]
    for fig in figures:
        check(fig)
    p50, p99 = figures[2:]
    assert [f["unit"] for f in figures] == ["events/s", "events/s", "ms", "ms"]
    assert [f["target"] for f in figures] == [0.40, 0.30, None, 5.0]
    assert [f["better"] for f in figures] == ["higher", "higher", "lower", "lower"]
    # Both latencies stand beside the same trivial median.
    assert p50["baseline"] == p99["baseline"]
    assert "gateway/inprocess/sqlite: 100 events in 1 batches through record_events" in messages
    assert "gateway/http/sqlite: POSTing 100 events in 1 batches" in messages
    assert result["notes"] == [
        "gateway: 100 events in batches of 1,000 for 10 workers; 20 single-event requests"
        " from 2 concurrent clients, each followed by a GET /api/v1/health"
    ]
    table = format_table(result)
    for fig in figures:
        assert fig["name"] in table


def test_gateway_group_without_sqlite_notes_the_skipped_figures(monkeypatch):
    # PostgreSQL that does not answer: no child runs, each skipped figure is noted.
    monkeypatch.setenv("KEEL_BENCH_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
    result = run_bench(quick=True, backends=["postgres"], groups=["gateway"])
    assert result["figures"] == []
    assert result["notes"][0].startswith(
        "gateway/postgres skipped: no PostgreSQL at postgres://nobody@127.0.0.1:1/none"
    )
    assert result["notes"][1] == "gateway: the HTTP and latency figures are measured on SQLite only"
