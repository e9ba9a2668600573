"""The connector catalog: every service, action and trigger Autofy knows, and the one validation of
workflow steps against it.

The API serves it, the workflow service and the AI assistant validate with it, the engine looks
actions up in it. To add a connector, import it and add one instance to `CONNECTORS`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter
from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from autofy.connectors.anthropic import connector as anthropic
from autofy.connectors.core import CoreConnector
from autofy.connectors.core.conditions import RuleGroup
from autofy.connectors.gemini import connector as gemini
from autofy.connectors.gmail import connector as gmail
from autofy.connectors.notion import connector as notion
from autofy.connectors.openai import connector as openai
from autofy.connectors.openrouter import connector as openrouter
from autofy.connectors.schemas import (
    ActionDescription,
    AuthDescription,
    CatalogDescription,
    CredentialFieldDescription,
    SearchHit,
    ServiceDescription,
    TriggerDescription,
)
from autofy.connectors.sdk import Action, Connector, PollingTrigger
from autofy.connectors.telegram import connector as telegram
from autofy.errors import NotFoundError

# One entry per line (the trailing comma keeps it so): adding a connector is one import, one line.
CONNECTORS: tuple[Connector, ...] = (
    CoreConnector(),
    gmail,
    notion,
    telegram,
    openai,
    anthropic,
    gemini,
    openrouter,
)

STEP_TYPES = ("trigger", "action", "condition", "delay")
TRIGGER_TYPES = ("manual", "scheduled", "webhook", "email")
# Trigger types started by an app trigger, which step 1 names (`gmail/new_email` for email).
APP_TRIGGERS: dict[str, tuple[str, str]] = {"email": ("gmail", "new_email")}
# App triggers a `webhook` workflow may start with: the service itself delivers to the workflow's
# hook URL (set up at activation). Without such a step, a webhook workflow is a plain webhook.
WEBHOOK_APP_TRIGGERS: frozenset[tuple[str, str]] = frozenset({("telegram", "new_message")})
MIN_DESCRIPTION_LENGTH = 30
MIN_POLL_INTERVAL_SECONDS = 10
MAX_POLL_INTERVAL_SECONDS = 86_400

_TEMPLATE_BLOCK = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
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
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class StepProblem:
    """One reason a step or workflow is invalid, addressed so a person or a model can fix it.

    `field` is a dotted path inside the step (`configuration.auth.token`, `step_type`) or the
    workflow (`trigger_config.cron`); `step_order` is None for workflow-level problems.
    """

    field: str
    message: str
    step_order: int | None = None

    def __str__(self) -> str:
        where = f"step {self.step_order}: " if self.step_order is not None else ""
        return f"{where}{self.field}: {self.message}" if self.field else f"{where}{self.message}"


class UnknownService(NotFoundError):
    def __init__(self, service_name: str, suggestions: Sequence[str]) -> None:
        super().__init__(f"unknown service {service_name!r}" + _did_you_mean(suggestions))


class UnknownAction(NotFoundError):
    def __init__(self, service_name: str, action_name: str, suggestions: Sequence[str]) -> None:
        message = f"{service_name} has no action or trigger {action_name!r}"
        super().__init__(message + _did_you_mean(suggestions))


@dataclass(frozen=True)
class Schedule:
    """A scheduled trigger's config, normalized: a cron expression read in an IANA time zone."""

    cron: str
    timezone: ZoneInfo


# Standard cron: minute, hour, day of month, month, day of week (no seconds, no year).
CRON_FIELDS = 5
# A schedule must come due within this many years of being saved.
MAX_YEARS_BETWEEN_SLOTS = 1
_WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_SIMPLE_SCHEDULE_KEYS = frozenset({"schedule", "time", "day_of_week", "timezone"})


def parse_schedule(trigger_config: Mapping[str, Any]) -> Schedule:
    """Read `{"cron", "timezone"}` or `{"schedule": hourly|daily|weekly, "time", "day_of_week",
    "timezone"}` (time defaults to 00:00, day_of_week to monday); ValueError says what is wrong."""
    timezone = _zone(trigger_config.get("timezone", "UTC"))
    if "cron" in trigger_config:
        unknown = set(trigger_config) - {"cron", "timezone"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)} next to cron")
        return Schedule(_five_field_cron(trigger_config["cron"], timezone), timezone)
    unknown = set(trigger_config) - _SIMPLE_SCHEDULE_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}; use cron, or schedule with time")
    hour, minute = _clock(trigger_config.get("time", "00:00"))
    schedule = trigger_config.get("schedule")
    if schedule == "hourly":
        return Schedule(f"{minute} * * * *", timezone)
    if schedule == "daily":
        return Schedule(f"{minute} {hour} * * *", timezone)
    if schedule == "weekly":
        day = str(trigger_config.get("day_of_week", "monday")).lower()
        if day not in _WEEKDAYS:
            raise ValueError(f"day_of_week {day!r} is not a weekday name such as monday")
        return Schedule(f"{minute} {hour} * * {_WEEKDAYS.index(day)}", timezone)
    raise ValueError("give a cron expression, or schedule: hourly, daily or weekly")


