"""`make audit`: known vulnerabilities in the installed dependencies fail the build.

    python -m keel.ops.dependency_audit [--require-service]

Runs pip-audit over the environment of this Python (the project's .venv) against PyPI's
vulnerability data, then judges its report:

- any dependency with a known vulnerability: exit 1, naming it, the advisory and the fixed
  versions;
- some dependencies could not be audited while others could: exit 1 (a partial audit is
  not a clean one);
- none could be audited (the vulnerability service does not answer from this machine):
  a warning saying nothing was audited, exit 0, or exit 1 with --require-service;
- otherwise exit 0.

Packages installed in editable mode (Keel itself) are not on PyPI and are left out.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERVICE = "pypi"


@dataclass
class Verdict:
    audited: int = 0
    vulnerable: list[str] = field(default_factory=list)
    unaudited: list[str] = field(default_factory=list)

    def exit_code(self, *, require_service: bool) -> int:
        if self.vulnerable:
            return 1
        if self.audited == 0:
            return 1 if require_service else 0
        return 1 if self.unaudited else 0

    def describe(self) -> list[str]:
        if self.vulnerable:
            return [
                f"audit: {len(self.vulnerable)} known vulnerability(ies) in the installed"
                " dependencies:",
                *(f"  {line}" for line in self.vulnerable),
            ]
        if self.audited == 0:
            return [
                "audit: WARNING: nothing was audited: the vulnerability service answered for"
                f" none of {len(self.unaudited)} dependencies (first: {self.unaudited[0]})"
                if self.unaudited
                else "audit: WARNING: nothing was audited: pip-audit reported no dependencies"
            ]
        if self.unaudited:
            return [
                f"audit: {len(self.unaudited)} dependency(ies) could not be audited:",
                *(f"  {line}" for line in self.unaudited),
            ]
        return [f"audit: {self.audited} dependencies audited, no known vulnerabilities"]


def judge(report: dict[str, Any]) -> Verdict:
    """A verdict on pip-audit's JSON report (``-f json``)."""
    verdict = Verdict()
    for dependency in report.get("dependencies", []):
        name = dependency["name"]
        reason = dependency.get("skip_reason")
        if reason is not None:
            if "editable" not in reason:
                verdict.unaudited.append(f"{name}: {reason}")
            continue
        verdict.audited += 1
        for vuln in dependency.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions") or [])
            verdict.vulnerable.append(
                f"{name} {dependency['version']}: {vuln['id']}"
                + (f" (fixed in {fixes})" if fixes else " (no fixed release yet)")
            )
    return verdict


def run_pip_audit() -> dict[str, Any]:
    """pip-audit's report on this environment; an empty one if it wrote none (it could not
    reach the vulnerability service at all)."""
    with tempfile.TemporaryDirectory(prefix="keel-audit-") as tmp:
        output = Path(tmp) / "audit.json"
        completed = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
            [
                sys.executable,
                "-m",
                "pip_audit",
                "--vulnerability-service",
                SERVICE,
                "--skip-editable",
                "--progress-spinner",
                "off",
                "--desc",
                "off",
                "--format",
                "json",
                "--output",
                str(output),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if not output.exists() or not output.read_text().strip():
            print(completed.stderr.strip(), file=sys.stderr)
            return {"dependencies": []}
        report: dict[str, Any] = json.loads(output.read_text())
        return report


def main(argv: list[str]) -> int:
    if any(arg not in {"--require-service"} for arg in argv):
        print("usage: python -m keel.ops.dependency_audit [--require-service]", file=sys.stderr)
        return 2
    verdict = judge(run_pip_audit())
    for line in verdict.describe():
        print(line, file=sys.stderr)
    return verdict.exit_code(require_service="--require-service" in argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
