"""The connector catalog: every service, action and trigger Autofy knows, and the one validation of
workflow steps against it.

The API serves it, the workflow service and the AI assistant validate with it, the engine looks
actions up in it. To add a connector, import it and add one instance to `CONNECTORS`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter
from pydantic import BaseModel

from autofy.connectors.anthropic import connector as anthropic
from autofy.connectors.core import CoreConnector
from autofy.connectors.core.conditions import RuleGroup
from autofy.connectors.gemini import connector as gemini
from autofy.connectors.gmail import connector as gmail
from autofy.connectors.http_credentials import connector as http_credentials
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
from autofy.connectors.validation import (
    APP_TRIGGERS,
    MIN_POLL_INTERVAL_SECONDS,
    STEP_TYPES,
    StepProblem,
    WorkflowCheck,
    empty_required_problems,
    model_problems,
    rule_problems,
    template_problems,
    validate_workflow,
)
from autofy.errors import NotFoundError

# Kept importable from here, where the triggers and older callers look for them.
__all__ = ["APP_TRIGGERS", "MIN_POLL_INTERVAL_SECONDS", "Catalog", "StepProblem", "catalog", "parse_schedule"]

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
    http_credentials,
)

MIN_DESCRIPTION_LENGTH = 30
_WORD = re.compile(r"[a-z0-9]+")


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


class Catalog:
    """Every connector's declarations, indexed for lookup, validation, description and search."""

    def __init__(self, connectors: Sequence[Connector]) -> None:
        self.connectors = tuple(connectors)
        self._services: dict[str, Connector] = {}
        for connector in self.connectors:
            self._services.setdefault(connector.service_name, connector)

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
            return [StepProblem("step_type", f"must be one of {', '.join(STEP_TYPES)}", level="save")]
        connector = self._services.get(service_name)
        if connector is None:
            message = f"unknown service {service_name!r}" + _did_you_mean(
                _close(service_name, self._services)
            )
            return [StepProblem("service_name", message, level="save")]
        model, problems = self._step_model(connector, step_type, action_name)
        # A step that names nothing real cannot even be a draft.
        problems = [replace(problem, level="save") for problem in problems]
        if model is None:
            return problems
        if not isinstance(configuration, Mapping):
            return [*problems, StepProblem("configuration", "must be an object", level="save")]
        schema_problems = model_problems(model, configuration, prefix="configuration")
        if not schema_problems and issubclass(model, RuleGroup):
            schema_problems = rule_problems(configuration, "configuration", required=True)
        return [
            *problems,
            *schema_problems,
            *empty_required_problems(model, configuration, prefix="configuration"),
            *template_problems(configuration, "configuration", None),
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

    def validate_workflow(
        self, trigger_type: str, trigger_config: Any, steps: Sequence[Mapping[str, Any]]
    ) -> list[StepProblem]:
        """Everything wrong with a workflow, by the catalog alone (`validation.validate_workflow`
        with no knowledge of the caller's integrations)."""
        return validate_workflow(WorkflowCheck(self), trigger_type, trigger_config, steps)

    def output_fields(self, service_name: str, action_name: str, configuration: Any) -> frozenset[str] | None:
        """The fields a step's output has, or None when they are only known at run time."""
        connector = self._services.get(service_name)
        if connector is None:
            return None
        entries: list[Any] = [*connector.actions, *connector.triggers]
        entry = next((item for item in entries if item.name == action_name), None)
        if entry is None:
            return None
        if entry.output_model.model_config.get("extra") == "allow":
            # Outputs shaped by the step's own configuration (set_fields: exactly its fields).
            fields = configuration.get("fields") if isinstance(configuration, Mapping) else None
            return frozenset(fields) if isinstance(fields, Mapping) else None
        schema = entry.output_model.model_json_schema(mode="serialization")
        return frozenset(schema.get("properties", {}))

    def integration_service(self, service_name: str, action_name: str) -> str | None:
        """The service of the integration a step names by `integration_id`, when its action takes one."""
        connector = self._services.get(service_name)
        action = next((a for a in connector.actions if a.name == action_name), None) if connector else None
        return action.integration_service if action is not None else None

    def required_services(self, steps: Sequence[Mapping[str, Any]]) -> set[str]:
        """The services whose integration a workflow needs (built-in steps need none)."""
        return {
            str(step.get("service_name"))
            for step in steps
            if (connector := self._services.get(str(step.get("service_name")))) is not None
            and connector.requires_integration
        }


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
