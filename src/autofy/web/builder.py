"""The workflow builder's form: a workflow as the builder edits it (`Draft`), read from a saved
workflow or from the posted form, and turned back into the API's `WorkflowDocument`.

The form's field names are paths, so a problem the validator reports (`steps.2.configuration.text`)
finds its field without a second validator: each step card has a key (`s<step id hex>` for a saved
step, `n<random>` for a new one) and its fields are named `<key>.configuration.text`,
`<key>.conditions.rules.0.left`, `<key>.error_handling.max_retries`; the app trigger of an email
or Telegram workflow (step 1) is the card `trigger`; the workflow's own fields are `name`,
`trigger_config.cron`, ….

Configuration forms are generated from the catalog's input schema of the step's action: enums
become selects, booleans checkboxes, objects and lists JSON text, everything else text that may
hold templates (`{{ trigger.text }}`).
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError
from starlette.datastructures import FormData

from autofy.connectors.catalog import catalog
from autofy.connectors.schemas import ActionDescription, TriggerDescription
from autofy.errors import ErrorDetail
from autofy.integrations.schemas import Integration
from autofy.workflows.schemas import Workflow, WorkflowDocument, WorkflowUpdate

TriggerKind = Literal["manual", "webhook", "scheduled", "email", "telegram"]
TRIGGER_CARD = "trigger"
WORKFLOW_SLOT = "workflow"


@dataclass(frozen=True)
class TriggerChoice:
    kind: TriggerKind
    label: str
    trigger_type: str
    app_trigger: tuple[str, str] | None = None


TRIGGER_CHOICES: tuple[TriggerChoice, ...] = (
    TriggerChoice("manual", "Manual: run it by hand", "manual"),
    TriggerChoice("webhook", "Webhook: an HTTP request starts it", "webhook"),
    TriggerChoice("scheduled", "Schedule: at set times", "scheduled"),
    TriggerChoice("email", "New email (Gmail)", "email", ("gmail", "new_email")),
    TriggerChoice("telegram", "Telegram message", "webhook", ("telegram", "new_message")),
)
_CHOICES = {choice.kind: choice for choice in TRIGGER_CHOICES}
SCHEDULES = (
    ("cron", "Cron expression"),
    ("hourly", "Every hour"),
    ("daily", "Every day"),
    ("weekly", "Every week"),
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# The operators of docs/workflow-format.md, as the conditions editor offers them.
CONDITION_OPS = (
    ("equals", "equals"),
    ("not_equals", "does not equal"),
    ("contains", "contains"),
    ("not_contains", "does not contain"),
    ("starts_with", "starts with"),
    ("ends_with", "ends with"),
    ("greater_than", "is greater than"),
    ("less_than", "is less than"),
    ("is_empty", "is empty"),
    ("is_not_empty", "is not empty"),
    ("matches", "matches the regular expression"),
)
_UNARY_OPS = frozenset({"is_empty", "is_not_empty"})
# Text fields people write sentences in get a text area.
_LONG_TEXT = frozenset(
    {"text", "prompt", "system", "body_text", "body_html", "content", "instructions", "caption"}
)
_KEY = re.compile(r"^(?:s[0-9a-f]{32}|n[0-9a-f]{12})$")


def new_key() -> str:
    return f"n{secrets.token_hex(6)}"


def step_key(step_id: uuid.UUID) -> str:
    return f"s{step_id.hex}"


def slot_id(name: str) -> str:
    """The id of the element that shows the problems of form field (or card) `name`."""
    return "err-" + name.replace(".", "-")


# --- the draft ----------------------------------------------------------------------------------


@dataclass
class StepDraft:
    key: str
    service_name: str = ""
    action_name: str = ""
    configuration: dict[str, Any] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)
    error_handling: dict[str, Any] = field(default_factory=lambda: {"retry": True, "max_retries": 3})
    is_enabled: bool = True

    @property
    def step_id(self) -> uuid.UUID | None:
        return uuid.UUID(self.key[1:]) if self.key.startswith("s") else None

    @property
    def action(self) -> ActionDescription | TriggerDescription | None:
        if not self.service_name or not self.action_name:
            return None
        try:
            return catalog().describe_action(self.service_name, self.action_name)
        except LookupError:
            return None

    def document(self, step_type: str) -> dict[str, Any]:
        return {
            "step_type": step_type,
            "service_name": self.service_name,
            "action_name": self.action_name,
            "configuration": self.configuration,
            "conditions": self.conditions,
            "error_handling": self.error_handling,
            "is_enabled": self.is_enabled,
        }


@dataclass
class Draft:
    """A workflow as the builder shows and edits it."""

    workflow_id: uuid.UUID | None = None
    status: str = "draft"
    name: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    trigger_kind: TriggerKind = "manual"
    trigger_config: dict[str, Any] = field(default_factory=dict)
    trigger_step: StepDraft | None = None
    steps: list[StepDraft] = field(default_factory=list)
    sample: str = ""
    # Problems found while reading the form itself (JSON that does not parse), by field name.
    form_errors: dict[str, str] = field(default_factory=dict)

    @property
    def trigger_choice(self) -> TriggerChoice:
        return _CHOICES[self.trigger_kind]

    def run_order(self) -> list[StepDraft]:
        """The steps as the workflow runs them: the app trigger first when there is one."""
        return ([self.trigger_step] if self.trigger_step else []) + self.steps

    def unfinished(self) -> list[StepDraft]:
        return [step for step in self.steps if step.action is None]

    def document_fields(self, *, name: str | None = None) -> dict[str, Any]:
        choice = self.trigger_choice
        steps = [step.document(_step_type(step)) for step in self.steps if step.action is not None]
        if self.trigger_step is not None:
            steps.insert(0, self.trigger_step.document("trigger"))
        return {
            "name": self.name if name is None else name,
            "description": self.description or None,
            "trigger_type": choice.trigger_type,
            "trigger_config": self.trigger_config,
            "tags": self.tags,
            "steps": steps,
        }

    def step_ids(self) -> list[uuid.UUID | None]:
        """The saved step each document step replaces (see `workflows.service.replace_workflow`)."""
        return [step.step_id for step in self.run_order() if step.action is not None]


def _step_type(step: StepDraft) -> str:
    action = step.action
    return action.step_type if isinstance(action, ActionDescription) else "action"


def from_workflow(workflow: Workflow) -> Draft:
    steps = [
        StepDraft(
            key=step_key(step.id),
            service_name=step.service_name,
            action_name=step.action_name,
            configuration=dict(step.configuration),
            conditions=dict(step.conditions),
            error_handling={"retry": True, "max_retries": 3, **step.error_handling},
            is_enabled=step.is_enabled,
        )
        for step in workflow.steps
    ]
    trigger_step = None
    kind: TriggerKind = "manual"
    first = workflow.steps[0] if workflow.steps else None
    app_trigger = (first.service_name, first.action_name) if first and first.step_type == "trigger" else None
    for choice in TRIGGER_CHOICES:
        if choice.trigger_type == workflow.trigger_type and choice.app_trigger == app_trigger:
            kind = choice.kind
    if app_trigger is not None:
        trigger_step = steps.pop(0)
        trigger_step.key = TRIGGER_CARD
    return Draft(
        workflow_id=workflow.id,
        status=workflow.status,
        name=workflow.name,
        description=workflow.description or "",
        tags=list(workflow.tags),
        trigger_kind=kind,
        trigger_config=dict(workflow.trigger_config),
        trigger_step=trigger_step,
        steps=steps,
    )


def app_trigger_step(kind: TriggerKind, configuration: Mapping[str, Any] | None = None) -> StepDraft | None:
    app_trigger = _CHOICES[kind].app_trigger
    if app_trigger is None:
        return None
    return StepDraft(TRIGGER_CARD, *app_trigger, configuration=dict(configuration or {}))


# --- reading the posted form --------------------------------------------------------------------


def _text(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else default


def from_form(form: FormData) -> Draft:
    """The draft the builder's form holds, whatever state it is in."""
    raw_id = _text(form, "workflow_id")
    kind_value = _text(form, "trigger_kind", "manual")
    kind: TriggerKind = next((c.kind for c in TRIGGER_CHOICES if c.kind == kind_value), "manual")
    draft = Draft(
        workflow_id=uuid.UUID(raw_id) if raw_id else None,
        status=_text(form, "status", "draft"),
        name=_text(form, "name"),
        description=_text(form, "description"),
        tags=[tag.strip() for tag in _text(form, "tags").split(",") if tag.strip()],
        trigger_kind=kind,
        sample=_text(form, "sample"),
    )
    draft.trigger_config = _trigger_config(form, kind)
    draft.trigger_step = app_trigger_step(kind)
    if draft.trigger_step is not None and _text(form, "trigger.rendered") == kind:
        draft.trigger_step.configuration = _configuration(form, draft.trigger_step, draft.form_errors)
    for key in form.getlist("step"):
        if isinstance(key, str) and _KEY.match(key):
            draft.steps.append(_step(form, key, draft.form_errors))
    return draft


