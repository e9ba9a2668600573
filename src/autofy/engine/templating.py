"""Step configuration templates: Jinja2 in its sandbox, strict about undefined values.

Only strings are rendered, recursively through dicts and lists. A string that is exactly one
`{{ expression }}` keeps the expression's own type (a number stays a number, a list a list), so
`"{{ steps.search_emails.messages }}"` passes a list on, not its text. Everything else renders to
text. Rendering never reaches Python internals: the sandbox refuses attributes such as `__class__`
and unsafe calls, and both that and a reference to something that does not exist become a
`TemplateError` naming the field and the cause.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expression>.*?)\}\}\s*$", re.DOTALL)


class TemplateError(Exception):
    """A configuration value could not be rendered; the message says which one and why."""


_environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def environment() -> SandboxedEnvironment:
    """The sandbox templates render in, for checks that must see exactly what rendering sees."""
    return _environment


@lru_cache(maxsize=4096)
def _compile_text(source: str) -> Any:
    return _environment.from_string(source)


@lru_cache(maxsize=4096)
def _compile_expression(expression: str) -> Any:
    return _environment.compile_expression(expression, undefined_to_none=False)


def _render_string(source: str, context: Mapping[str, Any]) -> Any:
    if "{" not in source:
        return source  # the common case: plain text, nothing to render
    single = _SINGLE_EXPRESSION.match(source)
    if single is not None and "{{" not in single.group("expression"):
        value = _compile_expression(single.group("expression").strip())(**context)
        if isinstance(value, Undefined):
            # A bare undefined name only fails when used; make it fail here, with its message.
            str(value)
        return value
    return _compile_text(source).render(**context)


def _render(value: Any, context: Mapping[str, Any], path: str) -> Any:
    if isinstance(value, str):
        try:
            return _render_string(value, context)
        except UndefinedError as error:
            raise TemplateError(f"{path}: the template refers to an undefined value ({error})") from None
        except SecurityError as error:
            raise TemplateError(f"{path}: the template tried something not allowed ({error})") from None
        except TemplateSyntaxError as error:
            raise TemplateError(f"{path}: the template is not valid ({error.message})") from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as error:
            raise TemplateError(f"{path}: the template failed ({type(error).__name__}: {error})") from None
    if isinstance(value, Mapping):
        return {key: _render(item, context, f"{path}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, context, f"{path}[{index}]") for index, item in enumerate(value)]
    return value


def render(value: Any, context: Mapping[str, Any], *, path: str = "configuration") -> Any:
    """`value` with every string in it rendered over `context` (see the module's doc)."""
    return _render(value, context, path)