def _five_field_cron(cron: Any, timezone: ZoneInfo) -> str:
    """A standard five-field expression that fires at least once within a year from now.

    Six fields (seconds) would fire every second, and an expression that never comes due
    (`0 0 30 2 *`) would be saved only to fail at activation: both are refused here, at save.
    """
    if not isinstance(cron, str) or not croniter.is_valid(cron):
        raise ValueError(f'{cron!r} is not a valid cron expression (e.g. "0 9 * * 1-5")')
    fields = cron.split()
    if len(fields) != CRON_FIELDS:
        raise ValueError(
            f"{cron!r} has {len(fields)} fields; give the five of standard cron "
            '(minute hour day-of-month month day-of-week, e.g. "*/5 * * * *"): '
            "Autofy does not run schedules more often than once a minute"
        )
    try:
        croniter(cron, datetime.now(timezone), max_years_between_matches=MAX_YEARS_BETWEEN_SLOTS).get_next(
            datetime
        )
    except CroniterBadDateError:
        raise ValueError(
            f"{cron!r} never comes due within a year (is the date impossible, such as 30 February?)"
        ) from None
    return cron


def _zone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Europe/Paris") from None


def _clock(value: Any) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", str(value))
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"time {value!r} must be HH:MM, e.g. 09:00")
    return int(match[1]), int(match[2])


def contains_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def is_whole_template(text: str) -> bool:
    """True when nothing but template blocks (and spaces) make up `text`."""
    return contains_template(text) and not _TEMPLATE_BLOCK.sub("", text).strip()