def _trigger_config(form: FormData, kind: TriggerKind) -> dict[str, Any]:
    if kind == "webhook":
        return {"require_signature": True} if form.get("trigger_config.require_signature") else {}
    if kind == "email":
        interval = _text(form, "trigger_config.poll_interval_seconds")
        return {"poll_interval_seconds": _number(interval)} if interval else {}
    if kind != "scheduled":
        return {}
    schedule = _text(form, "trigger_config.schedule", "daily")
    config: dict[str, Any] = {"timezone": _text(form, "trigger_config.timezone", "UTC") or "UTC"}
    if schedule == "cron":
        return {"cron": _text(form, "trigger_config.cron"), **config}
    config |= {"schedule": schedule, "time": _text(form, "trigger_config.time", "09:00") or "09:00"}
    if schedule == "weekly":
        config["day_of_week"] = _text(form, "trigger_config.day_of_week", "monday")
    return config


def _step(form: FormData, key: str, errors: dict[str, str]) -> StepDraft:
    step = StepDraft(
        key=key,
        service_name=_text(form, f"{key}.service_name"),
        action_name=_text(form, f"{key}.action_name"),
    )
    if step.action is None:
        step.action_name = "" if step.service_name else step.action_name
        return step
    if _text(form, f"{key}.rendered") == f"{step.service_name}/{step.action_name}":
        step.configuration = _configuration(form, step, errors)
        step.conditions = _rule_group(form, f"{key}.conditions")
        step.is_enabled = bool(form.get(f"{key}.is_enabled"))
        retries = _text(form, f"{key}.error_handling.max_retries", "3")
        step.error_handling = {
            "retry": bool(form.get(f"{key}.error_handling.retry")),
            "max_retries": _number(retries) if retries else 3,
            "continue_on_error": bool(form.get(f"{key}.error_handling.continue_on_error")),
        }
    return step


