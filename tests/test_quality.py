"""The code stays ruff-clean (lint and format, as `make lint` checks) and type-checks (mypy, pyproject.toml)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("tool", "args"), [("mypy", []), ("ruff", ["check", "."]), ("ruff", ["format", "--check", "."])]
)
def test_tool_is_clean(tool: str, args: list[str], tmp_path: Path) -> None:
    if importlib.util.find_spec(tool) is None:
        pytest.skip(f"{tool} is not installed (it comes with the test extras)")
    extra = ["--cache-dir", str(tmp_path / "cache")] if tool == "mypy" else ["--no-cache"]
    proc = subprocess.run(
        [sys.executable, "-m", tool, *args, *extra], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
