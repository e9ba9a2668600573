from __future__ import annotations

from typing import Any

import pytest

from autofy.connectors.core.conditions import evaluate_conditions
from autofy.connectors.sdk import PermanentError


def rule(left: Any, op: str, right: Any = None, **extra: Any) -> dict[str, Any]:
    return {"left": left, "op": op, "right": right, **extra}


@pytest.mark.parametrize(
    ("condition", "passed"),
    [
        (rule("abc", "equals", "ABC"), True),
        (rule("abc", "equals", "ABC", case_sensitive=True), False),
        (rule("5", "equals", 5.0), True),
        (rule(True, "equals", "true"), True),
        (rule("a", "not_equals", "b"), True),
        (rule("Alerts from Bank", "contains", "bank"), True),
        (rule(["urgent", "bank"], "contains", "Bank"), True),
        (rule({"label": 1}, "contains", "label"), True),
        (rule("hello", "not_contains", "x"), True),
        (rule("invoice-42", "starts_with", "INVOICE"), True),
        (rule("report.pdf", "ends_with", ".pdf"), True),
        (rule("10", "greater_than", "9"), True),  # numbers, not text order
        (rule(3, "less_than", 2.5), False),
        (rule("2026-03-02", "greater_than", "2026-03-01"), True),
        (rule("abc", "greater_than", 5), False),
        (rule("  ", "is_empty"), True),
        (rule([], "is_empty"), True),
        (rule(None, "is_empty"), True),
        (rule(0, "is_not_empty"), True),
        (rule("Order #1234", "matches", r"#\d{4}$"), True),
        (rule("order", "matches", "^ORDER$"), True),
        (rule("order", "matches", "^ORDER$", case_sensitive=True), False),
    ],
)
def test_operators(condition: dict[str, Any], passed: bool) -> None:
    assert evaluate_conditions({"all": [condition]}).passed is passed


def test_groups_nest() -> None:
    rules = {
        "any": [
            rule("a", "equals", "b"),
            {"all": [rule(2, "greater_than", 1), rule("x", "is_not_empty")]},
        ]
    }
    outcome = evaluate_conditions(rules)
    assert outcome.passed
    assert outcome.explanation == "all 2 passed"


def test_any_explains_every_failure() -> None:
    outcome = evaluate_conditions({"any": [rule("a", "equals", "b"), rule(1, "greater_than", 2)]})
    assert not outcome.passed
    assert outcome.explanation == 'none passed: "a" equals "b" is false; 1 greater_than 2 is false'


def test_no_conditions_pass() -> None:
    assert evaluate_conditions({}).passed


@pytest.mark.parametrize(
    "rules",
    [
        {"all": [rule("a", "like", "b")]},
        {"all": [], "any": []},
        {"all": [rule("a", "matches", "(")]},
        {"every": []},
    ],
)
def test_malformed_rules_are_permanent_errors(rules: dict[str, Any]) -> None:
    with pytest.raises(PermanentError, match="invalid conditions"):
        evaluate_conditions(rules)


def test_a_runaway_pattern_is_stopped() -> None:
    with pytest.raises(PermanentError, match="took too long"):
        evaluate_conditions({"all": [rule("x" * 5000, "matches", "(x+x+)+y")]})