def _configuration(form: FormData, step: StepDraft, errors: dict[str, str]) -> dict[str, Any]:
    """The action's input from its generated fields (see `config_fields`)."""
    action = step.action
    if action is None:
        return {}
    prefix = f"{step.key}.configuration"
    if _is_rule_group(action):
        return _rule_group(form, prefix)
    schema = _input_schema(action)
    required = set(schema.get("required", []))
    configuration: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        widget = _widget(name, prop)
        form_name = f"{prefix}.{name}"
        if widget == "checkbox":
            configuration[name] = bool(form.get(form_name))
            continue
        raw = form.get(form_name)
        value = raw if isinstance(raw, str) else ""
        if value.strip() == "":
            if name in required:
                configuration[name] = ""
            continue
        if widget == "json":
            try:
                configuration[name] = json.loads(value)
            except json.JSONDecodeError as error:
                errors[form_name] = (
                    f"This is not valid JSON ({error.msg} at line {error.lineno}); fix it or empty the field."
                )
        elif widget == "number":
            configuration[name] = _number(value.strip())
        else:
            configuration[name] = value
    return configuration


def _number(value: str) -> Any:
    """A number when the text is one; otherwise the text itself (a template, or a mistake the
    validator names)."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


# --- conditions (all/any rule trees) ------------------------------------------------------------


def _rule_group(form: FormData, prefix: str) -> dict[str, Any]:
    """`{"all"|"any": [rules and groups]}` from the editor's fields; {} when it has no rules."""
    match = "any" if _text(form, f"{prefix}.match") == "any" else "all"
    pattern = re.compile(re.escape(prefix) + r"\.rules\.(\d+)\.kind$")
    indexes = sorted({int(m[1]) for name in form if (m := pattern.match(name))})
    rules: list[dict[str, Any]] = []
    for index in indexes:
        at = f"{prefix}.rules.{index}"
        if _text(form, f"{at}.kind") == "group":
            rules.append(_rule_group(form, at) or {"all": []})
            continue
        rule: dict[str, Any] = {"left": _text(form, f"{at}.left"), "op": _text(form, f"{at}.op", "equals")}
        if rule["op"] not in _UNARY_OPS:
            rule["right"] = _text(form, f"{at}.right")
        rules.append(rule)
    return {match: rules} if rules else {}


