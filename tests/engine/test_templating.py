"""Rendering step configuration, and redacting what a step result records."""

from __future__ import annotations

import pytest

from autofy.engine.records import redact
from autofy.engine.templating import TemplateError, render

CONTEXT = {
    "trigger": {"name": "Ada", "count": 3, "tags": ["a", "b"], "amount": 12.5},
    "steps": {"search": {"messages": [{"id": 1}]}, 2: {"text": "second"}},
}


def test_a_whole_expression_keeps_its_type_and_mixed_text_renders_to_text() -> None:
    rendered = render(
        {
            "count": "{{ trigger.count }}",
            "tags": "{{ trigger.tags }}",
            "messages": " {{ steps.search.messages }} ",
            "sum": "{{ trigger.count + 1 }}",
            "greeting": "Hi {{ trigger.name }}, {{ trigger.count }} new",
            "nested": [{"by_order": "{{ steps[2].text | upper }}"}, 7, None, True],
        },
        CONTEXT,
    )

    assert rendered == {
        "count": 3,
        "tags": ["a", "b"],
        "messages": [{"id": 1}],
        "sum": 4,
        "greeting": "Hi Ada, 3 new",
        "nested": [{"by_order": "SECOND"}, 7, None, True],
    }


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ trigger.missing }}", "configuration.value: the template refers to an undefined value"),
        ("{{ nothing }}", "'nothing' is undefined"),
        ("x {{ steps.nope.text }}", "has no attribute 'nope'"),
        ("{{ trigger.__class__ }}", "not allowed"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "not allowed"),
        ("{{ '{0.__class__.__init__.__globals__}'.format(trigger.name) }}", "not allowed"),
        ("{{ trigger.name", "not valid"),
    ],
)
def test_undefined_values_and_sandbox_escapes_fail_with_a_clear_message(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render({"value": template}, CONTEXT)


def test_the_failing_field_is_named_by_its_path() -> None:
    with pytest.raises(TemplateError, match=r"configuration\.body\.items\[1\]"):
        render({"body": {"items": ["ok", "{{ trigger.missing }}"]}}, CONTEXT)


def test_redaction_hides_secret_looking_keys_only() -> None:
    recorded = redact(
        {
            "headers": {"Authorization": "Bearer x", "X-API-Key": "k", "Accept": "json"},
            "auth": {"password": "p", "username": "u"},
            "access_token": "t",
            "max_tokens": 200,
            "client_secret": "s",
            "list": [{"cookie": "c"}],
        }
    )

    assert recorded == {
        "headers": {"Authorization": "[redacted]", "X-API-Key": "[redacted]", "Accept": "json"},
        "auth": {"password": "[redacted]", "username": "u"},
        "access_token": "[redacted]",
        "max_tokens": 200,
        "client_secret": "[redacted]",
        "list": [{"cookie": "[redacted]"}],
    }
