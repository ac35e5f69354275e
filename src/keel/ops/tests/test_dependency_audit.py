"""`make audit` judges pip-audit's JSON report: a known vulnerability fails the build."""

from __future__ import annotations

from keel.ops.dependency_audit import judge

EDITABLE = {"name": "keel", "skip_reason": "distribution marked as editable"}
CLEAN = {"name": "django", "version": "5.2.19", "vulns": []}
UNREACHABLE = {
    "name": "redis",
    "skip_reason": "Dependency not found on PyPI and could not be audited: redis (8.1.0)",
}


def test_a_known_vulnerability_fails_naming_the_advisory_and_the_fix():
    vulnerable = {
        "name": "requests",
        "version": "2.31.0",
        "vulns": [{"id": "GHSA-9wx4-h78v-vm56", "fix_versions": ["2.32.0"]}],
    }
    verdict = judge({"dependencies": [EDITABLE, CLEAN, vulnerable], "fixes": []})
    assert verdict.exit_code(require_service=False) == 1
    assert verdict.describe() == [
        "audit: 1 known vulnerability(ies) in the installed dependencies:",
        "  requests 2.31.0: GHSA-9wx4-h78v-vm56 (fixed in 2.32.0)",
    ]


def test_a_vulnerability_without_a_fixed_release_fails_too():
    unfixed = {"name": "pip", "version": "26.3", "vulns": [{"id": "PYSEC-1", "fix_versions": []}]}
    verdict = judge({"dependencies": [unfixed]})
    assert verdict.exit_code(require_service=False) == 1
    assert verdict.vulnerable == ["pip 26.3: PYSEC-1 (no fixed release yet)"]


def test_clean_dependencies_pass_and_the_editable_project_is_left_out():
    verdict = judge({"dependencies": [EDITABLE, CLEAN, {**CLEAN, "name": "huey"}]})
    assert (verdict.audited, verdict.unaudited) == (2, [])
    assert verdict.exit_code(require_service=True) == 0
    assert verdict.describe() == ["audit: 2 dependencies audited, no known vulnerabilities"]


def test_a_partial_audit_fails():
    verdict = judge({"dependencies": [CLEAN, UNREACHABLE]})
    assert verdict.exit_code(require_service=False) == 1
    assert verdict.unaudited == [f"redis: {UNREACHABLE['skip_reason']}"]


def test_nothing_audited_warns_and_fails_only_when_the_service_is_required():
    verdict = judge({"dependencies": [EDITABLE, UNREACHABLE]})
    assert verdict.audited == 0
    assert verdict.exit_code(require_service=False) == 0
    assert verdict.exit_code(require_service=True) == 1
    (line,) = verdict.describe()
    assert line.startswith("audit: WARNING: nothing was audited")


def test_no_report_at_all_is_nothing_audited():
    verdict = judge({"dependencies": []})
    assert (verdict.exit_code(require_service=False), verdict.exit_code(require_service=True)) == (
        0,
        1,
    )