def edit_rules(tree: dict[str, Any], path: Sequence[int], edit: str) -> dict[str, Any]:
    """`tree` with a rule or group added to the group at `path` (indexes of nested groups), or the
    entry at `path` removed."""
    if edit == "remove":
        if not path:
            return {}
        parent = _group_at(tree, path[:-1])
        _rules_of(parent).pop(path[-1])
        return tree
    if not tree:
        tree = {"all": []}
    group = _group_at(tree, path)
    new = (
        {"all": [{"left": "", "op": "equals", "right": ""}]}
        if edit == "add-group"
        else {
            "left": "",
            "op": "equals",
            "right": "",
        }
    )
    _rules_of(group).append(new)
    return tree


def _rules_of(group: dict[str, Any]) -> list[Any]:
    key = "any" if "any" in group else "all"
    rules: list[Any] = group.setdefault(key, [])
    return rules


def _group_at(tree: dict[str, Any], path: Sequence[int]) -> dict[str, Any]:
    group = tree
    for index in path:
        group = _rules_of(group)[index]
    return group


@dataclass(frozen=True)
class RuleRow:
    """One line of the conditions editor: a rule, or the start of a nested group."""

    path: str  # the form name prefix, e.g. s….conditions.rules.1
    indexes: tuple[int, ...]
    depth: int
    kind: Literal["rule", "group"]
    match: str = "all"
    left: str = ""
    op: str = "equals"
    right: str = ""


def rule_rows(prefix: str, tree: Mapping[str, Any]) -> list[RuleRow]:
    """The editor's rows for `tree`, depth first (groups before their rules)."""
    rows: list[RuleRow] = []

    def walk(group: Mapping[str, Any], at: str, indexes: tuple[int, ...], depth: int) -> None:
        entries = group.get("any") if "any" in group else group.get("all")
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            path = f"{at}.rules.{index}"
            if isinstance(entry, Mapping) and ("all" in entry or "any" in entry):
                rows.append(
                    RuleRow(path, (*indexes, index), depth, "group", "any" if "any" in entry else "all")
                )
                walk(entry, path, (*indexes, index), depth + 1)
            elif isinstance(entry, Mapping):
                right = entry.get("right")
                rows.append(
                    RuleRow(
                        path,
                        (*indexes, index),
                        depth,
                        "rule",
                        left=_shown(entry.get("left")),
                        op=str(entry.get("op", "equals")),
                        right="" if right is None else _shown(right),
                    )
                )

    walk(tree, prefix, (), 0)
    return rows


