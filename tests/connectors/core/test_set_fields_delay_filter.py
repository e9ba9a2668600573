from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from autofy.connectors.core.delay import DelayInput, resume_at
from autofy.connectors.sdk import PermanentError
from tests.connectors.core.conftest import RunCore

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def test_set_fields_outputs_exactly_the_fields(run_core: RunCore) -> None:
    fields = {"customer": "ada@example.com", "priority": 2, "tags": ["a"]}
    assert await run_core("set_fields", {"fields": fields}) == fields


async def test_set_fields_refuses_names_templates_cannot_reach(run_core: RunCore) -> None:
    with pytest.raises(PermanentError, match="not a usable name"):
        await run_core("set_fields", {"fields": {"first name": "Ada"}})


@pytest.mark.parametrize(
    ("configuration", "expected"),
    [
        ({"seconds": 30}, NOW + timedelta(seconds=30)),
        ({"minutes": 5, "hours": 1}, NOW + timedelta(hours=1, minutes=5)),
        ({"until": "2026-03-02T10:00:00+01:00"}, datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        ({"until": "2026-03-02T09:00:00"}, datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        ({"until": "2020-01-01T00:00:00Z"}, NOW),
    ],
)
def test_resume_at(configuration: dict[str, Any], expected: datetime) -> None:
    assert resume_at(DelayInput.model_validate(configuration), NOW) == expected


@pytest.mark.parametrize(
    "configuration", [{"hours": 24 * 31}, {"until": "2026-05-01T00:00:00Z"}, {"until": "soon"}]
)
def test_resume_at_refuses_long_or_unreadable_delays(configuration: dict[str, Any]) -> None:
    with pytest.raises(PermanentError):
        resume_at(DelayInput.model_validate(configuration), NOW)


async def test_delay_step_returns_when_to_resume(run_core: RunCore) -> None:
    before = datetime.now(UTC)
    output = await run_core("delay", {"minutes": 10})
    moment = datetime.fromisoformat(output["resume_at"])
    assert before + timedelta(minutes=10) <= moment <= datetime.now(UTC) + timedelta(minutes=10)


@pytest.mark.parametrize(
    "configuration", [{}, {"minutes": 1, "until": "2026-03-01T10:00:00Z"}, {"minutes": -1}]
)
async def test_delay_needs_exactly_one_way_to_wait(run_core: RunCore, configuration: dict[str, Any]) -> None:
    with pytest.raises(PermanentError, match="invalid configuration"):
        await run_core("delay", configuration)


async def test_filter_step_reports_passed_and_why(run_core: RunCore) -> None:
    rules = {"all": [{"left": "alerts@bank.example", "op": "contains", "right": "BANK"}]}
    assert await run_core("filter", rules) == {
        "passed": True,
        "explanation": "all 1 passed",
    }
    failing = {"all": [{"left": "news@shop.example", "op": "ends_with", "right": "bank.example"}]}
    assert await run_core("filter", failing) == {
        "passed": False,
        "explanation": '"news@shop.example" ends_with "bank.example" is false',
    }
