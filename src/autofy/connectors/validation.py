"""The one validation of a workflow: its trigger, its steps, their templates, and no secrets.

Every entry point that stores or runs a workflow asks this module: the API (create, update, steps,
import, duplicate, templates), the AI assistant's proposals, activation, the web builder, and the
engine again before each step (`step_run_problem`), so rows written before a rule existed fail
with a clear step error rather than at render time.

Each problem has a place (`step_order` and a field path inside the step, or a workflow-level path
such as `trigger_config.cron`), a message that says how to fix it, and a level:
- `save`: refused even in a draft: something unsafe or broken (a secret in plain configuration,
  another account's integration, an attribute the sandbox forbids, a template that does not
  compile, an unknown trigger_config key, a step naming nothing in the catalog);
- `activation`: a draft may hold it while it is being built; activation (and any edit of an
  active workflow) refuses it: missing or invalid values, a reference to a step that is not
  there or comes later, a filter without rules;
- `warning`: shown, blocks nothing (an output field that cannot be known before the run).

Templates are parsed and compiled in the engine's own sandbox (`engine.templating.environment`),
then their syntax tree is walked: the names a template reads must be `trigger`, `steps`,
`workflow`, `execution` or `now` (or set inside the template), a `steps` reference must name an
earlier enabled step by action name or by order, and the field read from it must be one its
action declares.
"""

from __future__ import annotations

import difflib
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from jinja2 import TemplateSyntaxError, nodes
from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from autofy.connectors.core.conditions import RuleGroup
from autofy.connectors.sdk import StrictModel
from autofy.engine.templating import environment
from autofy.security.secrets import (
    find_credentials,
    is_secret_key,
    is_secret_query_name,
    mask_credentials,
    where_credentials_go,
)

if TYPE_CHECKING:
    from autofy.connectors.catalog import Catalog

ProblemLevel = Literal["save", "activation", "warning"]
STEP_TYPES = ("trigger", "action", "condition", "delay")
TRIGGER_TYPES = ("manual", "scheduled", "webhook", "email")
# Trigger types started by an app trigger, which step 1 names (`gmail/new_email` for email).
APP_TRIGGERS: dict[str, tuple[str, str]] = {"email": ("gmail", "new_email")}
# App triggers a `webhook` workflow may start with: the service itself delivers to the workflow's
# hook URL (set up at activation). Without such a step, a webhook workflow is a plain webhook.
WEBHOOK_APP_TRIGGERS: frozenset[tuple[str, str]] = frozenset({("telegram", "new_message")})
# Every key a scheduled trigger_config may hold (`catalog.parse_schedule` says which go together).
SCHEDULE_KEYS = frozenset({"cron", "timezone", "schedule", "time", "day_of_week"})
MIN_POLL_INTERVAL_SECONDS = 10
MAX_POLL_INTERVAL_SECONDS = 86_400
# What a template may read (the engine's render context, see `RunState.template_context`).
CONTEXT_FIELDS: Mapping[str, frozenset[str] | None] = {
    "trigger": None,
    "steps": None,
    "workflow": frozenset({"id", "name"}),
    "execution": frozenset({"id"}),
    "now": None,
}
# Names Jinja itself provides inside loops, macros and call blocks.
_JINJA_NAMES = frozenset({"loop", "caller", "varargs", "kwargs", "self", "super"})
HTTP_CREDENTIALS_SERVICE = "http"

_TEMPLATE_BLOCK = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
# Words that may stand next to a templated secret: `Bearer {{ steps.login.body.token }}`.
_AUTH_SCHEMES = re.compile(r"\b(?:bearer|basic|token|bot|digest)\b", re.IGNORECASE)
# Errors that say "this is not a number/list/object at all": a template mixed with literal text
# cannot stand in for such a field, while a whole-value template can (it renders to the value).
_TYPE_MISMATCHES = frozenset(
    {
        "int_parsing",
        "int_type",
        "float_parsing",
        "float_type",
        "bool_parsing",
        "bool_type",
        "decimal_parsing",
        "dict_type",
        "list_type",
        "tuple_type",
        "set_type",
        "model_type",
        "model_attributes_type",
    }
)