def rule_names(prefix: str, tree: Mapping[str, Any]) -> list[str]:
    names = [f"{prefix}.match"]
    for row in rule_rows(prefix, tree):
        names += (
            [f"{row.path}.match"]
            if row.kind == "group"
            else [f"{row.path}.{f}" for f in ("left", "op", "right")]
        )
    return names


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# --- generated configuration fields -------------------------------------------------------------

Widget = Literal["text", "textarea", "number", "select", "checkbox", "json", "integration"]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    widget: Widget
    value: str
    checked: bool = False
    required: bool = False
    help: str = ""
    options: tuple[tuple[str, str], ...] = ()
    # Required, or changed from its default: shown first; the others wait under "More options".
    prominent: bool = True

    @property
    def dom_id(self) -> str:
        return "f-" + self.name.replace(".", "-")

    @property
    def slot(self) -> str:
        return slot_id(self.name)

    @property
    def pickable(self) -> bool:
        """The data picker can insert references into it."""
        return self.widget in ("text", "textarea", "number", "json")


def _input_schema(action: ActionDescription | TriggerDescription) -> dict[str, Any]:
    return action.input_schema if isinstance(action, ActionDescription) else action.config_schema


def _is_rule_group(action: ActionDescription | TriggerDescription) -> bool:
    return isinstance(action, ActionDescription) and action.step_type == "condition"


def _variants(prop: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [v for v in prop.get("anyOf", [prop]) if v.get("type") != "null"]


def _enum(prop: Mapping[str, Any]) -> list[str] | None:
    for variant in _variants(prop):
        if "enum" in variant:
            return [str(option) for option in variant["enum"]]
    return None


def _widget(name: str, prop: Mapping[str, Any]) -> Widget:
    if name == "integration_id":
        return "integration"
    if _enum(prop) is not None:
        return "select"
    types = {variant.get("type") for variant in _variants(prop)}
    if types == {"boolean"}:
        return "checkbox"
    if "string" in types:
        return "textarea" if name in _LONG_TEXT else "text"
    if types and types <= {"integer", "number"}:
        return "number"
    return "json"  # objects, lists, nested models, or any JSON value


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def config_fields(step: StepDraft, integrations: Sequence[Integration]) -> list[FieldSpec]:
    """The configuration form of `step`'s action, filled with its values (defaults when unset)."""
    action = step.action
    if action is None or _is_rule_group(action):
        return []
    schema = _input_schema(action)
    required = set(schema.get("required", []))
    integration_service = catalog().integration_service(step.service_name, step.action_name)
    specs: list[FieldSpec] = []
    for name, prop in schema.get("properties", {}).items():
        widget = _widget(name, prop)
        value = step.configuration.get(name, prop.get("default"))
        options: tuple[tuple[str, str], ...] = ()
        if widget == "select":
            choices = _enum(prop) or []
            blank = () if name in required and "anyOf" not in prop else (("", "(none)"),)
            options = blank + tuple((choice, choice) for choice in choices)
        if widget == "integration":
            options = (
                ("", "Choose an integration"),
                *(
                    (str(i.id), f"{i.display_name} ({i.status})")
                    for i in integrations
                    if i.service_name == integration_service
                ),
            )
        specs.append(
            FieldSpec(
                name=f"{step.key}.configuration.{name}",
                label=prop.get("title") or _label(name),
                widget=widget,
                value=_field_value(widget, value),
                checked=widget == "checkbox" and bool(value),
                required=name in required,
                help=str(prop.get("description", "")),
                options=options,
                prominent=name in required or widget == "integration" or value != prop.get("default"),
            )
        )
    return specs


def _field_value(widget: Widget, value: Any) -> str:
    if value is None:
        return ""
    if widget == "json":
        return json.dumps(value, indent=2, ensure_ascii=False)
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, (dict, list, bool)) else str(value)


