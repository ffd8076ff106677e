"""Operator documentation stays true: every environment variable read is in the README table."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["state", "nodes", "graphs", "validators", "gateway", "telemetry", "simulator",
           "store", "evals", "conductor_cli", "server"]  # fmt: skip
NAME = re.compile(r"\b((?:CONDUCTOR|OPENAI|DATABASE|LANGSMITH)_[A-Z0-9_]*[A-Z0-9])\b")


def variables_read() -> set[str]:
    found: set[str] = set()
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".toml"):
                found |= set(NAME.findall(path.read_text(encoding="utf-8")))
    constants = {name for name in found if name.endswith(("_ENV", "_ENV_VAR"))}  # Python names
    return found - constants - {"CONDUCTOR_SECRET"}  # the prefix of CONDUCTOR_SECRET_<REF>


def test_every_environment_variable_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    missing = sorted(name for name in variables_read() if f"`{name}" not in table)
    assert missing == [], f"document these in the README's environment table: {missing}"


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_make_dev_serves_the_store_it_seeded() -> None:
    dry = subprocess.run(
        ["make", "-n", "dev", "DB=/tmp/other.db"], cwd=ROOT, capture_output=True, text=True
    )
    assert "conductor seed --db /tmp/other.db" in dry.stdout
    assert "CONDUCTOR_DB=/tmp/other.db " in dry.stdout and "langgraph dev" in dry.stdout