@dataclass(frozen=True)
class StepProblem:
    """One reason a step or workflow is invalid, addressed so a person or a model can fix it.

    `field` is a dotted path inside the step (`configuration.auth.token`, `step_type`) or the
    workflow (`trigger_config.cron`); `step_order` is the step's position from 1, None for
    workflow-level problems. `level` says what it blocks (see the module's doc).
    """

    field: str
    message: str
    step_order: int | None = None
    level: ProblemLevel = "activation"

    def __str__(self) -> str:
        where = f"step {self.step_order}: " if self.step_order is not None else ""
        return f"{where}{self.field}: {self.message}" if self.field else f"{where}{self.message}"

    def at(self, step_order: int) -> StepProblem:
        return StepProblem(self.field, self.message, step_order, self.level)

    @property
    def blocks_saving(self) -> bool:
        return self.level == "save"

    @property
    def blocks_activation(self) -> bool:
        return self.level != "warning"


def contains_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def is_whole_template(text: str) -> bool:
    """True when nothing but template blocks (and spaces) make up `text`."""
    return contains_template(text) and not _TEMPLATE_BLOCK.sub("", text).strip()


# --- trigger configuration ----------------------------------------------------------------------


class ManualTriggerConfig(StrictModel):
    """A manual workflow runs on `POST /workflows/{id}/run` only: it has nothing to configure."""


class WebhookTriggerConfig(StrictModel):
    require_signature: bool = Field(
        default=False, description="Accept only deliveries signed with the workflow's generated secret."
    )
    signing_secret: str | None = Field(
        default=None, min_length=1, description="A secret agreed with the sender, to sign deliveries with."
    )


class AppWebhookTriggerConfig(StrictModel):
    """A webhook workflow started by an app trigger (Telegram): the service proves itself with its
    own secret token, so the workflow's trigger_config stays empty."""


class EmailTriggerConfig(StrictModel):
    poll_interval_seconds: int = Field(
        default=60,
        ge=MIN_POLL_INTERVAL_SECONDS,
        le=MAX_POLL_INTERVAL_SECONDS,
        description="How often Gmail is checked for new email, in seconds.",
    )

    @field_validator("poll_interval_seconds", mode="before")
    @classmethod
    def _whole_seconds(cls, value: Any) -> Any:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(
                f"must be a whole number of seconds from {MIN_POLL_INTERVAL_SECONDS} "
                f"to {MAX_POLL_INTERVAL_SECONDS}"
            )
        return value


def trigger_config_problems(
    trigger_type: str, trigger_config: Any, *, app_trigger: tuple[str, str] | None = None
) -> list[StepProblem]:
    """The trigger configuration checked against its trigger type's schema; unknown keys are
    refused at save (nobody reads them, and they could pose as settings that matter)."""
    # Imported here: the catalog builds on this module (StepProblem, the checks of steps).
    from autofy.connectors.catalog import parse_schedule

    if trigger_type not in TRIGGER_TYPES:
        return [StepProblem("trigger_type", f"must be one of {', '.join(TRIGGER_TYPES)}", level="save")]
    if not isinstance(trigger_config, Mapping):
        return [StepProblem("trigger_config", "must be an object", level="save")]
    if trigger_type == "scheduled":
        unknown = sorted(set(trigger_config) - SCHEDULE_KEYS)
        if unknown:
            message = f"unknown keys {unknown}; a schedule takes {', '.join(sorted(SCHEDULE_KEYS))}"
            return [StepProblem("trigger_config", message, level="save")]
        try:
            parse_schedule(trigger_config)
        except ValueError as error:
            return [StepProblem("trigger_config", str(error))]
        return []
    model: type[BaseModel] = {
        "manual": ManualTriggerConfig,
        "webhook": AppWebhookTriggerConfig if app_trigger in WEBHOOK_APP_TRIGGERS else WebhookTriggerConfig,
        "email": EmailTriggerConfig,
    }[trigger_type]
    problems = model_problems(model, trigger_config, prefix="trigger_config", templates_allowed=False)
    return [
        StepProblem(
            problem.field,
            problem.message + _trigger_key_hint(trigger_type, model),
            level="save" if problem.message.startswith("unknown field") else "activation",
        )
        for problem in problems
    ]


