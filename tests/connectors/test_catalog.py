"""The catalog: lookup, description, search, and the one validation of steps and workflows."""

from __future__ import annotations

from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, Field

from autofy.connectors.catalog import (
    CONNECTORS,
    Catalog,
    StepProblem,
    UnknownAction,
    UnknownService,
    catalog,
    check_catalog,
    parse_schedule,
)
from autofy.connectors.core import CoreConnector
from autofy.connectors.sdk import (
    Action,
    AuthSpec,
    Connector,
    CredentialField,
    PollingTrigger,
    StrictModel,
)

# --- a small connector declared for these tests: one app trigger and one action ----------------


class MailFilter(StrictModel):
    query: str = Field(default="", description="Which mail starts a run.")


class Mail(BaseModel):
    subject: str = Field(description="The subject.")


class NewMail(PollingTrigger[MailFilter, Mail]):
    name = "new_email"
    display_name = "New email"
    description = "Starts a run for every new email that matches the query."
    config_model = MailFilter
    output_model = Mail


class SendInput(StrictModel):
    to: list[str] = Field(description="Recipients.")
    subject: str = Field(description="The subject line.")
    priority: int = Field(default=1, ge=1, le=5, description="1 (low) to 5 (high).")


class SendMail(Action[SendInput, Mail]):
    name = "send_email"
    display_name = "Send email"
    description = "Sends an email to the given recipients with a subject line."
    input_model = SendInput
    output_model = Mail


class MailConnector(Connector):
    # Named like the real Gmail connector: the email trigger type is defined by that name.
    service_name = "gmail"
    display_name = "Mail"
    description = "A mail service declared by the catalog tests."
    auth = AuthSpec(
        kind="api_key",
        fields=[CredentialField(name="api_key", label="API key", description="The key.")],
        how_to_obtain="Create a key in the settings.",
    )
    triggers = (NewMail(),)
    actions = (SendMail(),)


@pytest.fixture
def mail_catalog() -> Catalog:
    return Catalog([CoreConnector(), MailConnector()])


def fields(problems: list[StepProblem]) -> list[str]:
    return [problem.field for problem in problems]


# --- the catalog as served ----------------------------------------------------------------------


def test_the_real_catalog_passes_its_self_check() -> None:
    assert check_catalog(catalog()) == []


def test_the_catalog_starts_with_the_built_in_steps() -> None:
    assert isinstance(CONNECTORS[0], CoreConnector)
    names = {action.name for action in catalog().connector("core").actions}
    assert names == {
        "http_request",
        "format_text",
        "format_number",
        "format_date",
        "set_fields",
        "delay",
        "filter",
    }


def test_check_catalog_reports_duplicates_and_undocumented_actions() -> None:
    class Undocumented(StrictModel):
        value: str

    class Vague(Action[Undocumented, Mail]):
        name = "send_email"  # the same name as SendMail
        display_name = ""
        description = "Does it."
        input_model = Undocumented
        output_model = Mail

    class Loose(BaseModel):
        text: str = Field(description="Text.")

    class Permissive(Action[Loose, Mail]):
        name = "Permissive"
        display_name = "Permissive"
        description = "Accepts fields nobody declared, so typos would pass silently."
        input_model = Loose
        output_model = Mail

    class Sloppy(MailConnector):
        actions: ClassVar[Any] = (SendMail(), Vague(), Permissive())

    problems = check_catalog(Catalog([MailConnector(), Sloppy()]))

    assert "service 'gmail' is declared twice" in problems
    assert "gmail/send_email: declared twice" in problems
    assert "gmail/send_email: no display name" in problems
    assert any("gmail/send_email: description missing" in p for p in problems)
    assert "gmail/send_email: input field 'value' has no description" in problems
    assert any("gmail/Permissive: name must be lower_snake_case" in p for p in problems)
    assert any("gmail/Permissive: input model must forbid unknown fields" in p for p in problems)


def test_lookup_finds_actions_and_triggers_and_suggests_close_names(mail_catalog: Catalog) -> None:
    assert mail_catalog.action("gmail", "send_email").name == "send_email"
    assert mail_catalog.trigger("gmail", "new_email").name == "new_email"
    with pytest.raises(UnknownAction, match="did you mean 'send_email'"):
        mail_catalog.action("gmail", "send_mail")
    with pytest.raises(UnknownService, match="did you mean 'gmail'"):
        mail_catalog.connector("gmial")


def test_describe_lists_auth_actions_triggers_and_schemas(mail_catalog: Catalog) -> None:
    services = {s.service_name: s for s in mail_catalog.describe().services}
    mail, core = services["gmail"], services["core"]
    assert mail.requires_integration
    assert not core.requires_integration
    assert mail.auth.kind == "api_key"
    assert mail.auth.fields[0].name == "api_key"
    assert mail.auth.how_to_obtain == "Create a key in the settings."
    send = mail.actions[0]
    assert send.step_type == "action"
    assert send.input_schema["required"] == ["to", "subject"]
    assert send.input_schema["properties"]["priority"]["maximum"] == 5
    assert send.output_schema["properties"]["subject"]["type"] == "string"
    assert mail.triggers[0].config_schema["properties"]["query"]["description"] == "Which mail starts a run."
    kinds = {a.name: a.step_type for a in core.actions}
    assert kinds["filter"] == "condition"
    assert kinds["delay"] == "delay"


