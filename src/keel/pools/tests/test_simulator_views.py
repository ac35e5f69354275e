"""The solvency simulator page: prefilled from a pool, small runs answered in the request,
large runs on the task queue (immediate in tests) with a progress page only their owner
can read, and bad input refused next to its field."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape

import pytest
from django.test import Client
from django.utils import timezone

from keel.money import format_amount
from keel.pools import services, simjobs
from keel.pools.rules.gifts import add_months
from keel.pools.rules.simulate import SimulationInput, simulate

from .conftest import EUR_1000, EUR_1500, EUR_2000, person, small_fund_rules, this_month


def text(response) -> str:
    return " ".join(unescape(response.content.decode()).split())


def form_data(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "currency": "EUR",
        "members": 20,
        "gifts": "1,500.00",
        "deposit_rate": "4.5",
        "reserve_cap_deposits": 36,
        "waiting_months": 1,
        "incidence": "6.9",
        "mean_months": "7.1",
        "max_months": 24,
        "years": 2,
        "scenarios": 400,
        "seed": 7,
        "target": "",
        "epidemic_probability": "1",
        "epidemic_multiplier": "3",
    }
    data.update(changes)
    return data


def test_the_simulator_needs_login(db):
    response = Client().get("/pools/simulate/")
    assert response.status_code == 302


def test_prefilled_with_a_pools_members_and_rules(login, fund, ben):
    body = text(login(ben).get(f"/pools/simulate/?pool={fund.slug}"))
    assert "Prefilled with the members and rules of Bakers Fund." in body
    assert 'value="1500.00; 1000.00; 2000.00"' in body
    assert re.search(r'name="members" value="3"', body)
    assert re.search(r'name="deposit_rate" value="4.5"', body)
    assert re.search(r'name="waiting_months" value="0"', body)


def test_a_hidden_pool_prefills_nothing(login, fund, dee):
    body = text(login(dee).get(f"/pools/simulate/?pool={fund.slug}"))
    assert "Bakers Fund" not in body
    assert 'value="1500.00"' in body  # the default gift


def test_a_small_run_answers_at_once_and_agrees_with_the_simulator(login, ana):
    response = login(ana).post("/pools/simulate/", form_data(target="90"))
    assert response.status_code == 200
    body = text(response)
    expected = simulate(SimulationInput(gifts=(150_000,) * 20, years=2, scenarios=400, seed=7))
    assert f"{100 * expected.cut_probability:.1f}%" in body
    assert 'data-testid="pooling-benefit"' in body
    assert 'data-testid="years"' in body
    figure = json.loads(
        re.search(r'<script id="fig-sim-reserves" type="application/json">(.*?)</script>', body)[1]
    )
    assert len(figure["data"][0]["x"]) == 24
    assert re.search(r'data-testid="required-rate">\s*\d', body)


def test_bad_input_is_refused_next_to_its_field(login, ana):
    response = login(ana).post("/pools/simulate/", form_data(gifts="lots", years=500))
    assert response.status_code == 400
    errors = dict(re.findall(r'id="id_(\w+)-errors"> <div>(.*?)</div>', text(response)))
    assert "“lots” is not an amount in EUR" in errors["gifts"]
    assert "years" in errors


def test_a_large_run_goes_to_the_task_queue_and_its_page_shows_the_result(login, ana):
    response = login(ana).post("/pools/simulate/", form_data(members=5, scenarios=6_000, years=1))
    assert response.status_code == 302
    job_id = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert response["Location"] == f"/pools/simulate/jobs/{job_id}/"
    state = simjobs.read_state(ana.pk, job_id)
    assert state is not None and state.stage == "done"
    page = text(login(ana).get(response["Location"]))
    assert 'data-testid="results"' in page
    assert 'value="1500.00"' in page and re.search(r'name="scenarios" value="6000"', page)
    progress = login(ana).get(f"/pools/simulate/jobs/{job_id}/progress/")
    assert progress["HX-Refresh"] == "true"
    # Only the person who started it can read it.
    ben = person("ben@example.org", "Ben Baker")
    assert login(ben).get(response["Location"]).status_code == 404
    assert login(ben).get(f"/pools/simulate/jobs/{job_id}/progress/").status_code == 404


def test_a_running_job_is_polled(login, ana):
    params = {"gifts": [150_000] * 3, "scenarios": 100, "years": 1, "currency": "EUR"}
    simjobs._write(ana.pk, "job-1", params, simjobs.Stage.SIMULATE, 16, 100)
    page = text(login(ana).get("/pools/simulate/jobs/job-1/"))
    assert 'hx-get="/pools/simulate/jobs/job-1/progress/"' in page
    assert "Simulating: 16 of 100 scenarios" in page
    progress = login(ana).get("/pools/simulate/jobs/job-1/progress/")
    assert "HX-Refresh" not in progress


def test_a_failed_job_says_why(login, ana):
    simjobs.run_job(ana.pk, "job-2", {"gifts": [150_000], "currency": "EUR"})
    page = text(login(ana).get("/pools/simulate/jobs/job-2/"))
    assert "The simulation stopped: gifts must name at least two members." in page


# ------------------------------------------------------------------ started from a pool


def pool_form_data(pool, **changes: object) -> dict[str, object]:
    """The form as a pool's page prefills it (the Bakers Fund's three members in order)."""
    prefilled: dict[str, object] = {
        "members": 3,
        "gifts": "1500.00; 1000.00; 2000.00",
        "pool": pool.slug,
        "start": "reserves",
    }
    return form_data(**{**prefilled, **changes})


@pytest.fixture
def old_fund(ana, ben, cy):
    """A fund fourteen months old: Ben was sick for a while and has recovered, and Cy's
    claim of today still waits for approval (so it is no claim yet)."""
    today = timezone.localdate()
    start = add_months(this_month(), -14)
    pool = services.create_pool(
        ana, name="Old Fund", rules=small_fund_rules(), tier_gift=EUR_1500, today=start
    )
    services.apply(pool, ben, tier_gift=EUR_1000, today=start)
    services.apply(pool, cy, tier_gift=EUR_2000, today=start)
    members = services.active_members(pool)
    sick = add_months(start, 3)
    claim = None
    month = start
    while month <= this_month():
        day = min(month + timedelta(days=2), today)
        for member in members:
            services.pay_deposit(member, month, on=day)
        if month == sick:
            claim = services.report_claim(members[1], start_date=day, today=day)
            claim = services.decide_claim(claim, ana, "approve", today=day)
        if month == add_months(sick, 2):
            assert claim is not None
            services.report_recovery(claim, ben, month + timedelta(days=10))
        services.run_month(pool, month, today=day)
        month = add_months(month, 1)
    services.report_claim(members[2], start_date=today, today=today)
    return pool


def test_the_form_offers_the_pools_reserves_today_or_a_new_fund(login, fund, ben):
    body = text(login(ben).get(f"/pools/simulate/?pool={fund.slug}"))
    # This month's deposits: 4.5% of €1,500, €1,000 and €2,000.
    assert "The pool's reserves today: €202.50 in total" in body
    assert "Zero, as a new fund with nothing saved" in body
    assert re.search(r'type="radio" name="start" value="reserves"[^>]*checked', body)
    assert f'name="pool" value="{fund.slug}"' in body
    # A fund created today has no history to offer.
    assert "use_history" not in body and "own claims history" not in body


def test_a_run_from_a_pool_starts_from_its_reserves_in_member_order(login, fund, ben):
    held = services.reserves(fund)
    expected = [held[m.number] for m in services.active_members(fund)]
    assert expected == [6_750, 4_500, 9_000]  # Ana, Ben, Cy
    response = login(ben).post("/pools/simulate/", pool_form_data(fund, scenarios=6_000))
    assert response.status_code == 302
    job_id = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    state = simjobs.read_state(ben.pk, job_id)
    assert state is not None and state.stage == "done"
    assert state.params["initial_reserves"] == expected
    assert state.params["gifts"] == [EUR_1500, EUR_1000, EUR_2000]
    inp = simjobs.build_input(state.params)
    assert inp.initial_reserves == tuple(expected) and inp.history is None
    assert state.answer["result"]["initial_reserves_total"] == 20_250
    page = text(login(ben).get(response["Location"]))
    assert "Started from reserves of €202.50 in total." in page
    assert re.search(r'type="radio" name="start" value="reserves"[^>]*checked', page)


def test_a_run_from_a_pool_can_start_from_zero(login, fund, ben):
    response = login(ben).post("/pools/simulate/", pool_form_data(fund, start="zero"))
    assert response.status_code == 200
    body = text(response)
    assert "Started from zero reserves, as a new fund." in body
    expected = simulate(
        SimulationInput(
            gifts=(EUR_1500, EUR_1000, EUR_2000), waiting_months=1, years=2, scenarios=400, seed=7
        )
    )
    assert f"{100 * expected.cut_probability:.1f}%" in body


def test_the_pools_reserves_need_its_members(login, fund, ben):
    response = login(ben).post("/pools/simulate/", pool_form_data(fund, members=20))
    assert response.status_code == 400
    errors = dict(re.findall(r'id="id_(\w+)-errors"> <div>(.*?)</div>', text(response)))
    assert "keep 3 members, or start from zero" in errors["start"]


def test_a_hidden_pool_gives_no_reserves(login, fund, dee):
    """Someone outside the fund who posts its slug gets a plain run from zero."""
    response = login(dee).post("/pools/simulate/", pool_form_data(fund))
    assert response.status_code == 200
    body = text(response)
    assert "Started from zero reserves" in body and "Bakers Fund" not in body


def test_simulation_state_reads_the_pools_own_history(old_fund, ben):
    gifts, reserves, history = services.simulation_state(old_fund)
    assert gifts == [EUR_1500, EUR_1000, EUR_2000]
    held = services.reserves(old_fund)
    assert reserves == [held[1], held[2], held[3]]
    assert history is not None
    # Ben's claim only: Cy's still waits for approval.
    claim = old_fund.claims.get(membership__user=ben)
    paid = claim.gifts.filter(received__gt=0).count()
    assert paid >= 2
    assert history.claims == 1 and history.gift_months == (paid,)
    joined = old_fund.memberships.first().joined_on
    assert history.member_years == pytest.approx(3 * (timezone.localdate() - joined).days / 365.25)
    # Before twelve months there is no history to use.
    _, _, young = services.simulation_state(old_fund, today=add_months(joined, 12) - timedelta(1))
    assert young is None
    assert services.simulation_state(old_fund, today=add_months(joined, 12))[2] is not None


def test_the_history_option_appears_with_a_year_of_history(login, old_fund, ben):
    body = text(login(ben).get(f"/pools/simulate/?pool={old_fund.slug}"))
    assert re.search(r"Use this pool's own claims history: 1 claim in \d+\.\d member-years", body)
    response = login(ben).post(
        "/pools/simulate/", pool_form_data(old_fund, use_history="on", scenarios=6_000)
    )
    assert response.status_code == 302
    job_id = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    state = simjobs.read_state(ben.pk, job_id)
    assert state is not None and state.stage == "done", state
    _, reserves, history = services.simulation_state(old_fund)
    assert history is not None
    inp = simjobs.build_input(state.params)
    assert inp.history == history and inp.initial_reserves == tuple(reserves)
    assert state.answer["result"]["annual_incidence"] == pytest.approx(history.annual_incidence)
    page = text(login(ben).get(response["Location"]))
    assert "Sickness from the pool's own history (1 claim in" in page
    assert re.search(r'name="use_history"[^>]*checked', page)


def test_the_page_shows_both_pooling_columns_and_says_when_the_pool_is_fragile(login, ana):
    response = login(ana).post("/pools/simulate/", form_data(years=5, scenarios=2_000, seed=1))
    body = text(response)
    result = simulate(SimulationInput(gifts=(EUR_1500,) * 20, years=5, scenarios=2_000, seed=1))
    confidence = f"{100 * result.self_insurance_confidence:.1f}%"
    assert result.self_insurance_confidence < 0.95
    (tier,) = result.tiers
    table = re.search(r'data-testid="pooling-benefit">(.*?)</table>', body)[1]
    assert f"Alone, as sure as the pool ({confidence})" in table
    assert "Alone, 95% sure" in table and "Pooling saves, 95% sure" in table
    alone = format_amount(tier.self_insurance_reserve_at_benchmark, "EUR", symbol=True)
    saved = tier.self_insurance_reserve_at_benchmark - tier.pool_mean_reserve
    assert alone in table and format_amount(saved, "EUR", symbol=True) in table
    assert "-€" not in table  # never a negative saving
    fragile = re.search(r'data-testid="pool-fragile">(.*?)</p>', body)[1]
    assert fragile.startswith(f"The pool itself is fragile: it avoids a cut in only {confidence}")
    assert "set a target to find the deposit rate it needs" in fragile
    # With a target the sentence names the deposit rate the pool needs.
    priced = text(login(ana).post("/pools/simulate/", form_data(years=5, seed=1, target="95")))
    assert re.search(
        r"deposits of [\d.]+% of the gift \(now 4\.5%\) would keep gifts uncut in 95% of", priced
    )
    # Alone, as sure as this fragile pool, needs nothing, less than the pool holds: that is
    # explained, not shown as pooling costing more.
    assert tier.self_insurance_reserve == 0 < tier.pool_mean_reserve
    below = re.search(r'data-testid="below-pool">(.*?)</p>', body)[1]
    assert "because most members are never sick in 5 years" in below
    assert "That is no cost of pooling" in below


def test_a_sure_pool_is_not_called_fragile(login, ana):
    body = text(login(ana).post("/pools/simulate/", form_data(incidence="0.5", years=1)))
    assert 'data-testid="pooling-benefit"' in body
    assert "fragile" not in body


def test_only_a_sick_leave_fund_offers_the_simulator(login, fund, ana):
    emergency = services.create_pool(
        ana, name="Rainy Day", rules=services.default_rules("emergency", "EUR")
    )
    client = login(ana)
    assert f"/pools/simulate/?pool={fund.slug}" in text(client.get(f"/pools/{fund.slug}/"))
    body = text(client.get(f"/pools/{emergency.slug}/"))
    assert "/pools/simulate/" not in body and "Simulate solvency" not in body
    # Asked for anyway, the simulator starts from nothing of it.
    page = text(client.get(f"/pools/simulate/?pool={emergency.slug}"))
    assert "Rainy Day" not in page and 'name="start"' not in page
