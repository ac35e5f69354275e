"""The solvency simulator behind the simulator page and the API.

``build_input`` turns JSON-able parameters (from the page's form or the API's body) into a
``SimulationInput``, refusing bad ones with a ``PoolError`` that names the field. ``run``
simulates and, when a target is given, prices the deposit rate that reaches it.

A small run answers inside the request. A large one runs on the task queue
(``simulate_pool``, a Huey task like income's import jobs) and reports its progress to the
shared cache under a key that holds the person's id, where the page polls it; the result
is kept there too, for ``PROGRESS_TTL``. A job never raises: whatever stops it is written to its
state as one line. A running state not renewed for ``STALE_SECONDS`` counts as failed, so
the page never waits on a dead job (each chunk of scenarios renews it).

The task is registered when the pools app loads (``PoolsConfig.ready`` imports this
module), so the task runner knows it without ``keel.pools.tasks``.
"""

from __future__ import annotations

import enum
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from huey.contrib.djhuey import task

from .errors import PoolError

logger = logging.getLogger(__name__)

PROGRESS_TTL = 24 * 3600
STALE_SECONDS = 120
SLOW_START_SECONDS = 15
# What any caller may ask of one run (the page and the API set their own, lower, limits).
MAX_SCENARIOS = 200_000
JOB_ID_BYTES = 12

_FIELDS = (
    "gifts",
    "deposit_rate_bps",
    "reserve_cap_deposits",
    "waiting_months",
    "max_months",
    "annual_incidence",
    "mean_claim_months",
    "years",
    "scenarios",
    "seed",
    "initial_reserves",
    "epidemic",
    "history",
)


class Stage(enum.StrEnum):
    QUEUED = "queued"
    SIMULATE = "simulate"  # done of total scenarios
    PRICE = "price"  # searching the deposit rate: done = simulations run
    DONE = "done"
    FAILED = "failed"


RUNNING = frozenset({Stage.QUEUED, Stage.SIMULATE, Stage.PRICE})


def build_input(params: Mapping[str, Any]) -> Any:
    """A ``SimulationInput`` from parameters as JSON; a bad value is a PoolError on its
    field (the simulator's own messages start with the field's name). ``initial_reserves``
    is a list, one per member; ``epidemic`` and ``history`` are objects with the fields of
    ``EpidemicShock`` and ``ClaimHistory``."""
    from .rules.simulate import ClaimHistory, EpidemicShock, SimulationInput

    values = {name: params[name] for name in _FIELDS if params.get(name) is not None}
    scenarios = values.get("scenarios")
    if isinstance(scenarios, int) and scenarios > MAX_SCENARIOS:
        raise PoolError(f"at most {MAX_SCENARIOS:,} scenarios", field="scenarios")
    try:
        if "gifts" in values:
            values["gifts"] = tuple(values["gifts"])
        if "initial_reserves" in values:
            values["initial_reserves"] = tuple(values["initial_reserves"])
        epidemic = values.get("epidemic")
        if isinstance(epidemic, Mapping):
            values["epidemic"] = EpidemicShock(
                epidemic.get("monthly_probability"),  # type: ignore[arg-type]
                epidemic.get("incidence_multiplier"),  # type: ignore[arg-type]
            )
        history = values.get("history")
        if isinstance(history, Mapping):
            values["history"] = ClaimHistory(
                history.get("member_years"),  # type: ignore[arg-type]
                history.get("claims"),  # type: ignore[arg-type]
                tuple(history.get("gift_months") or ()),
            )
        return SimulationInput(**values)
    except (TypeError, ValueError) as exc:
        message = str(exc)
        first = message.split(" ", 1)[0].split(".", 1)[0].rstrip(":")
        raise PoolError(message, field=first if first in _FIELDS else None) from None


def member_months(params: Mapping[str, Any]) -> int:
    """The work a simulation asks for: simulated member-months over every scenario."""
    gifts = params.get("gifts") or ()
    years = params.get("years") or 5
    scenarios = params.get("scenarios") or 10_000
    if not all(isinstance(v, int) for v in (years, scenarios)):
        return 0  # build_input refuses it
    return len(gifts) * 12 * int(years) * int(scenarios)