def _trigger_key_hint(trigger_type: str, model: type[BaseModel]) -> str:
    keys = ", ".join(model.model_fields) or "none"
    return f" (a {trigger_type} trigger_config takes: {keys})"


# --- configuration against a model --------------------------------------------------------------


def model_problems(
    model: type[BaseModel], data: Mapping[str, Any], *, prefix: str, templates_allowed: bool = True
) -> list[StepProblem]:
    """`data` checked against `model`, tolerating templates that are rendered only at run time."""
    try:
        model.model_validate(data)
    except ValidationError as error:
        return [
            StepProblem(_error_path(prefix, detail, data), _error_message(model, detail))
            for detail in error.errors()
            if not (templates_allowed and _stands_for_template(detail, data))
        ]
    return []


def _walk(detail: ErrorDetails, data: Any) -> Iterator[tuple[str | int, bool, Any]]:
    """Each part of the error's location: whether `data` has it, and the value found there.

    Parts that are not in the data are union member tags or a missing field.
    """
    value = data
    for part in detail["loc"]:
        present, child = _child(value, part)
        if present:
            value = child
        yield part, present, child


def _child(value: Any, part: str | int) -> tuple[bool, Any]:
    if isinstance(value, Mapping) and part in value:
        return True, value[part]
    if isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
        return True, value[part]
    return False, None


def _stands_for_template(detail: ErrorDetails, data: Any) -> bool:
    for _, _, value in [("", True, data), *_walk(detail, data)]:
        if isinstance(value, str) and contains_template(value):
            return is_whole_template(value) or detail["type"] not in _TYPE_MISMATCHES
    return False


def _error_path(prefix: str, detail: ErrorDetails, data: Any) -> str:
    walked = list(_walk(detail, data))
    parts = [
        str(part)
        for index, (part, present, _) in enumerate(walked)
        if present or (index == len(walked) - 1 and detail["type"] == "missing")
    ]
    return ".".join([prefix, *parts])


