from __future__ import annotations

from typing import Any

import pytest

from autofy.connectors.sdk import PermanentError
from tests.connectors.core.conftest import RunCore


@pytest.mark.parametrize(
    ("configuration", "number", "text"),
    [
        ({"operation": "round", "value": 2.675, "decimals": 2}, 2.68, "2.68"),
        ({"operation": "round", "value": 2.5, "decimals": 0}, 3, "3"),
        ({"operation": "round", "value": -2.5, "decimals": 0}, -3, "-3"),
        ({"operation": "format", "value": 1234567.891}, 1234567.89, "1,234,567.89"),
        (
            {
                "operation": "format",
                "value": "1234567.891",
                "thousands_separator": ".",
                "decimal_separator": ",",
            },
            1234567.89,
            "1.234.567,89",
        ),
        ({"operation": "format", "value": 1234, "decimals": 0, "thousands_separator": ""}, 1234, "1234"),
        ({"operation": "currency", "value": 1234.5, "currency": "EUR"}, 1234.5, "€1,234.50"),
        ({"operation": "currency", "value": -5, "currency": "usd"}, -5.0, "-$5.00"),
        ({"operation": "currency", "value": 10, "currency": "CHF"}, 10.0, "10.00 CHF"),
        ({"operation": "percentage", "value": 0.256, "decimals": 1}, 25.6, "25.6%"),
        ({"operation": "parse", "value": "$1,234.50"}, 1234.5, "1234.50"),
        ({"operation": "parse", "value": "€1.234,50", "decimal_separator": ","}, 1234.5, "1234.50"),
    ],
)
async def test_operations(run_core: RunCore, configuration: dict[str, Any], number: float, text: str) -> None:
    assert await run_core("format_number", configuration) == {"number": number, "text": text}


async def test_text_without_a_number_is_a_permanent_error(run_core: RunCore) -> None:
    with pytest.raises(PermanentError, match="does not contain a number"):
        await run_core("format_number", {"operation": "parse", "value": "n/a"})
