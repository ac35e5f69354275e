"""The solvency simulator page: will a sick-leave pool of these members stay solvent, how
likely is a cut, what deposit rate reaches a target, and what pooling saves each member.

Up to ``forms.INLINE_SCENARIOS`` scenarios run inside the request; a larger run goes to
the task queue (``keel.pools.simjobs``) and its page polls the progress with htmx, then
reloads with the result, as the income import does.

Started from a pool's page (``?pool=<slug>``, a sick-leave fund the person can see), the
simulation starts from the pool as it is: its members' tiers and reserves today
(``services.simulation_state``), or from zero if the person asks for a new fund, and with
its own claims history once it has a year of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET, require_http_methods

from keel.money import format_amount

from .. import charts, services, simjobs
from ..errors import NotFound, PoolError
from ..forms import (
    INLINE_MEMBER_MONTHS,
    INLINE_SCENARIOS,
    START_RESERVES,
    PoolStart,
    SimulateForm,
    amount_text,
    initial_simulation,
    percent_text,
)
from ..models import PoolKind
from ..rules.pool_rules import format_percent, rules_to_json
from .render import person, user_of


def _percent(p: float, places: int = 1) -> str:
    return f"{100 * p:.{places}f}%"


def _share(p: float) -> str:
    """A round share as people say it: 0.95 -> "95%", 0.975 -> "97.5%"."""
    return f"{100 * p:.1f}".removesuffix(".0") + "%"


def _pool_start(request: HttpRequest, slug: str) -> PoolStart | None:
    """A sick-leave fund the person can see, as it is today; an unknown, hidden or other
    kind of pool is None (the simulator then starts from nothing of it)."""
    if not slug:
        return None
    try:
        pool, _ = services.visible_pool(user_of(request), slug)
    except NotFound:
        return None
    if pool.kind != PoolKind.SICK_LEAVE:
        return None
    gifts, reserves, history = services.simulation_state(pool)
    return PoolStart(
        slug=pool.slug,
        name=pool.name,
        currency=pool.currency,
        gifts=tuple(gifts),
        reserves=tuple(reserves),
        rules=rules_to_json(services.current_rules(pool)),
        history=history,
    )


def _initial_from_params(params: Mapping[str, Any]) -> dict[str, Any]:
    currency = str(params.get("currency") or "EUR")
    gifts = [int(g) for g in params.get("gifts") or []]
    shown = gifts[:1] if len(set(gifts)) == 1 else gifts
    epidemic = params.get("epidemic") or None
    target = params.get("target_no_cut_probability")
    return {
        "currency": currency,
        "members": len(gifts),
        "gifts": "; ".join(amount_text(g, currency, grouping=False) for g in shown),
        "deposit_rate": percent_text(int(params.get("deposit_rate_bps", 450))),
        "reserve_cap_deposits": params.get("reserve_cap_deposits"),
        "waiting_months": params.get("waiting_months"),
        "incidence": percent_text(round(float(params.get("annual_incidence", 0.069)) * 10_000)),
        "mean_months": params.get("mean_claim_months"),
        "max_months": params.get("max_months"),
        "years": params.get("years"),
        "scenarios": params.get("scenarios"),
        "seed": params.get("seed"),
        "target": percent_text(round(float(target) * 10_000)) if target is not None else "",
        "epidemic": bool(epidemic),
        "epidemic_probability": percent_text(round(float(epidemic["monthly_probability"]) * 10_000))
        if epidemic
        else "1",
        "epidemic_multiplier": epidemic["incidence_multiplier"] if epidemic else 3,
    }


def _benefit_notes(
    result: Mapping[str, Any],
    tiers: list[dict[str, Any]],
    required: int | None,
    target: float | None,
    pricing_error: str,
) -> tuple[str, str]:
    """The sentences under "What pooling saves": whether the pool itself is fragile (its
    own no-cut chance below the benchmark) and what deposit rate it needs; and why a buffer
    alone below what the pool holds is no cost of pooling."""
    confidence = float(result["self_insurance_confidence"])
    benchmark = float(result["benchmark_confidence"])
    fragile = ""
    if confidence < benchmark:
        rate = int(result["inputs"]["deposit_rate_bps"])
        if required is not None and target is not None:
            needs = (
                f"deposits of {format_percent(required)} of the gift (now {format_percent(rate)})"
                f" would keep gifts uncut in {_share(target)} of futures"
            )
        elif target is not None and pricing_error:
            needs = f"no deposit rate up to 100% keeps gifts uncut in {_share(target)} of futures"
        else:
            needs = "set a target to find the deposit rate it needs"
        fragile = (
            f"The pool itself is fragile: it avoids a cut in only {_percent(confidence)} of"
            f" futures, below the {_share(benchmark)} benchmark; {needs}."
        )
    below = ""
    if any(t["below_pool"] for t in tiers):
        years = len(result["cut_probability_by_year"])
        below = (
            "Where a buffer alone is below what the pool holds, saving alone would tie up less"
            " money at that confidence"
            + (
                f" (at {_percent(confidence)}, because most members are never sick in"
                f" {years} year{'' if years == 1 else 's'})"
                if confidence < benchmark
                else ""
            )
            + ". That is no cost of pooling: the reserve in the pool stays the member's own,"
            " returned, less the gifts given from it, when they leave."
        )
    return fragile, below


def results_context(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of a simulation as the page shows them."""
    result: Mapping[str, Any] = answer["result"]
    currency = str(answer.get("currency") or "EUR")

    def money(minor: float) -> str:
        return format_amount(round(minor), currency, symbol=True)

    def tier_row(t: Mapping[str, Any]) -> dict[str, Any]:
        alone = int(t["self_insurance_reserve"])
        at_benchmark = int(t["self_insurance_reserve_at_benchmark"])
        pool = int(t["pool_mean_reserve"])
        return {
            "gift": money(t["gift"]),
            "members": t["members"],
            "deposit": money(t["deposit"]),
            "cap": money(t["reserve_cap"]),
            "alone": money(alone),
            "alone_benchmark": money(at_benchmark),
            "pool": money(pool),
            "pool_final": money(t["pool_final_reserve"]),
            # What pooling saves, 95% sure; None when alone needs no more than the pool holds.
            "saving": money(at_benchmark - pool) if at_benchmark > pool else None,
            "below_pool": min(alone, at_benchmark) < pool,
        }

    years = [
        {
            "year": i + 1,
            "cut": _percent(p),
            "cut_se": _percent(se, 2),
            "underpaid": _percent(u),
        }
        for i, (p, se, u) in enumerate(
            zip(
                result["cut_probability_by_year"],
                result["cut_probability_by_year_se"],
                result["underpaid_probability_by_year"],
                strict=True,
            )
        )
    ]
    tiers = [tier_row(t) for t in result["tiers"]]
    required = answer.get("required_deposit_rate_bps")
    target = answer.get("target_no_cut_probability")
    mean_cut = result.get("mean_cut_when_cut")
    inputs = result["inputs"]
    fragile, below_pool = _benefit_notes(
        result,
        tiers,
        int(required) if required is not None else None,
        float(target) if target is not None else None,
        str(answer.get("pricing_error") or ""),
    )
    history = inputs.get("history")
    return {
        "currency": currency,
        "scenarios": result["scenarios"],
        "years_count": len(years),
        "members": len(inputs["gifts"]),
        "cut": _percent(result["cut_probability"]),
        "cut_se": _percent(result["cut_probability_se"], 2),
        "underpaid": _percent(result["underpaid_probability"]),
        "underpaid_se": _percent(result["underpaid_probability_se"], 2),
        "mean_cut": _percent(mean_cut) if mean_cut is not None else None,
        "cut_months": f"{result['cut_months_mean']:.2f}",
        "claims": f"{result['claims_per_scenario']:.1f}",
        "mean_paid_months": f"{result['mean_paid_months']:.1f}",
        "incidence": _percent(result["annual_incidence"]),
        "deposit_rate": format_percent(int(inputs["deposit_rate_bps"])),
        "gifts_due": money(result["gifts_due_total_mean"]),
        "gifts_paid": money(result["gifts_paid_total_mean"]),
        "deposits": money(result["deposits_total"]),
        "refunds": money(result["refunds_total_mean"]),
        "final_reserves": money(result["final_reserves_mean"]),
        "confidence": _percent(result["self_insurance_confidence"]),
        "benchmark": _share(result["benchmark_confidence"]),
        "fragile": fragile,
        "below_pool": below_pool,
        "initial_reserves": money(result["initial_reserves_total"])
        if result["initial_reserves_total"]
        else None,
        "history": (
            f"{history['claims']} claim{'' if history['claims'] == 1 else 's'} in"
            f" {float(history['member_years']):.1f} member-years"
        )
        if history
        else None,
        "years": years,
        "tiers": tiers,
        "target": _percent(float(target)) if target is not None else None,
        "required": format_percent(int(required)) if required is not None else None,
        "pricing_error": answer.get("pricing_error") or "",
        "figures": [
            (
                "fig-sim-reserves",
                "Reserves",
                "The pool's total reserves at the end of each month: the band holds eight in"
                " ten simulated futures, the line the median.",
                charts.band_figure("Reserves", result["reserves"], currency),
            ),
            (
                "fig-sim-gifts",
                "Gifts paid",
                "The gifts paid in each month: the band holds eight in ten simulated futures,"
                " the line the median.",
                charts.band_figure("Gifts paid", result["gifts_paid"], currency),
            ),
        ],
    }


