"""`keel plan show --worker EMAIL [--json]`: the current plan's progress from the books,
the worked example of ``test_planning`` on 15 Feb 2025 (day 45, on track)."""

from __future__ import annotations

import json
from datetime import date

from click.testing import CliRunner, Result

from keel.accounts.models import User
from keel.career import planning
from keel.cli import main_group

from .test_planning import books, make_plan


def keel(*args: str) -> Result:
    return CliRunner().invoke(main_group, ["plan", *args], prog_name="keel")


def test_plan_show_json_gives_the_exact_figures(maya: User) -> None:
    books(maya)
    plan = make_plan(maya, expansion_target=500_00)
    planning.add_action(plan, "Launch the workshop page", date(2025, 1, 20))
    shown = keel("show", "--worker", "MAYA@example.org", "--date", "2025-02-15", "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output) == {
        "worker": "maya@example.org",
        "plan": plan.pk,
        "status": "active",
        "currency": "EUR",
        "starts_on": "2025-01-01",
        "ends_on": "2025-03-31",
        "review_on": "2025-04-01",
        "as_of": "2025-02-15",
        "day": 45,
        "week": 7,
        "start_mrr": 10000,
        "target_mrr": 40000,
        "mrr_now": 35000,
        "expected_mrr": 25000,
        "progress_bps": 8333,
        "on_track": True,
        "behind_by": 0,
        "expansion_channel": "Workshops (offer)",
        "expansion_target": 50000,
        "expansion_income": 25000,
        "other_income": 10000,
        "income_by_channel": {"Workshops (offer)": 25000, "Studio membership (offer)": 10000},
        "actions": {"done": 0, "overdue": 1, "open": 0},
        "check_ins": 0,
        "review_due": False,
        "summary": [
            "MRR is €350.00, 83.33% of the way from €100.00 to the target of €400.00; "
            "on track (the plan's line is at €250.00 on day 45).",
            "Workshops (offer) brought €250.00, 71.43% of income so far; other channels €100.00.",
            "0 of 1 key actions done; overdue: Launch the workshop page.",
        ],
    }


def test_plan_show_in_words_and_without_a_plan(maya: User) -> None:
    books(maya)
    none = keel("show", "--worker", "maya@example.org", "--date", "2025-02-15")
    assert none.exit_code == 1 and "has no current plan on 2025-02-15" in none.output
    assert json.loads(keel("show", "--worker", "maya@example.org", "--json").output) == {
        "worker": "maya@example.org",
        "plan": None,
    }
    make_plan(maya)
    shown = keel("show", "--worker", "maya@example.org", "--date", "2025-03-02")
    assert shown.exit_code == 0
    assert shown.output.splitlines()[0] == (
        "Plan from 2025-01-01 to 2025-03-31 (day 60, week 9 of 13), expanding into "
        "Workshops (offer)"
    )
    assert "behind by €100.00" in shown.output
    unknown = keel("show", "--worker", "nobody@example.org")
    assert unknown.exit_code == 1 and "no worker with the email" in unknown.output