def step_field_names(step: StepDraft) -> list[str]:
    """The fields of a step card that show problems. The trigger card shows only its app
    trigger's configuration (its other problems go to the card)."""
    action = step.action
    if step.key == TRIGGER_CARD:
        return [spec.name for spec in config_fields(step, ())]
    names = [f"{step.key}.service_name", f"{step.key}.action_name"]
    if action is None:
        return names
    if _is_rule_group(action):
        names += rule_names(f"{step.key}.configuration", step.configuration)
    else:
        names += [spec.name for spec in config_fields(step, ())]
    names += rule_names(f"{step.key}.conditions", step.conditions)
    return names + [
        f"{step.key}.error_handling.{name}" for name in ("retry", "max_retries", "continue_on_error")
    ]


# --- problems on their fields -------------------------------------------------------------------

_TRIGGER_FIELDS = (
    "cron",
    "schedule",
    "time",
    "day_of_week",
    "timezone",
    "require_signature",
    "poll_interval_seconds",
)


def field_names(draft: Draft) -> list[str]:
    """Every field of the form that can show a problem."""
    names = ["name", "description", "tags", "trigger_kind", "trigger_config", "sample", "steps"]
    names += [f"trigger_config.{name}" for name in _TRIGGER_FIELDS]
    for step in draft.run_order():
        names += step_field_names(step)
    return names


def slots(draft: Draft) -> list[str]:
    """Every place a problem can be shown: the fields, each step card, the trigger card, and the
    workflow as a whole."""
    return field_names(draft) + [step.key for step in draft.steps] + [TRIGGER_CARD, WORKFLOW_SLOT]


def place_problems(
    draft: Draft, problems: Iterable[ErrorDetail], *, of_form: bool = True
) -> dict[str, list[str]]:
    """Problems by slot: a problem's field (`steps.2.configuration.chat_id`, `trigger_config.cron`)
    becomes the form field it concerns, or its card when no field shows it. `of_form`: with the
    problems of the form itself (JSON that does not parse, a step without an action)."""
    known = set(field_names(draft))
    keys = [step.key for step in draft.run_order() if step.action is not None]
    placed: dict[str, list[str]] = {}
    for problem in problems:
        where = problem.get("field") or ""
        slot = _slot_of(where, keys, known)
        placed.setdefault(slot, []).append(problem["message"])
    if not of_form:
        return placed
    for name, message in draft.form_errors.items():
        placed.setdefault(name, []).append(message)
    for step in draft.unfinished():
        placed.setdefault(
            f"{step.key}.service_name" if not step.service_name else f"{step.key}.action_name", []
        ).append("Choose a service and an action for this step, or remove it.")
    return placed


def _slot_of(where: str, keys: Sequence[str], known: set[str]) -> str:
    parts = where.split(".")
    card = WORKFLOW_SLOT
    if parts[0] == "steps" and len(parts) > 1 and parts[1].isdigit():
        index = int(parts[1])
        if index >= len(keys):
            return WORKFLOW_SLOT
        card = keys[index]
        parts = [card, *parts[2:]]
    elif parts[0] == "trigger_config" or parts[0] == "trigger_type":
        card = TRIGGER_CARD
    # The editor names a group's entries `rules.<i>` whether the group is all or any.
    path = [
        "rules" if part in ("all", "any") and index + 1 < len(parts) and parts[index + 1].isdigit() else part
        for index, part in enumerate(parts)
    ]
    for end in range(len(path), 0, -1):
        candidate = ".".join(path[:end])
        if candidate in known:
            return candidate
    return card


def document_or_problems(
    draft: Draft, *, name: str | None = None
) -> tuple[WorkflowDocument | None, list[ErrorDetail]]:
    """The draft as the API's document, or what the API's models refuse in it (as problems)."""
    fields = draft.document_fields(name=name)
    try:
        return WorkflowDocument.model_validate(fields), []
    except ValidationError as error:
        return None, _pydantic_problems(error)


