"""Skills through the services and the page: effective rates by exact combination and by
skill with cents computed by hand, the ceiling, the adjacent-skill suggestion (peer
figures only with the worker's opt-in and at least five opted-in peers behind a figure),
monthly rate history, the reputation verdict from verified testimonials, and the page.

Amounts are euro cents; a rate is cents per hour, ``income * 60 / minutes`` rounded half
up."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from django.test import Client

from keel.accounts.models import User
from keel.career import reputation_services
from keel.career import skills_services as services
from keel.career.errors import CareerError
from keel.career.models import Skill, WorkLog
from keel.career.rules.skills import MIN_PEERS

from .conftest import make_contract, person
from .test_views import text

Login = Callable[[User | None], Client]

# (skills, day, minutes, income): Maya's jobs, the worked example of the module docstring.
JOBS = [
    ({"copywriting"}, date(2024, 1, 10), 120, 10_000),  # 5,000 an hour
    ({"copywriting"}, date(2024, 1, 20), 90, 6_000),  # 4,000
    ({"copywriting"}, date(2024, 2, 5), 60, 4_500),  # 4,500
    ({"copywriting"}, date(2024, 3, 10), 30, 2_000),  # 4,000
    ({"copywriting", "design"}, date(2024, 2, 10), 200, 25_000),  # 7,500
    ({"copywriting", "design"}, date(2024, 2, 15), 45, 5_000),  # 6,666.67 -> 6,667
    ({"copywriting", "design"}, date(2024, 3, 1), 100, 9_999),  # 5,999.4 -> 5,999
]


def skill(worker: User, name: str) -> Skill:
    return services.save_skill(worker, name=name, level=3)


def log(
    worker: User, names: set[str], day: date, minutes: int, income: int, client: str = "Acme"
) -> WorkLog:
    return services.log_work(
        worker,
        done_on=day,
        minutes=minutes,
        currency="EUR",
        skills=[skill(worker, n) for n in sorted(names)],
        income=income,
        client_name=client,
    )


def log_all(worker: User) -> None:
    for names, day, minutes, income in JOBS:
        log(worker, names, day, minutes, income)


def peer_with(email: str, rates: list[int], *, opted_in: bool = True) -> User:
    """A peer with one-hour copywriting + seo jobs at ``rates`` (cents an hour)."""
    peer = person(email, email.split("@")[0].title())
    for i, rate in enumerate(rates):
        log(peer, {"copywriting", "seo"}, date(2024, 4, 1 + i), 60, rate, client="Beta")
    services.set_sharing(peer, opted_in)
    return peer


def test_rates_by_combination_and_skill_in_cents_by_hand(maya: User) -> None:
    log_all(maya)
    report = services.skills_report(maya, "EUR")
    combos = {row.name: row for row in report.by_combination}
    alone = combos["copywriting"]
    # 10,000 + 6,000 + 4,500 + 2,000 = 22,500 cents in 300 minutes: 22,500 * 60 / 300.
    assert (alone.income, alone.minutes, alone.jobs, alone.rate) == (22_500, 300, 4, 4_500)
    # Job rates 5,000 4,500 4,000 4,000: k = max(2, ceil(4/10)) = 2nd highest.
    assert alone.ceiling == 4_500 and alone.best_job_rate == 5_000
    both = combos["copywriting + design"]
    # 39,999 cents in 345 minutes: 2,399,940 / 345 = 6,956.35 -> 6,956.
    assert (both.income, both.minutes, both.rate) == (39_999, 345, 6_956)
    # Job rates 7,500 6,667 5,999: the 2nd highest.
    assert both.ceiling == 6_667
    assert [row.name for row in report.by_combination] == ["copywriting + design", "copywriting"]

    skills = {row.name: row for row in report.by_skill}
    # Every job used copywriting: 62,499 cents in 645 minutes: 3,749,940 / 645 = 5,813.86.
    assert (skills["copywriting"].income, skills["copywriting"].rate) == (62_499, 5_814)
    assert (skills["design"].minutes, skills["design"].rate) == (345, 6_956)


def test_rate_history_per_skill_and_client_is_monthly(maya: User) -> None:
    log_all(maya)
    log(maya, {"design"}, date(2024, 3, 20), 60, 8_000, client="Zeta")
    report = services.skills_report(maya, "EUR")
    design = {m.month: m for m in report.history_by_skill["design"]}
    # February: 30,000 in 245 minutes = 7,346.94 -> 7,347; March: 17,999 in 160 = 6,749.6.
    assert (design[date(2024, 2, 1)].rate, design[date(2024, 3, 1)].rate) == (7_347, 6_750)
    assert list(report.history_by_client) == ["Acme", "Zeta"]
    assert [m.rate for m in report.history_by_client["Zeta"]] == [8_000]
    # January for Acme: 16,000 in 210 minutes = 4,571.43.
    assert report.history_by_client["Acme"][0].rate == 4_571


def test_the_suggestion_uses_own_jobs_without_peers(maya: User) -> None:
    log_all(maya)
    suggestion = services.skills_report(maya, "EUR").suggestion
    assert suggestion is not None and suggestion.current == frozenset({"copywriting"})
    assert suggestion.baseline == 4_500 and suggestion.baseline_is_ceiling
    best = suggestion.best
    assert best is not None
    assert (best.skill, best.ceiling, best.source, best.count) == ("design", 6_667, "own", 3)
    assert "Adding design" in suggestion.words() and "€66.67" in suggestion.words()


def test_peer_figures_need_the_opt_in_and_five_peers(maya: User) -> None:
    log_all(maya)
    # Peer i's jobs: 9,000+i, 8,000+100i, 7,000: ceiling (2nd highest) 8,000 + 100i.
    for i in range(MIN_PEERS - 1):
        peer_with(f"peer{i}@example.org", [9_000 + i, 8_000 + 100 * i, 7_000])
    # Someone who did not opt in never counts.
    peer_with("quiet@example.org", [20_000, 20_000, 20_000], opted_in=False)
    services.set_sharing(maya, True)
    # Four opted-in peers: no figure is shown, whatever they reach.
    assert services.peer_figures(maya, "EUR") == []
    assert services.skills_report(maya, "EUR").suggestion.best.skill == "design"  # type: ignore[union-attr]

    peer_with("peer4@example.org", [9_004, 8_400, 7_000])
    figures = services.peer_figures(maya, "EUR")
    # Five ceilings 8,000 8,100 8,200 8,300 8,400: the median is 8,200.
    assert [(sorted(f.combination), f.ceiling, f.peer_count) for f in figures] == [
        (["copywriting", "seo"], 8_200, 5)
    ]
    report = services.skills_report(maya, "EUR")
    best = report.suggestion.best  # type: ignore[union-attr]
    assert best is not None and (best.skill, best.ceiling, best.source) == ("seo", 8_200, "peers")
    assert "5 peers who combine copywriting + seo" in report.suggestion.words()  # type: ignore[union-attr]

    # Without Maya's own opt-in she sees no peer figure.
    services.set_sharing(maya, False)
    assert services.peer_figures(maya, "EUR") == []
    assert services.skills_report(maya, "EUR").suggestion.best.source == "own"  # type: ignore[union-attr]


def _testimonial_on(worker: User, day: date) -> None:
    at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    _, token = reputation_services.request_testimonial(
        worker, client_name="Ada", client_email="ada@acme.example", now=at
    )
    assert token is not None
    reputation_services.write_testimonial(token, text="Great", author_name="Ada", now=at)


def test_rates_rise_with_verified_testimonials(maya: User) -> None:
    for i, income in enumerate([4_000, 4_500, 5_000, 6_000, 7_000]):
        log(maya, {"copywriting"}, date(2024, 5, 1 + 7 * i), 60, income)
    _testimonial_on(maya, date(2024, 5, 10))
    _testimonial_on(maya, date(2024, 5, 20))
    trend = services.skills_report(maya, "EUR").reputation
    # Counts 0 0 1 2 2 against strictly rising rates.
    assert trend.verdict == "rising" and trend.rho is not None and trend.rho > 0.8
    assert [lvl.testimonials for lvl in trend.levels] == [0, 1, 2]
    assert trend.words().startswith("Your rates rise with your reputation")


def test_log_work_refuses_others_skills_and_takes_a_linked_milestone(
    maya: User, noor: User
) -> None:
    theirs = skill(noor, "design")
    with pytest.raises(CareerError) as refused:
        services.log_work(
            maya, done_on=date(2024, 1, 1), minutes=60, currency="EUR", skills=[theirs], income=1
        )
    assert refused.value.field == "skills"
    with pytest.raises(CareerError):
        services.save_skill(maya, name="too, many", level=3)
    with pytest.raises(CareerError):
        services.save_skill(maya, name="x", level=6)
    # Names are one skill across workers however they are typed.
    assert services.save_skill(maya, name="  Copy  Writing ", level=4).name == "copy writing"

    contract = make_contract(maya, 100_000)
    milestone = contract.milestones.get()
    milestone.released = 100_000
    milestone.save(update_fields=["released"])
    logged = services.log_work(
        maya,
        done_on=date(2024, 1, 1),
        minutes=600,
        currency="EUR",
        skills=[skill(maya, "design")],
        milestone=milestone,
    )
    assert logged.income == 100_000 and logged.milestone_id == milestone.pk
    other = make_contract(noor, 50_000).milestones.get()
    with pytest.raises(CareerError):
        services.log_work(
            maya,
            done_on=date(2024, 1, 1),
            minutes=60,
            currency="EUR",
            skills=[skill(maya, "design")],
            milestone=other,
        )


def test_the_skills_page(maya: User, noor: User, login: Login) -> None:
    page = login(maya)
    assert "Log some work" in text(page.get("/career/skills/"))
    made = page.post("/career/skills/", {"token": "s-1", "name": "Copywriting", "level": "4"})
    assert made.status_code == 302
    assert (
        page.post("/career/skills/", {"token": "s-1", "name": "x", "level": "4"}).status_code == 302
    )
    assert list(Skill.objects.filter(worker=maya).values_list("name", "level")) == [
        ("copywriting", 4)
    ]
    copy = Skill.objects.get(worker=maya)
    form = {
        "token": "w-1",
        "done_on": "2024-01-10",
        "hours": "2",
        "extra_minutes": "0",
        "currency": "EUR",
        "income": "100.00",
        "client_name": "Acme",
        "skills": [str(copy.pk)],
    }
    assert page.post("/career/skills/work/", form).status_code == 302
    assert page.post("/career/skills/work/", form).status_code == 302  # resent: once
    assert WorkLog.objects.get().income == 10_000
    # Another worker's skill is not a choice.
    theirs = skill(noor, "design")
    refused = page.post("/career/skills/work/", {**form, "token": "w-2", "skills": [theirs.pk]})
    assert refused.status_code == 400 and WorkLog.objects.count() == 1
    shown = page.get("/career/skills/")
    body = text(shown)
    assert "€50.00" in body and "Rate history by client" in body
    assert "Not enough jobs yet" in body
    figure = json.loads(
        shown.content.decode().split('id="fig-rates" type="application/json">')[1].split("<")[0]
    )
    assert figure["data"][0]["name"] == "copywriting"
    assert "<script>" not in shown.content.decode()  # no inline script, only data
    assert page.post("/career/skills/sharing/", {"opted_in": "on"}).status_code == 302
    assert services.is_sharing(maya)
    assert login(None).get("/career/skills/").status_code == 302


def test_currencies_home_first(maya: User) -> None:
    usd = skill(maya, "seo")
    services.log_work(
        maya, done_on=date(2024, 1, 1), minutes=60, currency="USD", skills=[usd], income=1_000
    )
    assert services.currencies(maya) == ["USD"]
    log(maya, {"seo"}, date(2024, 1, 2), 60, 1_000)
    assert services.currencies(maya) == ["EUR", "USD"]
    assert services.skills_report(maya, "USD").jobs == 1