def test_search_ranks_names_above_descriptions(mail_catalog: Catalog) -> None:
    hits = mail_catalog.search("send emails")
    assert [(h.service_name, h.name) for h in hits[:2]] == [("gmail", "send_email"), ("gmail", "new_email")]
    assert mail_catalog.search("http api")[0].name == "http_request"
    assert mail_catalog.search("zzz nothing") == []


# --- validate_step ------------------------------------------------------------------------------


def test_valid_steps_have_no_problems(mail_catalog: Catalog) -> None:
    config = {"to": ["a@example.com"], "subject": "Hi"}
    assert mail_catalog.validate_step("action", "gmail", "send_email", config) == []
    assert mail_catalog.validate_step("trigger", "gmail", "new_email", {"query": "from:bank"}) == []
    assert mail_catalog.validate_step("delay", "core", "delay", {"minutes": 5}) == []


def test_unknown_service_and_action_suggest_close_matches(mail_catalog: Catalog) -> None:
    [service] = mail_catalog.validate_step("action", "gmial", "send_email", {})
    assert service.field == "service_name"
    assert "did you mean 'gmail'" in service.message
    [action] = mail_catalog.validate_step("action", "gmail", "send_mail", {})
    assert action.field == "action_name"
    assert "did you mean 'send_email'" in action.message


def test_wrong_step_types_are_named(mail_catalog: Catalog) -> None:
    rule = {"left": "a", "op": "is_empty"}
    [filter_as_action] = mail_catalog.validate_step("action", "core", "filter", {"all": [rule]})
    assert filter_as_action.field == "step_type"
    assert "'condition'" in filter_as_action.message
    [trigger_as_action] = mail_catalog.validate_step("action", "gmail", "new_email", {})
    assert "only be step 1" in trigger_as_action.message
    [action_as_trigger] = mail_catalog.validate_step("trigger", "gmail", "send_email", {})
    assert "not a trigger" in action_as_trigger.message
    assert fields(mail_catalog.validate_step("loop", "core", "delay", {})) == ["step_type"]


def test_configuration_problems_name_the_field(mail_catalog: Catalog) -> None:
    problems = mail_catalog.validate_step(
        "action", "gmail", "send_email", {"to": "a@example.com", "priority": 9, "subjet": "Hi"}
    )
    by_field = {p.field: p.message for p in problems}
    assert set(by_field) == {
        "configuration.to",
        "configuration.priority",
        "configuration.subject",
        "configuration.subjet",
    }
    assert by_field["configuration.subjet"] == "unknown field 'subjet'; did you mean 'subject'?"
    assert by_field["configuration.subject"] == "Field required"


def test_nested_fields_are_named_without_union_tags() -> None:
    problems = catalog().validate_step("condition", "core", "filter", {"all": [{"left": 1, "op": "bigger"}]})
    assert fields(problems) == ["configuration.all.0.op"]


def test_templates_stand_in_for_values_rendered_at_run_time(mail_catalog: Catalog) -> None:
    config = {
        "to": "{{ trigger.from }}",
        "subject": "Re: {{ trigger.subject }}",
        "priority": "{{ steps[2].level }}",
    }
    assert mail_catalog.validate_step("action", "gmail", "send_email", config) == []
    http = {
        "url": "{{ steps.set_fields.url }}",
        "method": "{{ trigger.method }}",
        "timeout_seconds": "{{ x }}",
    }
    assert catalog().validate_step("action", "core", "http_request", http) == []


def test_a_template_mixed_with_text_cannot_stand_in_for_a_number(mail_catalog: Catalog) -> None:
    config = {"to": ["{{ trigger.from }}"], "subject": "Hi", "priority": "level {{ x }}"}
    assert fields(mail_catalog.validate_step("action", "gmail", "send_email", config)) == [
        "configuration.priority"
    ]


def test_template_syntax_errors_are_reported(mail_catalog: Catalog) -> None:
    config = {"to": ["a@example.com"], "subject": "{{ trigger.subject }"}
    [problem] = mail_catalog.validate_step("action", "gmail", "send_email", config)
    assert problem.field == "configuration.subject"
    assert problem.message.startswith("template error")


def test_configuration_must_be_an_object(mail_catalog: Catalog) -> None:
    assert fields(mail_catalog.validate_step("action", "gmail", "send_email", ["x"])) == ["configuration"]


# --- validate_workflow --------------------------------------------------------------------------


