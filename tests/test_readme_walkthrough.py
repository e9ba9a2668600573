"""The README's quick start and first session (and the operations guide's health answers), run as
written against a live `autofy serve`.

The ```bash blocks of those sections run in bash, one after the other in one shell (variables carry
over, as in a reader's terminal), against a server started on a fresh data folder with the embedded
database. Every comment line that shows a JSON answer (`# {"status":"active",…}`) is checked
against the output of the command above it: the keys shown must have the values shown (`"…"`: any
value), and the answer may have more keys only where the README writes `…`.

The machine that runs the tests is offline: the Telegram integration of the walkthrough cannot reach
Telegram, which is one of the cases the README describes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from autofy.db import migrate
from tests.test_cli import _free_port, _wait_for_health

REPOSITORY = Path(__file__).parents[1]
README = (REPOSITORY / "README.md").read_text(encoding="utf-8")
OPERATIONS = (REPOSITORY / "docs" / "operations.md").read_text(encoding="utf-8")
README_ADDRESS = "127.0.0.1:8000"
EXPECTED = "@@readme-expected-answer"
SEPARATOR = "@@readme-separator"
ELIDED = "…"


def bash_blocks(section: str, document: str = README) -> list[str]:
    """The ```bash blocks of the section headed `section` (README.md unless told), in order."""
    start = document.index(f"\n## {section}\n")
    end = document.find("\n## ", start + 1)
    body = document[start : end if end != -1 else None]
    return re.findall(r"```bash\n(.*?)```", body, flags=re.DOTALL)


@dataclass(frozen=True)
class Expectation:
    command: str  # the lines the expected answer belongs to, for the failure message
    shown: str  # the comment as the README shows it


def instrumented(script: str) -> tuple[str, list[Expectation]]:
    """The script with each expected-answer comment replaced by a marker printed on stdout, so the
    output between two markers is the answer the README shows."""
    lines: list[str] = []
    expectations: list[Expectation] = []
    command: list[str] = []
    for line in script.splitlines():
        stripped = line.strip()
        if stripped.startswith("# {"):
            expectations.append(Expectation("\n".join(command), stripped[2:]))
            lines.append(f"printf '\\n{EXPECTED}\\n'")
            command = []
        elif stripped.startswith("#") or not stripped:
            lines.append(line)
            lines.append(f"printf '\\n{SEPARATOR}\\n'")  # what came before is not an expected answer
            command = []
        else:
            lines.append(line)
            command.append(line)
    return "\n".join(lines) + "\n", expectations


def parse_shown(shown: str) -> tuple[Any, bool]:
    """The JSON the README shows, and whether it leaves keys out (a bare `…`)."""
    open_ended = bool(re.search(rf",\s*{ELIDED}\s*[}}\]]", shown))
    return json.loads(re.sub(rf",\s*{ELIDED}(\s*[}}\]])", r"\1", shown)), open_ended


def mismatches(shown: Any, actual: Any, *, open_ended: bool, path: str = "") -> list[str]:
    if shown == ELIDED:
        return []
    if isinstance(shown, dict):
        if not isinstance(actual, dict):
            return [f"{path or 'answer'}: expected an object, got {actual!r}"]
        problems = [f"{path}{key}: missing" for key in shown if key not in actual]
        if not open_ended:
            problems += [f"{path}{key}: not shown in the README" for key in actual if key not in shown]
        for key, value in shown.items():
            if key in actual:
                problems += mismatches(value, actual[key], open_ended=open_ended, path=f"{path}{key}.")
        return problems
    if isinstance(shown, list):
        if not isinstance(actual, list) or len(actual) != len(shown):
            return [f"{path or 'answer'}: expected {len(shown)} items, got {actual!r}"]
        return [
            problem
            for index, (item, got) in enumerate(zip(shown, actual, strict=True))
            for problem in mismatches(item, got, open_ended=open_ended, path=f"{path}{index}.")
        ]
    return (
        [] if shown == actual else [f"{path.rstrip('.') or 'answer'}: README shows {shown!r}, got {actual!r}"]
    )


@dataclass(frozen=True)
class LiveServer:
    address: str
    process: subprocess.Popen[str]


@pytest.fixture(scope="module")
def live_server() -> Iterator[LiveServer]:
    """`autofy serve` on a fresh data folder and a free port, as the quick start runs it."""
    (install,) = [block for block in bash_blocks("Quick start") if "autofy serve" in block]
    assert install.strip().endswith("&& autofy serve"), "the quick start's command changed: update this test"
    data_dir = Path(tempfile.mkdtemp(prefix="autofy-readme-"))
    port = _free_port()
    env = {**os.environ, "AUTOFY_DATA_DIR": str(data_dir), "AUTOFY_PORT": str(port)}
    env.pop("AUTOFY_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "autofy", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for_health(f"http://127.0.0.1:{port}/health", process)
        yield LiveServer(f"127.0.0.1:{port}", process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
        shutil.rmtree(data_dir, ignore_errors=True)


def run_readme(blocks: list[str], server: LiveServer, tmp_path: Path) -> None:
    script, expectations = instrumented("\n".join(blocks).replace(README_ADDRESS, server.address))
    assert expectations, "no expected answers found: the README's format changed"
    # -e and pipefail: a command that fails (a KeyError in `json`, a refused activation) stops
    # the walkthrough there, as it would stop a reader.
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"the walkthrough stopped:\n{result.stdout}\n{result.stderr}"
    # Each expected-answer marker follows the output of the command above it.
    pieces = re.split(rf"\n({EXPECTED}|{SEPARATOR})\n", result.stdout)
    answers = [pieces[i - 1].strip() for i in range(1, len(pieces), 2) if pieces[i] == EXPECTED]
    assert len(answers) == len(expectations), result.stdout
    for expectation, answer in zip(expectations, answers, strict=True):
        shown, open_ended = parse_shown(expectation.shown)
        try:
            actual = json.loads(answer)
        except json.JSONDecodeError:
            pytest.fail(f"{expectation.command}\nanswered {answer!r}; the README shows {expectation.shown}")
        problems = mismatches(shown, actual, open_ended=open_ended)
        assert not problems, (
            f"{expectation.command}\nREADME shows {expectation.shown}\ngot {actual}\n{problems}"
        )


def test_quick_start_health_answer_is_as_shown(live_server: LiveServer, tmp_path: Path) -> None:
    blocks = [block for block in bash_blocks("Quick start") if block.lstrip().startswith("curl")]
    assert len(blocks) == 1
    assert f'"schema_version":"{migrate.head_revision()}"' in blocks[0]
    run_readme(blocks, live_server, tmp_path)


def telegram_resolves() -> bool:
    try:
        socket.getaddrinfo("api.telegram.org", 443)
    except OSError:
        return False
    return True


def test_first_session_with_curl_runs_as_written(live_server: LiveServer, tmp_path: Path) -> None:
    if telegram_resolves():
        # The README shows the offline answer of the integration test (its placeholder token
        # would be refused by the real Telegram); tests never depend on the internet either way.
        pytest.skip("this machine reaches api.telegram.org; the README shows the offline answers")
    run_readme(bash_blocks("A first session with curl"), live_server, tmp_path)


def test_operations_readiness_answer_is_as_shown(live_server: LiveServer, tmp_path: Path) -> None:
    run_readme(bash_blocks("Health endpoints", OPERATIONS), live_server, tmp_path)