def _error_message(model: type[BaseModel], detail: ErrorDetails) -> str:
    message = detail["msg"].removeprefix("Value error, ")
    location = detail["loc"]
    if detail["type"] == "extra_forbidden" and len(location) == 1:
        known = [field.alias or name for name, field in model.model_fields.items()]
        suggestions = difflib.get_close_matches(str(location[0]), known, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        return f"unknown field {location[0]!r}" + hint
    if detail["type"] == "missing":
        return "Field required"
    return message


def empty_required_problems(
    model: type[BaseModel], data: Mapping[str, Any], *, prefix: str
) -> list[StepProblem]:
    """Required text fields given as empty text: the schema accepts "", the service does not."""
    return [
        StepProblem(f"{prefix}.{name}", "required: give a value (it is empty)")
        for name, model_field in model.model_fields.items()
        if model_field.is_required()
        and isinstance(data.get(model_field.alias or name), str)
        and not data[model_field.alias or name].strip()
    ]


def rule_problems(rules: Any, path: str, *, required: bool) -> list[StepProblem]:
    """A rule tree must hold rules: an empty group passes (`all`) or fails (`any`) whatever the data."""
    if not isinstance(rules, Mapping):
        return []
    if not rules:
        if required:
            message = (
                'add at least one rule, e.g. {"all": [{"left": "{{ trigger.x }}", "op": "is_not_empty"}]}'
            )
            return [StepProblem(path, message)]
        return []
    problems: list[StepProblem] = []
    for combinator in ("all", "any"):
        group = rules.get(combinator)
        if isinstance(group, list):
            if not group:
                problems.append(
                    StepProblem(
                        f"{path}.{combinator}", "an empty group decides nothing: add a rule or remove it"
                    )
                )
            for index, node in enumerate(group):
                if isinstance(node, Mapping) and ("all" in node or "any" in node):
                    problems += rule_problems(node, f"{path}.{combinator}.{index}", required=True)
    return problems


# --- templates ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """Something a template reads: a root name and the constant keys after it (None: computed)."""

    root: str
    path: tuple[str | int | None, ...]


@dataclass(frozen=True)
class TemplateFacts:
    error: str | None = None
    forbidden: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()


@lru_cache(maxsize=4096)
def template_facts(source: str) -> TemplateFacts:
    """What a template is (does it compile, what does it read), as the engine's sandbox sees it."""
    env = environment()
    try:
        tree = env.parse(source)
        env.compile(tree)
        # Jinja defers an unknown filter or test under `if` to run time: refuse it now.
        for node in tree.find_all((nodes.Filter, nodes.Test)):
            assert isinstance(node, nodes.Filter | nodes.Test)
            known = env.filters if isinstance(node, nodes.Filter) else env.tests
            if node.name not in known:
                kind = "filter" if isinstance(node, nodes.Filter) else "test"
                return TemplateFacts(error=f"template error: No {kind} named {node.name!r}.")
        return _facts(tree, frozenset(env.globals))
    except TemplateSyntaxError as error:
        return TemplateFacts(error=f"template error: {error.message}")
    except (RecursionError, MemoryError):
        return TemplateFacts(error="template error: nested too deeply; simplify the expression")


def _facts(tree: nodes.Template, globals_: frozenset[str]) -> TemplateFacts:
    forbidden: list[str] = []
    assigned = {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}
    assigned |= {node.name for node in tree.find_all(nodes.Macro)}
    inner: set[int] = set()
    chains: list[nodes.Getattr | nodes.Getitem] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, nodes.Getattr | nodes.Getitem)
        chains.append(node)
        inner.add(id(node.node))
        key = node.attr if isinstance(node, nodes.Getattr) else _constant(node.arg)
        if isinstance(key, str) and key.startswith("_"):
            forbidden.append(key)
    # `attr('__class__')` reaches an attribute by name, like `.__class__` does.
    for node in tree.find_all(nodes.Filter):
        assert isinstance(node, nodes.Filter)
        named = _constant(node.args[0]) if node.name == "attr" and node.args else None
        if isinstance(named, str) and named.startswith("_"):
            forbidden.append(named)
    references: list[Reference] = []
    for chain in chains:
        if id(chain) not in inner:
            reference = _reference(chain)
            if reference is not None:
                references.append(reference)
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and id(name) not in inner:
            references.append(Reference(name.name, ()))
    known = assigned | globals_ | _JINJA_NAMES
    return TemplateFacts(
        forbidden=tuple(dict.fromkeys(forbidden)),
        references=tuple(ref for ref in dict.fromkeys(references) if ref.root not in known),
    )


def _constant(node: nodes.Node) -> str | int | None:
    if (
        isinstance(node, nodes.Const)
        and isinstance(node.value, str | int)
        and not isinstance(node.value, bool)
    ):
        return node.value
    return None


def _reference(chain: nodes.Getattr | nodes.Getitem) -> Reference | None:
    keys: list[str | int | None] = []
    node: nodes.Node = chain
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        keys.append(node.attr if isinstance(node, nodes.Getattr) else _constant(node.arg))
        node = node.node
    if not isinstance(node, nodes.Name) or node.ctx != "load":
        return None
    return Reference(node.name, tuple(reversed(keys)))


@dataclass(frozen=True)
class EarlierStep:
    order: int
    label: str
    # The output's field names, or None when they cannot be known before the run.
    fields: frozenset[str] | None


@dataclass(frozen=True)
class Scope:
    """The steps a template of one step can read: earlier enabled ones, by order and by name."""

    by_order: Mapping[int, EarlierStep] = field(default_factory=dict)
    by_name: Mapping[str, EarlierStep] = field(default_factory=dict)


def template_problems(value: Any, path: str, scope: Scope | None) -> Iterator[StepProblem]:
    """Every template in `value` checked; references only when `scope` is known."""
    for where, text in _strings(value, path):
        if not contains_template(text):
            continue
        facts = template_facts(text)
        if facts.error is not None:
            yield StepProblem(where, facts.error, level="save")
            continue
        for name in facts.forbidden:
            yield StepProblem(
                where,
                f"template error: reading {name!r} is not allowed (the sandbox refuses names that "
                "start with an underscore); read only the data's own fields",
                level="save",
            )
        if scope is not None:
            for reference in facts.references:
                problem = _reference_problem(reference, scope)
                if problem is not None:
                    message, level = problem
                    yield StepProblem(where, message, level=level)


