"""`keel bench`: the figures that matter, each as a ratio to a raw baseline from the same run.

A figure is a measured value beside a baseline measured on the same machine in the same run
(the raw database doing the same work without Keel), so the ratio travels between machines
where the absolute numbers do not. Tests assert the shape of the result, never a time.

Figure groups register themselves with `register_figure_group`; the ledger group is the
first. The ledger's measurements run in a child process per backend (`keel.bench_worker`)
because Django settings are process-global and each backend needs its own fresh database:
SQLite in a temporary directory, PostgreSQL as `keel_bench_<pid>` databases created on the
server named by `KEEL_BENCH_DATABASE_URL` and dropped afterwards.

This module does not load Django, so it can drive any number of differently configured
children.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from keel.bench_income import income_figures

BACKENDS = ("sqlite", "postgres")
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
SCALE_ENV = "KEEL_BENCH_SCALE"
RATIO_DIGITS = 3

Progress = Callable[[str], None]
Better = Literal["higher", "lower"]


class BenchError(RuntimeError):
    """A measurement could not be taken (as opposed to a target not being met)."""


# ---------------------------------------------------------------------------- figures


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline: float
    target: float | None  # None: reported beside its baseline, with no target
    better: Better
    ratio: float | None
    met: bool | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "target": self.target,
            "better": self.better,
            "met": self.met,
        }


def make_figure(
    name: str,
    *,
    value: float,
    baseline: float,
    unit: str,
    target: float | None,
    better: Better,
    digits: int = 1,
) -> Figure:
    """A figure with value and baseline rounded to `digits` and the ratio computed from
    the rounded numbers, so anyone can recompute it from the printed result."""
    value, baseline = round(value, digits), round(baseline, digits)
    ratio = round(value / baseline, RATIO_DIGITS) if baseline > 0 else None
    met = target_met(ratio, target, better)
    return Figure(name, value, unit, baseline, target, better, ratio, met)


def target_met(ratio: float | None, target: float | None, better: Better) -> bool | None:
    if target is None:
        return None
    if ratio is None:
        return False
    return ratio >= target if better == "higher" else ratio <= target


# ---------------------------------------------------------------------------- registry


@dataclass
class BenchContext:
    quick: bool
    scale: float
    backends: list[str]
    progress: Progress
    notes: list[str] = field(default_factory=list)

    def note(self, message: str) -> None:
        """Something the reader of the result must know (a skipped backend)."""
        self.notes.append(message)
        self.progress(message)

    def size(self, full: int, quick: int, *, minimum: int = 1) -> int:
        return max(minimum, round((quick if self.quick else full) * self.scale))


FigureGroup = Callable[[BenchContext], list[Figure]]
_GROUPS: dict[str, FigureGroup] = {}


def register_figure_group(name: str, fn: FigureGroup) -> None:
    """Add a group of figures to `keel bench`. Groups run in registration order."""
    if name in _GROUPS:
        raise ValueError(f"figure group {name!r} is already registered")
    _GROUPS[name] = fn


def figure_groups() -> list[str]:
    return list(_GROUPS)


def run_bench(
    *,
    quick: bool,
    backends: list[str] | None = None,
    progress: Progress | None = None,
    scale: float | None = None,
    groups: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Measure every registered figure group (or `groups`) and return
    `{"figures": [...], "notes": [...], ...}`. `scale` (or `KEEL_BENCH_SCALE`) shrinks or
    grows every workload, for tests and for slow machines."""
    chosen = list(backends) if backends is not None else list(BACKENDS)
    unknown = [b for b in chosen if b not in BACKENDS]
    if unknown:
        raise ValueError(f"unknown backend {unknown[0]!r}; choose from {', '.join(BACKENDS)}")
    names = list(groups) if groups is not None else list(_GROUPS)
    for name in names:
        if name not in _GROUPS:
            raise ValueError(f"unknown figure group {name!r}; registered: {', '.join(_GROUPS)}")
    if scale is None:
        text = os.environ.get(SCALE_ENV) or "1"
        try:
            scale = float(text)
        except ValueError:
            raise ValueError(f"{SCALE_ENV} must be a number, got {text!r}") from None
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    ctx = BenchContext(quick=quick, scale=scale, backends=chosen, progress=progress or _quiet)
    figures: list[Figure] = []
    for name in names:
        ctx.progress(f"{name}: starting")
        figures.extend(_GROUPS[name](ctx))
    return {
        "quick": quick,
        "scale": scale,
        "backends": chosen,
        "figures": [f.as_dict() for f in figures],
        "notes": ctx.notes,
    }


def _quiet(message: str) -> None:
    pass


# ---------------------------------------------------------------------------- table

_COLUMNS = ("figure", "value", "baseline", "unit", "ratio", "target", "met")


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.3f}"