def header_problems(draft: Draft) -> list[ErrorDetail]:
    """What the API's update model refuses in the name, description and tags."""
    try:
        WorkflowUpdate.model_validate(
            {"name": draft.name, "description": draft.description, "tags": draft.tags}
        )
    except ValidationError as error:
        return _pydantic_problems(error)
    return []


def _pydantic_problems(error: ValidationError) -> list[ErrorDetail]:
    return [
        {
            "field": ".".join(str(part) for part in problem["loc"]),
            # An empty required text is the most common case: say it the way a form does.
            "message": "Required: fill this in."
            if problem["type"] == "string_too_short" and not problem["input"]
            else problem["msg"],
        }
        for problem in error.errors()
    ]


# --- the data picker ----------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PICKER_DEPTH = 3


@dataclass(frozen=True)
class Reference:
    """Something a template can read: `{{ trigger.body.title }}`, with an example value."""

    expression: str
    example: str

    @property
    def template(self) -> str:
        return "{{ " + self.expression + " }}"


@dataclass(frozen=True)
class ReferenceGroup:
    title: str
    references: tuple[Reference, ...]


def _attribute(base: str, name: str) -> str:
    return f"{base}.{name}" if _IDENTIFIER.match(name) else f"{base}[{json.dumps(name)}]"


def _flatten(base: str, value: Any, depth: int = 0) -> list[Reference]:
    if isinstance(value, Mapping) and value and depth < _PICKER_DEPTH:
        found: list[Reference] = []
        for name, item in value.items():
            found += _flatten(_attribute(base, str(name)), item, depth + 1)
        return found
    example = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return [Reference(base, example[:80])]


def _declared(base: str, fields: Iterable[str], known: Any) -> list[Reference]:
    """References from an example value, else from the fields the catalog declares."""
    if isinstance(known, Mapping) and known:
        return _flatten(base, known)
    return [Reference(_attribute(base, name), "") for name in sorted(fields)]


def references(draft: Draft, before: str, outputs: Mapping[str, Any]) -> list[ReferenceGroup]:
    """What the step card `before` can read: the trigger data (the sample, else the app trigger's
    declared fields) and each earlier step's output (its last run's, else its declared fields).
    `outputs` holds the last run's output of each card key."""
    groups: list[ReferenceGroup] = []
    try:
        sample = json.loads(draft.sample) if draft.sample else None
    except json.JSONDecodeError:
        sample = None
    trigger_fields: Iterable[str] = ()
    if draft.trigger_step is not None and draft.trigger_step.action is not None:
        trigger_fields = draft.trigger_step.action.output_schema.get("properties", {})
    trigger = _declared("trigger", trigger_fields, sample)
    if trigger:
        groups.append(ReferenceGroup("Trigger", tuple(trigger)))
    earlier = [step for step in draft.steps[: _index(draft.steps, before)] if step.action is not None]
    action_names = [step.action_name for step in draft.run_order() if step.action is not None]
    offset = 1 if draft.trigger_step is not None else 0
    for position, step in enumerate(earlier, start=1 + offset):
        unique = action_names.count(step.action_name) == 1
        base = f"steps.{step.action_name}" if unique else f"steps[{position}]"
        declared = catalog().output_fields(step.service_name, step.action_name, step.configuration) or ()
        found = _declared(base, declared, outputs.get(step.key))
        action = step.action
        title = f"Step {position - offset}: {action.display_name if action else step.action_name}"
        groups.append(ReferenceGroup(title, tuple(found) or (Reference(base, ""),)))
    return groups


def _index(steps: Sequence[StepDraft], key: str) -> int:
    return next((index for index, step in enumerate(steps) if step.key == key), len(steps))


# --- a run's results on the cards ---------------------------------------------------------------