def check_target(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise PoolError(
            "the target must be a probability between 0 and 1",
            field="target_no_cut_probability",
        )
    return float(value)


Progress = Callable[[str, int, int], None]


def run(params: Mapping[str, Any], progress: Progress | None = None) -> dict[str, Any]:
    """Simulate, and price the deposit rate for the target when one is given. The answer
    is JSON: ``result`` (``simulate.result_to_json``), ``required_deposit_rate_bps`` (or
    None, with ``pricing_error`` when no rate up to 100% reaches the target),
    ``target_no_cut_probability`` and ``currency``."""
    from .rules.simulate import required_deposit_rate, result_to_json, simulate

    inp = build_input(params)
    target = check_target(params.get("target_no_cut_probability"))

    def simulating(done: int, total: int) -> None:
        if progress is not None:
            progress(Stage.SIMULATE, done, total)

    result = simulate(inp, simulating)
    answer: dict[str, Any] = {
        "currency": str(params.get("currency") or ""),
        "result": result_to_json(result),
        "target_no_cut_probability": target,
        "required_deposit_rate_bps": None,
        "pricing_error": "",
    }
    if target is not None:
        runs = 0

        def pricing(done: int, total: int) -> None:
            nonlocal runs
            if done >= total:
                runs += 1
            if progress is not None:
                progress(Stage.PRICE, runs, 0)

        try:
            rate, _ = required_deposit_rate(inp, target, progress=pricing)
        except ValueError as exc:
            answer["pricing_error"] = str(exc)
        else:
            answer["required_deposit_rate_bps"] = rate
    return answer


# ---------------------------------------------------------------------------- jobs


@dataclass(frozen=True, slots=True)
class JobState:
    stage: str
    done: int
    total: int
    error: str
    at: float
    params: dict[str, Any]
    answer: dict[str, Any] | None

    @property
    def stale(self) -> bool:
        return self.stage in (Stage.SIMULATE, Stage.PRICE) and time.time() - self.at > STALE_SECONDS

    @property
    def running(self) -> bool:
        return self.stage in RUNNING and not self.stale

    @property
    def failed(self) -> bool:
        return self.stage == Stage.FAILED or self.stale

    @property
    def waiting_long(self) -> bool:
        return self.stage == Stage.QUEUED and time.time() - self.at > SLOW_START_SECONDS

    @property
    def percent(self) -> int | None:
        if self.stage != Stage.SIMULATE or self.total <= 0:
            return None
        return min(100, self.done * 100 // self.total)


def job_key(user_id: int, job_id: str) -> str:
    return f"pools-simulation-{user_id}-{job_id}"


def read_state(user_id: int, job_id: str) -> JobState | None:
    """The job's state, only for the person who started it."""
    if not job_id.replace("-", "").replace("_", "").isalnum():
        return None
    raw = cache.get(job_key(user_id, job_id))
    if not isinstance(raw, dict):
        return None
    return JobState(
        stage=str(raw.get("stage", "")),
        done=int(raw.get("done", 0)),
        total=int(raw.get("total", 0)),
        error=str(raw.get("error", "")),
        at=float(raw.get("at", 0)),
        params=dict(raw.get("params") or {}),
        answer=raw.get("answer"),
    )


def _write(
    user_id: int,
    job_id: str,
    params: Mapping[str, Any],
    stage: Stage,
    done: int = 0,
    total: int = 0,
    *,
    error: str = "",
    answer: dict[str, Any] | None = None,
) -> None:
    cache.set(
        job_key(user_id, job_id),
        {
            "stage": stage.value,
            "done": done,
            "total": total,
            "error": error,
            "at": time.time(),
            "params": dict(params),
            "answer": answer,
        },
        PROGRESS_TTL,
    )


def run_job(user_id: int, job_id: str, params: Mapping[str, Any]) -> None:
    """Run a queued simulation and leave its answer, or why it failed, in its state."""
    last = 0.0

    def report(stage: str, done: int, total: int) -> None:
        nonlocal last
        now = time.time()
        # A write per chunk would be thousands of cache writes; a few a second suffice.
        if now - last >= 0.25 or (total and done >= total):
            last = now
            _write(user_id, job_id, params, Stage(stage), done, total)

    try:
        _write(user_id, job_id, params, Stage.SIMULATE, 0, int(params.get("scenarios") or 0))
        answer = run(params, report)
    except PoolError as exc:
        _write(user_id, job_id, params, Stage.FAILED, error=exc.message)
        return
    except Exception as exc:
        logger.exception("simulation %s of person %s failed", job_id, user_id)
        _write(user_id, job_id, params, Stage.FAILED, error=f"unexpected {type(exc).__name__}")
        return
    _write(user_id, job_id, params, Stage.DONE, answer=answer)


@task()  # type: ignore[untyped-decorator]
def simulate_pool(user_id: int, job_id: str, params: dict[str, Any]) -> None:
    """A large solvency simulation, run in the background for the simulator page."""
    run_job(user_id, job_id, params)


def start(user_id: int, params: Mapping[str, Any]) -> str:
    """Queue a simulation; returns the job id the page polls."""
    job_id = secrets.token_urlsafe(JOB_ID_BYTES)
    # Queued before it is enqueued: with an immediate queue (tests) the job has finished
    # when the call returns, and its state must not be overwritten.
    _write(user_id, job_id, params, Stage.QUEUED)
    try:
        simulate_pool(user_id, job_id, dict(params))
    except Exception as exc:
        logger.exception("simulation %s could not be queued", job_id)
        _write(
            user_id,
            job_id,
            params,
            Stage.FAILED,
            error=f"Keel could not queue this simulation ({type(exc).__name__}); try again",
        )
    return job_id