def format_table(result: dict[str, Any]) -> str:
    """The figures as an aligned plain-text table, notes underneath."""
    rows = [_COLUMNS]
    for fig in result["figures"]:
        sign = ">=" if fig["better"] == "higher" else "<="
        rows.append(
            (
                fig["name"],
                _number(fig["value"]),
                _number(fig["baseline"]),
                fig["unit"],
                "-" if fig["ratio"] is None else f"{fig['ratio']:.{RATIO_DIGITS}f}",
                "-" if fig["target"] is None else f"{sign} {fig['target']:.2f}",
                "-" if fig["met"] is None else ("yes" if fig["met"] else "NO"),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    # Names and units read left to right; numbers line up on the right.
    left = {0, 3, 6}
    lines = []
    for number, row in enumerate(rows):
        cells = [
            cell.ljust(width) if i in left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    if not result["figures"]:
        lines.append("(no figures)")
    lines.extend(f"note: {note}" for note in result.get("notes", []))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- ledger group

LEDGER_JOURNALS = (250_000, 20_000)  # full, quick
LEDGER_SINGLES = (2_000, 300)
BULK_TARGETS = {"sqlite": 0.40, "postgres": 0.50}
REPLAY_TARGET = 3.0
SINGLE_TARGET = 3.0


def ledger_figures(ctx: BenchContext) -> list[Figure]:
    figures: list[Figure] = []
    journals = ctx.size(*LEDGER_JOURNALS, minimum=100)
    singles = ctx.size(*LEDGER_SINGLES, minimum=20)
    for backend in ctx.backends:
        with worker_databases(ctx, backend) as target:
            if target is None:
                continue
            env, extra = target
            result = _run_worker(
                ctx,
                env,
                [
                    "--backend",
                    backend,
                    "--journals",
                    str(journals),
                    "--singles",
                    str(singles),
                    *extra,
                ],
            )
        for note in result.get("notes", []):
            ctx.note(note)
        figures.extend(_ledger_backend_figures(backend, result))
    return figures


def _ledger_backend_figures(backend: str, result: dict[str, Any]) -> list[Figure]:
    legs = result["legs"]
    bulk = make_figure(
        f"ledger.bulk.{backend}",
        value=legs / result["bulk_seconds"],
        baseline=legs / result["raw_seconds"],
        unit="legs/s",
        target=BULK_TARGETS[backend],
        better="higher",
    )
    replay = make_figure(
        f"ledger.replay.{backend}",
        value=legs / result["replay_seconds"],
        baseline=bulk.value,
        unit="legs/s",
        target=REPLAY_TARGET,
        better="higher",
    )
    single = result["single"]
    latency = [
        make_figure(
            f"ledger.single.{backend}.{pct}",
            value=single["service_ms"][pct],
            # The issue sets a target for the tail (p99); the median is shown for context.
            baseline=single["raw_ms"][pct],
            unit="ms",
            target=SINGLE_TARGET if pct == "p99" else None,
            better="lower",
            digits=3,
        )
        for pct in ("p50", "p99")
    ]
    return [bulk, replay, *latency]


@contextmanager
def worker_databases(
    ctx: BenchContext,
    backend: str,
    *,
    group: str = "ledger",
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[tuple[dict[str, str], list[str]] | None]:
    """A fresh data directory (and, for PostgreSQL, two fresh databases: the service's and
    the raw baseline's) for one backend's worker; everything is removed afterwards. Yields
    the child's environment and extra arguments, or None when the backend is unavailable."""
    data_dir = tempfile.mkdtemp(prefix=f"keel-bench-{group}-{backend}-")
    env = dict(os.environ)
    # The child must not inherit the test suite's or the user's database.
    for name in ("KEEL_TEST_DATABASE_URL", "KEEL_DATABASE_URL", "KEEL_TEST_SQLITE_NAME"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="keel.settings",
        KEEL_DATA_DIR=data_dir,
        KEEL_SECRET_KEY=secrets.token_urlsafe(32),
        PYTHONUNBUFFERED="1",
        **(extra_env or {}),
    )
    try:
        if backend == "sqlite":
            yield env, []
            return
        server = os.environ.get("KEEL_BENCH_DATABASE_URL") or DEFAULT_POSTGRES_URL
        try:
            admin = _pg_admin(server)
        except Exception as exc:  # psycopg missing, server down, refused: all mean "skip"
            ctx.note(f"{group}/postgres skipped: no PostgreSQL at {_redact(server)} ({exc})")
            yield None
            return
        name = f"keel_bench_{os.getpid()}_{group}"
        names = (name, f"{name}_raw")
        try:
            for db in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
                admin.execute(f'CREATE DATABASE "{db}"')
        except Exception as exc:
            _drop(admin, names)
            raise BenchError(
                f"cannot create the bench databases on {_redact(server)}: {exc}"
            ) from exc
        try:
            env["KEEL_DATABASE_URL"] = _with_database(server, names[0])
            yield env, ["--raw-database-url", _with_database(server, names[1])]
        finally:
            _drop(admin, names)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _drop(admin: Any, names: Sequence[str]) -> None:
    try:
        for db in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    finally:
        admin.close()


def _pg_admin(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=5)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _run_worker(
    ctx: BenchContext, env: dict[str, str], args: list[str], module: str = "keel.bench_worker"
) -> dict[str, Any]:
    """Run a measuring child process, relay its progress lines, return its JSON result."""
    out = Path(env["KEEL_DATA_DIR"]) / "result.json"
    command = [sys.executable, "-m", module, *args, "--out", str(out)]
    tail: deque[str] = deque(maxlen=40)
    with subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=env["KEEL_DATA_DIR"],
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            line = line.rstrip("\n")
            if line.startswith("progress: "):
                ctx.progress(line.removeprefix("progress: "))
            else:
                tail.append(line)
        code = child.wait()
    if code != 0 or not out.exists():
        detail = "\n".join(tail)
        raise BenchError(f"bench worker {' '.join(args[:2])} failed (exit {code}):\n{detail}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


register_figure_group("ledger", ledger_figures)
register_figure_group("income", income_figures)
register_figure_group("gateway", __import__("keel.bench_gateway").bench_gateway.gateway_figures)
register_figure_group("pools", __import__("keel.bench_pools").bench_pools.pools_figures)
register_figure_group("career", __import__("keel.bench_career").bench_career.career_figures)
