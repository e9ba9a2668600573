"""The rule tree of step `conditions` and of the filter step, and its evaluation.

`{"all": [{"left": "{{ trigger.from }}", "op": "contains", "right": "bank"}]}`: `all`/`any` nest,
each rule compares an already-rendered `left` with `right`. Evaluation is a pure function, shared by
the filter step and by the engine for per-step conditions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import regex
from pydantic import Discriminator, Field, Tag, ValidationError, model_validator

from autofy.connectors.sdk import PermanentError, StrictModel

Operator = Literal[
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "greater_than",
    "less_than",
    "is_empty",
    "is_not_empty",
    "matches",
]
# A user's pattern runs on a worker: bound it so a catastrophic pattern cannot stall one.
REGEX_TIMEOUT_SECONDS = 0.5
MAX_PATTERN_LENGTH = 500


class Rule(StrictModel):
    left: Any = Field(description="The value to test, usually a template such as {{ trigger.from }}.")
    op: Operator = Field(description="How to compare left with right.")
    right: Any = Field(
        default=None,
        description="The value to compare with (not used by is_empty and is_not_empty; a regular "
        "expression for matches).",
    )
    case_sensitive: bool = Field(
        default=False, description="Compare text exactly, not ignoring upper and lower case."
    )

    @model_validator(mode="after")
    def _pattern_compiles(self) -> Rule:
        if self.op == "matches" and isinstance(self.right, str) and not _is_template(self.right):
            compile_pattern(self.right, case_sensitive=self.case_sensitive)
        return self


def _node_kind(node: Any) -> str:
    if isinstance(node, Mapping):
        return "group" if "all" in node or "any" in node else "rule"
    return "group" if isinstance(node, RuleGroup) else "rule"


# A rule has `op`, a group has `all` or `any`: telling them apart up front keeps validation errors
# about the one the user meant.
RuleNode = Annotated[
    Annotated[Rule, Tag("rule")] | Annotated["RuleGroup", Tag("group")], Discriminator(_node_kind)
]


class RuleGroup(StrictModel):
    all: list[RuleNode] | None = Field(
        default=None, description="Passes when every rule or group in the list passes."
    )
    any: list[RuleNode] | None = Field(
        default=None, description="Passes when at least one rule or group in the list passes."
    )

    @model_validator(mode="after")
    def _one_combinator(self) -> RuleGroup:
        if self.all is not None and self.any is not None:
            raise ValueError("use either `all` or `any` in one group, and nest groups to combine them")
        return self


@dataclass(frozen=True)
class ConditionOutcome:
    passed: bool
    explanation: str


def compile_pattern(pattern: str, *, case_sensitive: bool) -> regex.Pattern[str]:
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"the pattern is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        return regex.compile(pattern, 0 if case_sensitive else regex.IGNORECASE)
    except regex.error as error:
        raise ValueError(f"invalid regular expression: {error}") from None


def evaluate_conditions(rules: RuleGroup | Mapping[str, Any]) -> ConditionOutcome:
    """Whether rendered `rules` pass, and why. An empty tree (`{}`) passes.

    Raises PermanentError when the tree itself is malformed.
    """
    group = rules if isinstance(rules, RuleGroup) else _parse(rules)
    return _evaluate_group(group)


def _parse(rules: Mapping[str, Any]) -> RuleGroup:
    try:
        return RuleGroup.model_validate(rules)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PermanentError(f"invalid conditions at {where or 'top level'}: {first['msg']}") from None


def _evaluate_group(group: RuleGroup) -> ConditionOutcome:
    if group.any is not None:
        outcomes = [_evaluate_node(node) for node in group.any]
        for outcome in outcomes:
            if outcome.passed:
                return ConditionOutcome(True, outcome.explanation)
        if not outcomes:
            return ConditionOutcome(False, "`any` has no rules, so none passed")
        return ConditionOutcome(False, "none passed: " + "; ".join(o.explanation for o in outcomes))
    nodes = group.all or []
    for node in nodes:
        outcome = _evaluate_node(node)
        if not outcome.passed:
            return outcome
    if not nodes:
        return ConditionOutcome(True, "no conditions")
    return ConditionOutcome(True, f"all {len(nodes)} passed")


def _evaluate_node(node: Rule | RuleGroup) -> ConditionOutcome:
    if isinstance(node, RuleGroup):
        return _evaluate_group(node)
    passed = evaluate_rule(node)
    right = "" if node.op in ("is_empty", "is_not_empty") else f" {_show(node.right)}"
    verdict = "true" if passed else "false"
    return ConditionOutcome(passed, f"{_show(node.left)} {node.op}{right} is {verdict}")


def evaluate_rule(rule: Rule) -> bool:
    left, right, op = rule.left, rule.right, rule.op
    if op == "is_empty":
        return _is_empty(left)
    if op == "is_not_empty":
        return not _is_empty(left)
    if op in ("equals", "not_equals"):
        return _equals(left, right, rule.case_sensitive) == (op == "equals")
    if op in ("contains", "not_contains"):
        return _contains(left, right, rule.case_sensitive) == (op == "contains")
    if op in ("greater_than", "less_than"):
        comparable = _comparable(left, right)
        if comparable is None:
            return False  # text against a number: neither greater nor less
        low, high = comparable
        return bool(low > high) if op == "greater_than" else bool(low < high)
    if op == "matches":
        try:
            pattern = compile_pattern(_text(right), case_sensitive=rule.case_sensitive)
        except ValueError as error:
            raise PermanentError(f"condition `matches`: {error}") from None
        try:
            return pattern.search(_text(left), timeout=REGEX_TIMEOUT_SECONDS) is not None
        except TimeoutError:
            raise PermanentError("condition `matches`: the pattern took too long to run") from None
    left_text, right_text = _fold(_text(left), rule.case_sensitive), _fold(_text(right), rule.case_sensitive)
    if op == "starts_with":
        return left_text.startswith(right_text)
    return left_text.endswith(right_text)


def _is_template(text: str) -> bool:
    # Saved configurations hold templates that are rendered only when the step runs.
    return "{{" in text or "{%" in text


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | dict | tuple):
        return len(value) == 0
    return False


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _comparable(left: Any, right: Any) -> tuple[Any, Any] | None:
    left_number, right_number = _number(left), _number(right)
    if left_number is not None and right_number is not None:
        return left_number, right_number
    if isinstance(left, str) and isinstance(right, str):
        return left, right  # ISO dates and times order correctly as text
    return None


def _equals(left: Any, right: Any, case_sensitive: bool) -> bool:
    left_number, right_number = _number(left), _number(right)
    if left_number is not None and right_number is not None:
        return left_number == right_number
    return _fold(_text(left), case_sensitive) == _fold(_text(right), case_sensitive)


def _contains(left: Any, right: Any, case_sensitive: bool) -> bool:
    if isinstance(left, list | tuple):
        return any(_equals(item, right, case_sensitive) for item in left)
    if isinstance(left, dict):
        return any(_equals(key, right, case_sensitive) for key in left)
    return _fold(_text(right), case_sensitive) in _fold(_text(left), case_sensitive)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True)


def _fold(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.casefold()


def _show(value: Any) -> str:
    shown = json.dumps(value, default=str)
    return shown if len(shown) <= 80 else shown[:77] + "..."
