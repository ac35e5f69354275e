"""The solvency simulator page: will a sick-leave pool of these members stay solvent, how
likely is a cut, what deposit rate reaches a target, and what pooling saves each member.

Up to ``forms.INLINE_SCENARIOS`` scenarios run inside the request; a larger run goes to
the task queue (``keel.pools.simjobs``) and its page polls the progress with htmx, then
reloads with the result, as the income import does.
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
    SimulateForm,
    amount_text,
    initial_simulation,
    percent_text,
)
from ..rules.pool_rules import format_percent, rules_to_json
from .render import person, user_of


def _percent(p: float, places: int = 1) -> str:
    return f"{100 * p:.{places}f}%"


def _pool_initial(request: HttpRequest, slug: str) -> tuple[dict[str, Any], str | None]:
    """The form prefilled for a pool the person can see: its active members' tiers and
    its rules; an unknown or hidden pool prefills nothing."""
    try:
        pool, _ = services.visible_pool(user_of(request), slug)
    except NotFound:
        return {}, None
    if pool.kind != "sick_leave":
        return {}, None
    tiers = [m.tier_gift or 0 for m in services.active_members(pool)]
    rules = rules_to_json(services.current_rules(pool))
    return initial_simulation(tiers, pool.currency, rules), pool.name


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


def results_context(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of a simulation as the page shows them."""
    result: Mapping[str, Any] = answer["result"]
    currency = str(answer.get("currency") or "EUR")

    def money(minor: float) -> str:
        return format_amount(round(minor), currency, symbol=True)

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
    tiers = [
        {
            "gift": money(t["gift"]),
            "members": t["members"],
            "deposit": money(t["deposit"]),
            "cap": money(t["reserve_cap"]),
            "alone": money(t["self_insurance_reserve"]),
            "pool": money(t["pool_mean_reserve"]),
            "pool_final": money(t["pool_final_reserve"]),
            "saving": money(t["self_insurance_reserve"] - t["pool_mean_reserve"]),
        }
        for t in result["tiers"]
    ]
    required = answer.get("required_deposit_rate_bps")
    target = answer.get("target_no_cut_probability")
    mean_cut = result.get("mean_cut_when_cut")
    inputs = result["inputs"]
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
        initial, pool_name = _pool_initial(request, request.GET.get("pool", ""))
        return _page(request, SimulateForm(initial=initial or None), pool_name=pool_name)
    form = SimulateForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
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
        return _page(request, form, status=400)
    return _page(request, form, answer=answer)


def _job(request: HttpRequest, job_id: str) -> simjobs.JobState:
    state = simjobs.read_state(person(request).pk, job_id)
    if state is None:
        raise Http404("no such simulation")
    return state


@login_required
@require_GET
def simulate_job(request: HttpRequest, job_id: str) -> HttpResponse:
    state = _job(request, job_id)
    form = SimulateForm(initial=_initial_from_params(state.params))
    return _page(request, form, answer=state.answer, state=state, job_id=job_id)


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
