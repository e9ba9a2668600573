"""The README is what users read first: it must stay true to the code."""

from __future__ import annotations

from pathlib import Path

from autofy.config import Settings

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_documents_every_setting() -> None:
    missing = [
        f"AUTOFY_{name.upper()}" for name in Settings.model_fields if f"`AUTOFY_{name.upper()}`" not in README
    ]
    assert missing == [], f"README.md's settings table lacks {missing}"


def test_readme_test_command_is_what_ci_runs() -> None:
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install -e ".[dev]" && pytest' in README
    assert 'python -m pip install --quiet -e ".[dev]"' in ci
    assert ci.rstrip().endswith("pytest")