class Catalog:
    """Every connector's declarations, indexed for lookup, validation, description and search."""

    def __init__(self, connectors: Sequence[Connector]) -> None:
        self.connectors = tuple(connectors)
        self._services: dict[str, Connector] = {}
        for connector in self.connectors:
            self._services.setdefault(connector.service_name, connector)
        self._template_environment = SandboxedEnvironment()

    # Lookup -------------------------------------------------------------------------------------

    def connector(self, service_name: str) -> Connector:
        connector = self._services.get(service_name)
        if connector is None:
            raise UnknownService(service_name, _close(service_name, self._services))
        return connector

    def action(self, service_name: str, action_name: str) -> Action[Any, Any]:
        connector = self.connector(service_name)
        for action in connector.actions:
            if action.name == action_name:
                return action
        raise UnknownAction(service_name, action_name, _close(action_name, _names(connector)))

    def trigger(self, service_name: str, trigger_name: str) -> PollingTrigger[Any, Any]:
        connector = self.connector(service_name)
        for trigger in connector.triggers:
            if trigger.name == trigger_name:
                return trigger
        raise UnknownAction(service_name, trigger_name, _close(trigger_name, _names(connector)))

    # Description --------------------------------------------------------------------------------

    @cached_property
    def _description(self) -> CatalogDescription:
        return CatalogDescription(services=[_describe_service(c) for c in self._services.values()])

    def describe(self) -> CatalogDescription:
        return self._description

    def describe_service(self, service_name: str) -> ServiceDescription:
        self.connector(service_name)
        return next(s for s in self._description.services if s.service_name == service_name)

    def describe_action(self, service_name: str, action_name: str) -> ActionDescription | TriggerDescription:
        service = self.describe_service(service_name)
        for entry in _entries(service):
            if entry.name == action_name:
                return entry
        names = [entry.name for entry in _entries(service)]
        raise UnknownAction(service_name, action_name, _close(action_name, names))

    def search(self, query: str, *, limit: int = 10) -> list[SearchHit]:
        """Actions and triggers whose names or descriptions share words with `query`, best first."""
        words = {_stem(word) for word in _WORD.findall(query.lower())}
        hits: list[SearchHit] = []
        for service in self._description.services:
            for entry in _entries(service):
                fields = (
                    (3.0, f"{entry.name.replace('_', ' ')} {entry.display_name}"),
                    (2.0, f"{service.service_name} {service.display_name}"),
                    (1.0, entry.description),
                )
                indexed = [
                    (weight, {_stem(w) for w in _WORD.findall(text.lower())}) for weight, text in fields
                ]
                score = sum(
                    max((weight for weight, vocabulary in indexed if word in vocabulary), default=0.0)
                    for word in words
                )
                if score > 0:
                    hits.append(
                        SearchHit(
                            service_name=service.service_name,
                            name=entry.name,
                            kind=entry.kind,
                            display_name=entry.display_name,
                            description=entry.description,
                            score=score,
                        )
                    )
        hits.sort(key=lambda hit: (-hit.score, hit.service_name, hit.name))
        return hits[:limit]

    # Validation ---------------------------------------------------------------------------------

    def validate_step(
        self, step_type: str, service_name: str, action_name: str, configuration: Any
    ) -> list[StepProblem]:
        """Everything wrong with one step, checked against the catalog; [] when it is valid.

        Template strings (`{{ ... }}`) are accepted in any string field, and stand in for a field
        of another type when the whole value is one template: they are rendered only at run time.
        """
        if step_type not in STEP_TYPES:
            return [StepProblem("step_type", f"must be one of {', '.join(STEP_TYPES)}")]
        connector = self._services.get(service_name)
        if connector is None:
            message = f"unknown service {service_name!r}" + _did_you_mean(
                _close(service_name, self._services)
            )
            return [StepProblem("service_name", message)]
        model, problems = self._step_model(connector, step_type, action_name)
        if model is None:
            return problems
        if not isinstance(configuration, Mapping):
            return [*problems, StepProblem("configuration", "must be an object")]
        return [
            *problems,
            *model_problems(model, configuration, prefix="configuration"),
            *self._template_problems(configuration, "configuration"),
        ]

    def _step_model(
        self, connector: Connector, step_type: str, action_name: str
    ) -> tuple[type[BaseModel] | None, list[StepProblem]]:
        service = connector.service_name
        actions = {action.name: action for action in connector.actions}
        triggers = {trigger.name: trigger for trigger in connector.triggers}
        if step_type == "trigger":
            if action_name in triggers:
                return triggers[action_name].config_model, []
            if action_name in actions:
                message = f"{service}/{action_name} is not a trigger: use step_type {actions[action_name].step_type!r}"
                return None, [StepProblem("step_type", message)]
            suggestions = _close(action_name, triggers)
            return None, [
                StepProblem(
                    "action_name", f"{service} has no trigger {action_name!r}" + _did_you_mean(suggestions)
                )
            ]
        if action_name in actions:
            action = actions[action_name]
            if action.step_type != step_type:
                message = f"{service}/{action_name} runs as step_type {action.step_type!r}, not {step_type!r}"
                return action.input_model, [StepProblem("step_type", message)]
            return action.input_model, []
        if action_name in triggers:
            message = f"{service}/{action_name} is a trigger: it can only be step 1, with step_type 'trigger'"
            return None, [StepProblem("step_type", message)]
        suggestions = _close(action_name, actions)
        return None, [
            StepProblem(
                "action_name", f"{service} has no action {action_name!r}" + _did_you_mean(suggestions)
            )
        ]

    def _template_problems(self, value: Any, path: str) -> Iterator[StepProblem]:
        for where, text in _strings(value, path):
            if contains_template(text):
                try:
                    self._template_environment.parse(text)
                except TemplateSyntaxError as error:
                    yield StepProblem(where, f"template error: {error.message}")

    def validate_workflow(
        self, trigger_type: str, trigger_config: Any, steps: Sequence[Mapping[str, Any]]
    ) -> list[StepProblem]:
        """Everything wrong with a workflow: its trigger, the order of its steps, and every step.

        `steps` are mappings with `step_order`, `step_type`, `service_name`, `action_name`,
        `configuration` and optionally `conditions` (the workflow format's step objects).
        """
        problems = trigger_config_problems(trigger_type, trigger_config)
        if not steps:
            return [*problems, StepProblem("steps", "a workflow needs at least one step")]
        orders: list[Any] = [step.get("step_order") for step in steps]
        if any(not isinstance(order, int) or isinstance(order, bool) or order < 1 for order in orders):
            return [*problems, StepProblem("step_order", "every step needs a step_order of 1 or more")]
        duplicates = sorted({order for order in orders if orders.count(order) > 1})
        if duplicates:
            problems.append(StepProblem("step_order", f"step_order {duplicates} used more than once"))
        ordered = sorted(steps, key=lambda step: int(step["step_order"]))
        problems += self._trigger_step_problems(trigger_type, ordered)
        for position, step in enumerate(ordered):
            order = int(step["step_order"])
            step_problems = self.validate_step(
                str(step.get("step_type", "")),
                str(step.get("service_name", "")),
                str(step.get("action_name", "")),
                step.get("configuration", {}),
            )
            if position > 0 and step.get("step_type") == "trigger":
                step_problems.append(StepProblem("step_type", "only step 1 can be a trigger step"))
            conditions = step.get("conditions") or {}
            step_problems += model_problems(RuleGroup, conditions, prefix="conditions")
            step_problems += self._template_problems(conditions, "conditions")
            problems += [StepProblem(p.field, p.message, order) for p in step_problems]
        return problems

    def _trigger_step_problems(
        self, trigger_type: str, ordered: Sequence[Mapping[str, Any]]
    ) -> list[StepProblem]:
        first = ordered[0]
        first_order = int(first["step_order"])
        named = (first.get("service_name"), first.get("action_name"))
        expected = APP_TRIGGERS.get(trigger_type)
        if expected is not None:
            if first.get("step_type") != "trigger" or named != expected:
                wanted = "/".join(expected)
                return [
                    StepProblem(
                        "step_type",
                        f"with trigger_type {trigger_type!r}, step 1 must be the {wanted} trigger step",
                        first_order,
                    )
                ]
            return []
        if first.get("step_type") == "trigger":
            if trigger_type == "webhook" and named in WEBHOOK_APP_TRIGGERS:
                return []
            starters = [kind for kind, trigger in APP_TRIGGERS.items() if trigger == named]
            starters += ["webhook"] if named in WEBHOOK_APP_TRIGGERS else []
            needed = (
                f"trigger_type {starters[0]!r}"
                if starters
                else "a trigger_type that Autofy does not offer yet"
            )
            message = f"the trigger step {named[0]}/{named[1]} needs {needed}, not {trigger_type!r}"
            return [StepProblem("step_type", message, first_order)]
        return []

    def required_services(self, steps: Sequence[Mapping[str, Any]]) -> set[str]:
        """The services whose integration a workflow needs (built-in steps need none)."""
        return {
            str(step.get("service_name"))
            for step in steps
            if (connector := self._services.get(str(step.get("service_name")))) is not None
            and connector.requires_integration
        }