def step(order: int, step_type: str, service: str, action: str, **configuration: Any) -> dict[str, Any]:
    return {
        "step_order": order,
        "step_type": step_type,
        "service_name": service,
        "action_name": action,
        "configuration": configuration,
    }


def test_an_email_workflow_starts_with_the_new_email_trigger(mail_catalog: Catalog) -> None:
    good = [
        step(1, "trigger", "gmail", "new_email", query="from:bank"),
        step(2, "action", "core", "set_fields", fields={}),
    ]
    assert mail_catalog.validate_workflow("email", {"poll_interval_seconds": 60}, good) == []
    [problem] = mail_catalog.validate_workflow("email", {}, good[1:])
    assert problem.step_order == 1  # its position in the workflow, as saved
    assert "gmail/new_email" in problem.message


def test_trigger_steps_only_come_first_and_only_for_app_triggers(mail_catalog: Catalog) -> None:
    steps = [step(1, "action", "core", "set_fields", fields={}), step(2, "trigger", "gmail", "new_email")]
    problems = mail_catalog.validate_workflow("manual", {}, steps)
    assert any(p.step_order == 2 and "only step 1" in p.message for p in problems)
    [manual_with_trigger] = mail_catalog.validate_workflow(
        "manual", {}, [step(1, "trigger", "gmail", "new_email")]
    )
    assert "needs trigger_type 'email'" in manual_with_trigger.message


def test_step_orders_must_be_unique(mail_catalog: Catalog) -> None:
    steps = [step(1, "action", "core", "set_fields", fields={}), step(1, "delay", "core", "delay", hours=1)]
    assert fields(mail_catalog.validate_workflow("manual", {}, steps)) == ["step_order"]


def test_step_conditions_are_validated(mail_catalog: Catalog) -> None:
    steps = [step(1, "action", "core", "set_fields", fields={})]
    steps[0]["conditions"] = {"all": [{"left": "{{ trigger.x }}", "op": "equals", "right": "a"}]}
    assert mail_catalog.validate_workflow("manual", {}, steps) == []
    steps[0]["conditions"] = {"all": [{"left": "x", "op": "like"}], "any": []}
    problems = mail_catalog.validate_workflow("manual", {}, steps)
    assert {p.field for p in problems} == {"conditions.all.0.op"}


def test_problems_inside_steps_carry_their_step_order(mail_catalog: Catalog) -> None:
    steps = [
        step(1, "action", "core", "set_fields", fields={}),
        step(2, "action", "gmail", "send_email", to=[]),
    ]
    [problem] = mail_catalog.validate_workflow("webhook", {}, steps)
    assert (problem.step_order, problem.field) == (2, "configuration.subject")
    assert str(problem) == "step 2: configuration.subject: Field required"


@pytest.mark.parametrize(
    ("trigger_type", "trigger_config", "field"),
    [
        ("scheduled", {"cron": "61 * * * *"}, "trigger_config"),
        ("scheduled", {"schedule": "daily", "time": "25:00"}, "trigger_config"),
        ("scheduled", {"schedule": "daily", "timezone": "Nowhere/City"}, "trigger_config"),
        ("scheduled", {"schedule": "fortnightly"}, "trigger_config"),
        ("email", {"poll_interval_seconds": 1}, "trigger_config.poll_interval_seconds"),
        ("webhook", {"signing_secret": ""}, "trigger_config.signing_secret"),
        ("cron", {}, "trigger_type"),
    ],
)
def test_trigger_config_problems(trigger_type: str, trigger_config: dict[str, Any], field: str) -> None:
    problems = catalog().validate_workflow(
        trigger_type, trigger_config, [step(1, "delay", "core", "delay", hours=1)]
    )
    assert field in fields(problems)


@pytest.mark.parametrize(
    ("trigger_config", "cron", "zone"),
    [
        ({"cron": "0 9 * * 1-5", "timezone": "Europe/Paris"}, "0 9 * * 1-5", "Europe/Paris"),
        ({"schedule": "hourly", "time": "00:15"}, "15 * * * *", "UTC"),
        (
            {"schedule": "daily", "time": "09:30", "timezone": "America/New_York"},
            "30 9 * * *",
            "America/New_York",
        ),
        ({"schedule": "weekly", "day_of_week": "Friday", "time": "17:00"}, "0 17 * * 5", "UTC"),
    ],
)
def test_schedules_normalize_to_cron(trigger_config: dict[str, Any], cron: str, zone: str) -> None:
    schedule = parse_schedule(trigger_config)
    assert (schedule.cron, schedule.timezone) == (cron, ZoneInfo(zone))


def test_required_services_are_those_with_integrations(mail_catalog: Catalog) -> None:
    steps = [
        step(1, "trigger", "gmail", "new_email"),
        step(2, "action", "core", "http_request", url="https://example.com"),
        step(3, "action", "gmail", "send_email"),
    ]
    assert mail_catalog.required_services(steps) == {"gmail"}