def _reference_problem(reference: Reference, scope: Scope) -> tuple[str, ProblemLevel] | None:
    if reference.root not in CONTEXT_FIELDS:
        return (
            f"{reference.root!r} is not defined: templates can read "
            f"{', '.join(CONTEXT_FIELDS)} (e.g. {{{{ trigger.subject }}}}, {{{{ steps.summarize.text }}}})",
            "activation",
        )
    allowed = CONTEXT_FIELDS[reference.root]
    first = reference.path[0] if reference.path else None
    if allowed is not None and isinstance(first, str) and first not in allowed:
        fields = ", ".join(f"{reference.root}.{name}" for name in sorted(allowed))
        return f"{reference.root} has no field {first!r}; use {fields}", "activation"
    if reference.root != "steps" or not reference.path or reference.path[0] is None:
        return None
    key = reference.path[0]
    step = scope.by_order.get(key) if isinstance(key, int) else scope.by_name.get(key)
    if step is None:
        return _missing_step(key, scope), "activation"
    if len(reference.path) < 2 or not isinstance(reference.path[1], str):
        return None
    wanted = reference.path[1]
    if step.fields is None:
        return (
            f"the fields of step {step.label} are only known when it runs; check that it outputs {wanted!r}",
            "warning",
        )
    if wanted not in step.fields:
        return (
            f"step {step.label} has no output field {wanted!r}; it outputs {', '.join(sorted(step.fields))}",
            "activation",
        )
    return None


def _missing_step(key: str | int, scope: Scope) -> str:
    earlier = sorted({step.order: step.label for step in scope.by_order.values()}.items())
    listed = "; ".join(
        f"steps[{order}] or steps.{label.split('/')[-1].rstrip(')')}" for order, label in earlier
    )
    where = f"earlier steps: {listed}" if listed else "no step comes before this one"
    if isinstance(key, str) and key.isdigit():
        return f"steps.{key} is not how to name a step by order: write steps[{key}] ({where})"
    named = f"steps[{key}]" if isinstance(key, int) else f"steps.{key}"
    return f"{named} is not an earlier step of this workflow (a step reads only steps before it); {where}"


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}.{index}")


# --- secrets ------------------------------------------------------------------------------------


def _literal_part(text: str) -> str:
    """What is left of `text` once its template blocks and auth scheme words are taken out."""
    return _AUTH_SCHEMES.sub("", _TEMPLATE_BLOCK.sub("", text)).strip()


def secret_problems(value: Any, path: str, *, where_to_put: str) -> Iterator[StepProblem]:
    """Credentials written into plain data: values in secret-carrying places (unless they come
    from a template) and values in a known credential format anywhere."""
    yield from _secrets(value, path, where_to_put, query=False)


def _stored_secret(key: object, item: Any, *, query: bool) -> bool:
    """Whether `item`, under `key`, is a secret written into the data (not a template's result)."""
    secret_place = is_secret_query_name(key) if query else is_secret_key(key)
    if not secret_place:
        return False
    if isinstance(item, str):
        return bool(_literal_part(item))
    return isinstance(item, int | float) and not isinstance(item, bool)


def _is_query(key: object, path: str) -> bool:
    return key == "query" and path.endswith("configuration")


def _secrets(value: Any, path: str, where_to_put: str, *, query: bool) -> Iterator[StepProblem]:
    if isinstance(value, str):
        for found in find_credentials(value):
            yield StepProblem(
                path,
                f"this looks like {found.kind}: a credential must not be stored in a workflow; "
                f"{where_credentials_go(found.kind)}",
                level="save",
            )
            break
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secrets(item, f"{path}.{index}", where_to_put, query=False)
        return
    if not isinstance(value, Mapping):
        return
    for key, item in value.items():
        where = f"{path}.{key}"
        # A value in a known format is reported as such (a more useful message), below.
        if _stored_secret(key, item, query=query) and not (isinstance(item, str) and find_credentials(item)):
            yield StepProblem(
                where,
                f"{key!r} carries a secret, which must not be stored in a step; {where_to_put}",
                level="save",
            )
            continue
        yield from _secrets(item, where, where_to_put, query=_is_query(key, path))