@dataclass(frozen=True)
class ResultView:
    """One step's result of a run, as its card shows it."""

    status: str
    attempts: int
    duration_ms: int
    input: str
    output: str
    error: str | None
    truncated_from_bytes: int | None = None


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def result_view(result: Mapping[str, Any]) -> ResultView:
    output = result.get("output")
    truncated = None
    if isinstance(output, Mapping) and "truncated_from_bytes" in output and "preview" in output:
        truncated = int(output["truncated_from_bytes"])
        shown = str(output["preview"])
    else:
        shown = "" if output is None else _pretty(output)
    error = result.get("error")
    return ResultView(
        status=str(result.get("status", "")),
        attempts=int(result.get("attempts") or 0),
        duration_ms=int(result.get("duration_ms") or 0),
        input=_pretty(result.get("input")),
        output=shown,
        error=str(error) if error else None,
        truncated_from_bytes=truncated,
    )


def _card_of(draft: Draft, result: Mapping[str, Any]) -> str | None:
    if draft.trigger_step is not None and result.get("step_order") == 1:
        return TRIGGER_CARD
    try:
        return step_key(uuid.UUID(str(result.get("step_id", ""))))
    except ValueError:
        return None


def results_by_card(draft: Draft, step_results: Sequence[Mapping[str, Any]]) -> dict[str, ResultView]:
    """Each card's result in a run, found by its step's id (the app trigger's card by position)."""
    return {key: result_view(result) for result in step_results if (key := _card_of(draft, result))}


def outputs_by_card(draft: Draft, step_results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The output of each card's step that completed in a run (for the data picker)."""
    return {
        key: result.get("output")
        for result in step_results
        if result.get("status") == "completed" and (key := _card_of(draft, result))
    }


# --- sample trigger data ------------------------------------------------------------------------

_SAMPLE_TIME = "2026-01-05T09:00:00+00:00"
SAMPLES: Mapping[TriggerKind, Any] = {
    "manual": {"text": "Hello from a test run"},
    "webhook": {
        "body": {"text": "Hello from a test run"},
        "headers": {"content-type": "application/json"},
        "query": {},
    },
    "scheduled": {"scheduled_for": _SAMPLE_TIME, "timezone": "UTC", "missed_slots": 0},
    "email": {
        "id": "18c2f0a1b2c3d4e5",
        "thread_id": "18c2f0a1b2c3d4e5",
        "from": "Ada <ada@example.com>",
        "to": "you@example.com",
        "cc": "",
        "subject": "Design review",
        "date": _SAMPLE_TIME,
        "snippet": "Can we move the review to Thursday?",
        "body_text": "Can we move the review to Thursday?",
        "labels": ["INBOX"],
        "attachments": [],
    },
    "telegram": {
        "update_id": 500000000,
        "message_id": 1,
        "chat_id": 123456789,
        "chat_type": "private",
        "chat_title": "Ada Lovelace",
        "chat_username": "ada",
        "from_id": 123456789,
        "from_username": "ada",
        "from_name": "Ada Lovelace",
        "text": "Hello from a test run",
        "date": _SAMPLE_TIME,
    },
}


def sample_for(kind: TriggerKind) -> str:
    return json.dumps(SAMPLES[kind], indent=2)


# --- the webhook's curl example -----------------------------------------------------------------

CURL_BODY = '{"text": "Hello from curl"}'


def curl_example(url: str, signing_secret: str | None) -> str:
    """A shell snippet that sends one delivery to `url`, signed (X-Autofy-Timestamp and
    X-Autofy-Signature, see triggers/webhook.py) when a secret is given."""
    send = f"curl -X POST {shlex.quote(url)} \\\n  -H 'Content-Type: application/json'"
    if signing_secret is None:
        return f"{send} \\\n  -d {shlex.quote(CURL_BODY)}"
    return (
        f"body={shlex.quote(CURL_BODY)}\n"
        "ts=$(date +%s)\n"
        'sig=$(printf \'%s.%s\' "$ts" "$body" | openssl dgst -sha256 -hmac '
        f"{shlex.quote(signing_secret)} | sed 's/^.* //')\n"
        f"{send} \\\n"
        '  -H "X-Autofy-Timestamp: $ts" -H "X-Autofy-Signature: sha256=$sig" \\\n'
        '  -d "$body"'
    )
