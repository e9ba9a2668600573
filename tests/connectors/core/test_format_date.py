from __future__ import annotations

from typing import Any

import pytest

from autofy.connectors.sdk import PermanentError
from tests.connectors.core.conftest import RunCore


@pytest.mark.parametrize(
    ("configuration", "text"),
    [
        ({"date": "2026-03-01T09:30:00Z"}, "2026-03-01T09:30:00+00:00"),
        ({"date": "Sun, 01 Mar 2026 09:30:00 +0100", "to_timezone": "UTC"}, "2026-03-01T08:30:00+00:00"),
        ({"date": "1 March 2026", "output_format": "date"}, "2026-03-01"),
        ({"date": "March 1, 2026", "output_format": "%A %d %B %Y"}, "Sunday 01 March 2026"),
        ({"date": 1772357400, "output_format": "iso"}, "2026-03-01T09:30:00+00:00"),
        ({"date": "1772357400000"}, "2026-03-01T09:30:00+00:00"),
        ({"date": "03/04/2026", "input_format": "%d/%m/%Y", "output_format": "date"}, "2026-04-03"),
        ({"date": "2026-03-01 09:30", "timezone": "Europe/Paris", "output_format": "epoch"}, "1772353800"),
        (
            {"date": "2026-03-01T09:30:00Z", "to_timezone": "America/New_York", "output_format": "time"},
            "04:30",
        ),
        ({"date": "2026-03-01T09:30:00Z", "add": {"days": -1, "hours": 2}}, "2026-02-28T11:30:00+00:00"),
        ({"date": "2026-03-01T09:30:00Z", "output_format": "rfc2822"}, "Sun, 01 Mar 2026 09:30:00 +0000"),
    ],
)
async def test_reading_converting_and_writing(
    run_core: RunCore, configuration: dict[str, Any], text: str
) -> None:
    assert (await run_core("format_date", configuration))["text"] == text


async def test_adding_a_day_across_a_daylight_saving_change_keeps_the_wall_clock(run_core: RunCore) -> None:
    # Paris moved its clocks forward on 2026-03-29: one day later is still 09:00 there.
    output = await run_core(
        "format_date",
        {"date": "2026-03-28T09:00:00", "timezone": "Europe/Paris", "add": {"days": 1}},
    )
    assert output["iso"] == "2026-03-29T09:00:00+02:00"
    assert output["timezone"] == "Europe/Paris"
    assert output["epoch_seconds"] == 1774767600


async def test_unknown_time_zones_are_refused(run_core: RunCore) -> None:
    with pytest.raises(PermanentError, match="unknown time zone 'Mars/Olympus'"):
        await run_core("format_date", {"date": "2026-03-01", "to_timezone": "Mars/Olympus"})


async def test_unreadable_dates_are_permanent_errors(run_core: RunCore) -> None:
    with pytest.raises(PermanentError, match="could not read 'soon' as a date"):
        await run_core("format_date", {"date": "soon"})