def scrub_secrets(value: Any, path: str = "configuration", *, query: bool = False) -> Any:
    """`value` with what `secret_problems` finds taken out: secret places blanked, credential-looking
    text replaced by a placeholder (for data stored before secrets were refused)."""
    if isinstance(value, str):
        return mask_credentials(value)[0]
    if isinstance(value, list):
        return [scrub_secrets(item, f"{path}.{index}") for index, item in enumerate(value)]
    if not isinstance(value, Mapping):
        return value
    return {
        key: ""
        if _stored_secret(key, item, query=query)
        else scrub_secrets(item, f"{path}.{key}", query=_is_query(key, path))
        for key, item in value.items()
    }


# --- the workflow -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkflowCheck:
    """Everything the validation needs besides the workflow: the catalog, and the caller's own
    integrations (id → service name; None when unknown, which skips that check)."""

    catalog: Catalog
    integrations: Mapping[uuid.UUID, str] | None = None


def validate_workflow(
    check: WorkflowCheck, trigger_type: str, trigger_config: Any, steps: Sequence[Mapping[str, Any]]
) -> list[StepProblem]:
    """Everything wrong with a workflow: its trigger, the order of its steps, and every step.

    `steps` are mappings with `step_order` (or in run order without it), `step_type`,
    `service_name`, `action_name`, `configuration`, optionally `conditions` and `is_enabled` (the
    workflow format's step objects). A step's `step_order` in the problems is its position from 1,
    as saved.
    """
    catalog = check.catalog
    if not steps:
        return [
            *trigger_config_problems(trigger_type, trigger_config),
            StepProblem("steps", "a workflow needs at least one step"),
        ]
    orders: list[Any] = [
        index if step.get("step_order") is None else step["step_order"]
        for index, step in enumerate(steps, start=1)
    ]
    problems: list[StepProblem] = []
    if any(not isinstance(order, int) or isinstance(order, bool) or order < 1 for order in orders):
        return [
            *trigger_config_problems(trigger_type, trigger_config),
            StepProblem("step_order", "every step needs a step_order of 1 or more"),
        ]
    duplicates = sorted({order for order in orders if orders.count(order) > 1})
    if duplicates:
        problems.append(StepProblem("step_order", f"step_order {duplicates} used more than once"))
    ordered = [step for _, step in sorted(zip(orders, steps, strict=True), key=lambda pair: pair[0])]
    first = ordered[0]
    app_trigger = (
        (str(first.get("service_name")), str(first.get("action_name")))
        if first.get("step_type") == "trigger"
        else None
    )
    problems = [*trigger_config_problems(trigger_type, trigger_config, app_trigger=app_trigger), *problems]
    problems += _trigger_step_problems(trigger_type, ordered)
    scope_by_order: dict[int, EarlierStep] = {}
    scope_by_name: dict[str, EarlierStep] = {}
    for position, step in enumerate(ordered, start=1):
        scope = Scope(dict(scope_by_order), dict(scope_by_name))
        step_problems = step_checks(check, step, scope)
        if position > 1 and step.get("step_type") == "trigger":
            step_problems.append(StepProblem("step_type", "only step 1 can be a trigger step"))
        problems += [problem.at(position) for problem in step_problems]
        if step.get("is_enabled", True) is not False:
            earlier = EarlierStep(
                position,
                f"{position} ({step.get('service_name')}/{step.get('action_name')})",
                catalog.output_fields(
                    str(step.get("service_name")), str(step.get("action_name")), step.get("configuration")
                ),
            )
            scope_by_order[position] = earlier
            scope_by_name[str(step.get("action_name"))] = earlier
    return problems