def trigger_config_problems(trigger_type: str, trigger_config: Any) -> list[StepProblem]:
    if trigger_type not in TRIGGER_TYPES:
        return [StepProblem("trigger_type", f"must be one of {', '.join(TRIGGER_TYPES)}")]
    if not isinstance(trigger_config, Mapping):
        return [StepProblem("trigger_config", "must be an object")]
    if trigger_type == "scheduled":
        try:
            parse_schedule(trigger_config)
        except ValueError as error:
            return [StepProblem("trigger_config", str(error))]
    if trigger_type == "email" and "poll_interval_seconds" in trigger_config:
        interval = trigger_config["poll_interval_seconds"]
        if not isinstance(interval, int) or not (
            MIN_POLL_INTERVAL_SECONDS <= interval <= MAX_POLL_INTERVAL_SECONDS
        ):
            message = f"must be a whole number of seconds from {MIN_POLL_INTERVAL_SECONDS} to {MAX_POLL_INTERVAL_SECONDS}"
            return [StepProblem("trigger_config.poll_interval_seconds", message)]
    if trigger_type == "webhook" and "signing_secret" in trigger_config:
        secret = trigger_config["signing_secret"]
        if not isinstance(secret, str) or not secret:
            return [StepProblem("trigger_config.signing_secret", "must be a non-empty text")]
    return []


def model_problems(model: type[BaseModel], data: Mapping[str, Any], *, prefix: str) -> list[StepProblem]:
    """`data` checked against `model`, tolerating templates that are rendered only at run time."""
    try:
        model.model_validate(data)
    except ValidationError as error:
        return [
            StepProblem(_error_path(prefix, detail, data), _error_message(model, detail))
            for detail in error.errors()
            if not _stands_for_template(detail, data)
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
        return f"unknown field {location[0]!r}" + _did_you_mean(_close(str(location[0]), known))
    return message


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}.{index}")


def _entries(service: ServiceDescription) -> list[ActionDescription | TriggerDescription]:
    return [*service.actions, *service.triggers]


def _names(connector: Connector) -> list[str]:
    return [a.name for a in connector.actions] + [t.name for t in connector.triggers]