def _page(
    request: HttpRequest,
    form: SimulateForm,
    *,
    answer: Mapping[str, Any] | None = None,
    state: simjobs.JobState | None = None,
    job_id: str | None = None,
    pool_name: str | None = None,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "form": form,
        "pool_name": pool_name,
        "inline_scenarios": INLINE_SCENARIOS,
        "state": state,
        "job_id": job_id,
        "running": state is not None and state.running,
        "results": results_context(answer) if answer is not None else None,
    }
    return render(request, "pools/simulate.html", context, status=status)


def _place_error(form: SimulateForm, exc: PoolError) -> None:
    field = form.field_for(exc.field)
    text = exc.message[:1].upper() + exc.message[1:].rstrip(".") + "."
    form.add_error(field, text)


@login_required
@require_http_methods(["GET", "POST"])
def simulate(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        start = _pool_start(request, request.GET.get("pool", ""))
        if start is None:
            return _page(request, SimulateForm())
        initial = initial_simulation(list(start.gifts), start.currency, start.rules)
        form = SimulateForm(initial=initial, pool_start=start)
        return _page(request, form, pool_name=start.name)
    start = _pool_start(request, request.POST.get("pool", ""))
    pool_name = start.name if start is not None else None
    form = SimulateForm(request.POST, pool_start=start)
    if not form.is_valid():
        return _page(request, form, pool_name=pool_name, status=400)
    params = form.params()
    if (
        params["scenarios"] > INLINE_SCENARIOS
        or simjobs.member_months(params) > INLINE_MEMBER_MONTHS
    ):
        job_id = simjobs.start(person(request).pk, params)
        return redirect("pools:simulate_job", job_id=job_id)
    try:
        answer = simjobs.run(params)
    except PoolError as exc:
        _place_error(form, exc)
        return _page(request, form, pool_name=pool_name, status=400)
    return _page(request, form, answer=answer, pool_name=pool_name)


def _job(request: HttpRequest, job_id: str) -> simjobs.JobState:
    state = simjobs.read_state(person(request).pk, job_id)
    if state is None:
        raise Http404("no such simulation")
    return state


@login_required
@require_GET
def simulate_job(request: HttpRequest, job_id: str) -> HttpResponse:
    state = _job(request, job_id)
    start = _pool_start(request, str(state.params.get("pool") or ""))
    initial = _initial_from_params(state.params)
    if start is not None:
        initial.update(
            start=state.params.get("start") or START_RESERVES,
            use_history=bool(state.params.get("history")),
        )
    form = SimulateForm(initial=initial, pool_start=start)
    return _page(
        request,
        form,
        answer=state.answer,
        state=state,
        job_id=job_id,
        pool_name=start.name if start is not None else None,
    )


@login_required
@require_GET
def simulate_progress(request: HttpRequest, job_id: str) -> HttpResponse:
    """The progress alone, polled by htmx every second while the simulation runs; when it
    has finished the page reloads with the result."""
    state = _job(request, job_id)
    context = {"state": state, "job_id": job_id, "running": state.running}
    response = render(request, "pools/_simulate_progress.html", context)
    if not state.running:
        response["HX-Refresh"] = "true"
    return response


urlpatterns: list[URLPattern] = [
    path("simulate/", simulate, name="simulate"),
    path("simulate/jobs/<str:job_id>/", simulate_job, name="simulate_job"),
    path("simulate/jobs/<str:job_id>/progress/", simulate_progress, name="simulate_progress"),
]
