from __future__ import annotations

from typing import Any

import pytest

from autofy.connectors.sdk import PermanentError
from tests.connectors.core.conftest import RunCore


@pytest.mark.parametrize(
    ("configuration", "result"),
    [
        ({"operation": "upper", "text": "Hello"}, "HELLO"),
        ({"operation": "lower", "text": "Hello"}, "hello"),
        ({"operation": "title", "text": "hello world"}, "Hello World"),
        ({"operation": "capitalize", "text": "hello World"}, "Hello World"),
        ({"operation": "trim", "text": "  hi \n"}, "hi"),
        ({"operation": "replace", "text": "a-b-c", "find": "-", "replace_with": "+"}, "a+b+c"),
        ({"operation": "truncate", "text": "The quick brown fox", "max_length": 10}, "The quick…"),
        ({"operation": "truncate", "text": "short", "max_length": 10}, "short"),
        ({"operation": "split", "text": "a, b ,c"}, ["a", "b", "c"]),
        ({"operation": "split", "text": "a|b", "separator": "|"}, ["a", "b"]),
        ({"operation": "slugify", "text": "Crème brûlée: 2 recipes!"}, "creme-brulee-2-recipes"),
        (
            {"operation": "strip_html", "text": "<p>Hi&nbsp;<b>there</b></p><script>x()</script><p>Bye</p>"},
            "Hi there\n\nBye",
        ),
        ({"operation": "length", "text": "héllo"}, 5),
        ({"operation": "word_count", "text": " one two\nthree "}, 3),
    ],
)
async def test_operations(run_core: RunCore, configuration: dict[str, Any], result: Any) -> None:
    assert await run_core("format_text", configuration) == {"result": result}


@pytest.mark.parametrize(
    "configuration",
    [
        {"operation": "replace", "text": "x"},
        {"operation": "truncate", "text": "x"},
        {"operation": "shout", "text": "x"},
    ],
)
async def test_missing_or_unknown_arguments_are_refused(
    run_core: RunCore, configuration: dict[str, Any]
) -> None:
    with pytest.raises(PermanentError, match="invalid configuration"):
        await run_core("format_text", configuration)
