"""docs/operations.md documents every setting Keel reads from the environment."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]


def test_every_environment_setting_is_documented_in_operations():
    read = {
        name
        for source in ("src/keel/settings.py", "src/keel/cli.py")
        for name in re.findall(r"\bKEEL_[A-Z0-9_]+\b", (ROOT / source).read_text())
    }
    assert {"KEEL_DATABASE_URL", "KEEL_REDIS_URL", "KEEL_LOG_FORMAT"} <= read
    documented = set(re.findall(r"`(KEEL_[A-Z0-9_]+)`", (ROOT / "docs/operations.md").read_text()))
    assert sorted(read - documented) == []