def step_checks(check: WorkflowCheck, step: Mapping[str, Any], scope: Scope | None) -> list[StepProblem]:
    """One step's problems: against the catalog, its templates (references when `scope` is
    known), secrets, rules and integration references."""
    catalog = check.catalog
    service_name = str(step.get("service_name", ""))
    action_name = str(step.get("action_name", ""))
    configuration = step.get("configuration", {})
    if configuration is None:
        configuration = {}
    problems = catalog.validate_step(str(step.get("step_type", "")), service_name, action_name, configuration)
    conditions = step.get("conditions") or {}
    condition_problems = model_problems(RuleGroup, conditions, prefix="conditions")
    problems += condition_problems or rule_problems(conditions, "conditions", required=False)
    problems += template_problems(conditions, "conditions", scope)
    if scope is not None:
        problems += [
            problem
            for problem in template_problems(configuration, "configuration", scope)
            if problem.level != "save"  # syntax and sandbox problems come from validate_step
        ]
    where_to_put = (
        "create an HTTP credentials integration (service `http`) and set the step's integration_id"
        if (service_name, action_name) == ("core", "http_request")
        else "credentials belong in the service's integration (under Integrations)"
    )
    problems += secret_problems(configuration, "configuration", where_to_put=where_to_put)
    problems += secret_problems(conditions, "conditions", where_to_put=where_to_put)
    problems += _integration_reference_problems(check, service_name, action_name, configuration)
    return problems


def _integration_reference_problems(
    check: WorkflowCheck, service_name: str, action_name: str, configuration: Any
) -> list[StepProblem]:
    wanted = check.catalog.integration_service(service_name, action_name)
    if wanted is None or not isinstance(configuration, Mapping) or check.integrations is None:
        return []
    value = configuration.get("integration_id")
    if value in (None, ""):
        return []
    message = (
        f"not one of your {wanted} integrations: give the id of an integration you created "
        f"(GET /api/v1/integrations, service {wanted!r})"
    )
    try:
        integration_id = uuid.UUID(str(value))
    except ValueError:
        return [StepProblem("configuration.integration_id", message, level="save")]
    found = check.integrations.get(integration_id)
    if found is None:
        return [StepProblem("configuration.integration_id", message, level="save")]
    if found != wanted:
        return [
            StepProblem(
                "configuration.integration_id",
                f"this is your {found} integration; this step needs a {wanted} integration",
                level="save",
            )
        ]
    return []


def _trigger_step_problems(trigger_type: str, ordered: Sequence[Mapping[str, Any]]) -> list[StepProblem]:
    first = ordered[0]
    named = (first.get("service_name"), first.get("action_name"))
    expected = APP_TRIGGERS.get(trigger_type)
    if expected is not None:
        if first.get("step_type") != "trigger" or named != expected:
            wanted = "/".join(expected)
            message = f"with trigger_type {trigger_type!r}, step 1 must be the {wanted} trigger step"
            return [StepProblem("step_type", message, 1)]
        return []
    if first.get("step_type") == "trigger":
        if trigger_type == "webhook" and named in WEBHOOK_APP_TRIGGERS:
            return []
        starters = [kind for kind, trigger in APP_TRIGGERS.items() if trigger == named]
        starters += ["webhook"] if named in WEBHOOK_APP_TRIGGERS else []
        needed = (
            f"trigger_type {starters[0]!r}" if starters else "a trigger_type that Autofy does not offer yet"
        )
        message = f"the trigger step {named[0]}/{named[1]} needs {needed}, not {trigger_type!r}"
        return [StepProblem("step_type", message, 1)]
    return []


# --- the engine, before each step ---------------------------------------------------------------


def step_run_problem(
    plan: Sequence[Mapping[str, Any]], index: int, trigger_step: Mapping[str, Any] | None
) -> str | None:
    """Why the engine must not run `plan[index]` (a row saved before today's rules), or None.

    Only what would make rendering unsafe or meaningless is checked: templates that do not compile
    or read private attributes, references to steps that are not earlier in the run, and secrets.
    Parsing is cached per template text, so a step already seen costs a walk over its values.
    """
    step = plan[index]
    unknown_fields = EarlierStep(0, "", None)
    earlier = [*([trigger_step] if trigger_step is not None else []), *plan[:index]]
    scope = Scope(
        {int(other["step_order"]): unknown_fields for other in earlier},
        {str(other["action_name"]): unknown_fields for other in earlier},
    )
    configuration = step.get("configuration") or {}
    problems = [
        *template_problems(configuration, "configuration", scope),
        *template_problems(step.get("conditions") or {}, "conditions", scope),
        *secret_problems(configuration, "configuration", where_to_put="move it into an integration"),
    ]
    blocking = [str(problem) for problem in problems if problem.level != "warning"]
    return "; ".join(blocking[:3]) if blocking else None