def _close(name: str, candidates: Mapping[str, Any] | Sequence[str]) -> list[str]:
    return difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)


def _did_you_mean(suggestions: Sequence[str]) -> str:
    return f"; did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _describe_service(connector: Connector) -> ServiceDescription:
    auth = connector.auth
    return ServiceDescription(
        service_name=connector.service_name,
        display_name=connector.display_name,
        description=connector.description,
        requires_integration=connector.requires_integration,
        auth=AuthDescription(
            kind=auth.kind,
            fields=[CredentialFieldDescription.model_validate(f.model_dump()) for f in auth.fields],
            how_to_obtain=auth.how_to_obtain,
            scopes=auth.oauth2.scopes if auth.oauth2 else [],
        ),
        default_api_base=connector.default_api_base,
        actions=[
            ActionDescription(
                service_name=connector.service_name,
                name=action.name,
                display_name=action.display_name,
                description=action.description,
                step_type=action.step_type,
                credits=action.credits,
                input_schema=action.input_model.model_json_schema(),
                output_schema=action.output_model.model_json_schema(mode="serialization"),
            )
            for action in connector.actions
        ],
        triggers=[
            TriggerDescription(
                service_name=connector.service_name,
                name=trigger.name,
                display_name=trigger.display_name,
                description=trigger.description,
                config_schema=trigger.config_model.model_json_schema(),
                output_schema=trigger.output_model.model_json_schema(mode="serialization"),
            )
            for trigger in connector.triggers
        ],
    )


def check_catalog(catalog: Catalog) -> list[str]:
    """What makes the catalog unfit to serve: duplicate names, undocumented services or actions."""
    problems: list[str] = []
    services = [connector.service_name for connector in catalog.connectors]
    problems += [
        f"service {name!r} is declared twice" for name in sorted(set(services)) if services.count(name) > 1
    ]
    for connector in catalog.connectors:
        service = connector.service_name
        if not re.fullmatch(r"[a-z][a-z0-9_]*", service):
            problems.append(f"service {service!r}: name must be lower_snake_case")
        if not getattr(connector, "display_name", ""):
            problems.append(f"{service}: no display name")
        if len(getattr(connector, "description", "")) < MIN_DESCRIPTION_LENGTH:
            problems.append(
                f"{service}: description missing or shorter than {MIN_DESCRIPTION_LENGTH} characters"
            )
        if connector.requires_integration and not connector.auth.how_to_obtain:
            problems.append(f"{service}: auth has no how_to_obtain for users")
        problems += [
            f"{service}: credential field {f.name!r} has no description"
            for f in connector.auth.fields
            if not f.description
        ]
        names = _names(connector)
        problems += [
            f"{service}/{name}: declared twice" for name in sorted(set(names)) if names.count(name) > 1
        ]
        for action in connector.actions:
            problems += _entry_problems(f"{service}/{action.name}", action, action.input_model)
        for trigger in connector.triggers:
            problems += _entry_problems(f"{service}/{trigger.name}", trigger, trigger.config_model)
    return problems


def _entry_problems(label: str, entry: Any, input_model: type[BaseModel]) -> list[str]:
    problems: list[str] = []
    if not re.fullmatch(r"[a-z][a-z0-9_]*", entry.name):
        problems.append(f"{label}: name must be lower_snake_case (templates use it)")
    if not getattr(entry, "display_name", ""):
        problems.append(f"{label}: no display name")
    if len(getattr(entry, "description", "")) < MIN_DESCRIPTION_LENGTH:
        problems.append(f"{label}: description missing or shorter than {MIN_DESCRIPTION_LENGTH} characters")
    if input_model.model_config.get("extra") != "forbid":
        problems.append(f"{label}: input model must forbid unknown fields (derive from StrictModel)")
    schema = input_model.model_json_schema()
    problems += [f"{label}: input field {path!r} has no description" for path in _undescribed(schema)]
    return problems


def _undescribed(schema: Mapping[str, Any]) -> list[str]:
    """Properties without a description, in the root schema and every definition it uses."""
    missing: list[str] = []
    scopes = [("", schema)] + [
        (f"{name}.", definition) for name, definition in schema.get("$defs", {}).items()
    ]
    for prefix, scope in scopes:
        for field_name, field_schema in scope.get("properties", {}).items():
            if not field_schema.get("description"):
                missing.append(prefix + field_name)
    return missing


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """The process-wide catalog of every connector in `CONNECTORS`."""
    return Catalog(CONNECTORS)
