"""What the `autofy` command loads to start, and the secrets it prints for a shell to evaluate."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# The web framework and the LLM SDKs cost seconds to import; a command that does not serve HTTP
# or call a model must not pay for them (docs/performance.md, "Starting the command").
WEB = ("fastapi",)
LLM = ("langchain", "openai", "anthropic", "google")


def loaded_modules(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported after running `code`."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def offending(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(module for module in modules if module.startswith(prefixes))


def test_the_command_line_entry_point_loads_no_web_framework_and_no_llm_sdk() -> None:
    modules = loaded_modules("import autofy.cli")
    assert "autofy" in modules
    assert offending(modules, WEB + LLM) == []


def test_the_worker_and_scheduler_load_neither_the_web_app_nor_an_llm_sdk() -> None:
    modules = loaded_modules(
        "import autofy.cli, autofy.server\n"
        "from autofy.connectors.catalog import catalog\n"
        "catalog()\n"
        "import autofy.engine.worker, autofy.triggers.scheduler, autofy.status.monitor"
    )
    assert "pgqueuer" in modules  # the probe did load the worker
    # LangChain and the SDKs load at a worker's first LLM step, not at its start.
    assert offending(modules, WEB + LLM) == []


def _shells() -> list[str]:
    return [shell for shell in ("bash", "sh", "zsh") if shutil.which(shell)]


@pytest.mark.parametrize("shell", _shells())
def test_eval_of_keys_generate_sets_working_secrets(shell: str) -> None:
    # Exactly the README's line, with the installed `autofy` command first on PATH.
    script = (
        'eval "$(autofy keys generate)"\n'
        f"{sys.executable} -c 'from autofy.config import Settings; "
        "from autofy.security.crypto import CredentialCipher; s = Settings(); "
        "CredentialCipher.from_settings(s); print(len(s.jwt_secret.get_secret_value()))'"
    )
    # A narrow terminal must not matter: the lines are for a shell, never wrapped.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "COLUMNS": "40", "PATH": path}
    for name in ("AUTOFY_JWT_SECRET", "AUTOFY_ENCRYPTION_KEYS"):
        env.pop(name, None)
    result = subprocess.run(
        [shell, "-c", script], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert int(result.stdout.strip()) == 64  # 48 random bytes, whole


def test_keys_generate_prints_export_lines() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "autofy", "keys", "generate"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "40"},
        check=True,
    )
    names = [line.split("=", 1)[0] for line in result.stdout.splitlines()]
    assert names == ["export AUTOFY_JWT_SECRET", "export AUTOFY_ENCRYPTION_KEYS"]
