"""The solvency simulator page: prefilled from a pool, small runs answered in the request,
large runs on the task queue (immediate in tests) with a progress page only their owner
can read, and bad input refused next to its field."""

from __future__ import annotations

import json
import re
from html import unescape

from django.test import Client

from keel.pools import simjobs
from keel.pools.rules.simulate import SimulationInput, simulate

from .conftest import person


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
