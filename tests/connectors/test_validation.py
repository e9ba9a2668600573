"""The one workflow validator, by the kinds of faulty workflows it must refuse (issue 12)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from autofy.connectors.catalog import catalog
from autofy.connectors.validation import StepProblem, WorkflowCheck, step_run_problem, validate_workflow


def step(
    action: str, service: str = "core", step_type: str = "action", **configuration: Any
) -> dict[str, Any]:
    return {
        "step_type": step_type,
        "service_name": service,
        "action_name": action,
        "configuration": configuration,
    }


def text_step(text: str) -> dict[str, Any]:
    return step("format_text", operation="upper", text=text)


def summarize(text: str = "{{ trigger.body }}") -> dict[str, Any]:
    return step("summarize", service="openai", text=text)


def problems(
    steps: list[dict[str, Any]],
    trigger_type: str = "manual",
    trigger_config: dict[str, Any] | None = None,
    integrations: dict[uuid.UUID, str] | None = None,
) -> list[StepProblem]:
    ordered = [{**s, "step_order": index} for index, s in enumerate(steps, start=1)]
    check = WorkflowCheck(catalog(), integrations)
    return validate_workflow(check, trigger_type, trigger_config or {}, ordered)


def only(found: list[StepProblem]) -> StepProblem:
    assert len(found) == 1, found
    return found[0]


# --- templates ----------------------------------------------------------------------------------


def test_a_valid_chain_of_references_has_no_problem() -> None:
    steps = [
        summarize(),
        step("set_fields", fields={"customer": "{{ trigger.from }}"}),
        text_step("{{ steps.summarize.text }} {{ steps[1].model }} {{ steps.set_fields.customer }}"),
        text_step("{% for word in steps[3].result.split() %}{{ loop.index }}{{ word }}{% endfor %}"),
        text_step("{{ workflow.name }} {{ execution.id }} {{ now }} {{ range(3) | list }}"),
    ]
    assert problems(steps) == []


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ steps.nope.x }}", "steps.nope is not an earlier step"),
        ("{{ steps[5] }}", "steps[5] is not an earlier step"),
        ("{{ steps.format_text.text }}", "steps.format_text is not an earlier step"),  # itself
        ('{{ steps["1"].text }}', "write steps[1]"),
        ("{{ secrets.token }}", "'secrets' is not defined"),
        ("{{ workflow.owner }}", "workflow has no field 'owner'"),
        ("{{ steps.summarize.txt }}", "has no output field 'txt'; it outputs model, text, usage"),
    ],
)
def test_references_that_cannot_resolve_are_named(template: str, expected: str) -> None:
    problem = only(problems([summarize(), text_step(template)]))
    assert (problem.step_order, problem.field, problem.level) == (2, "configuration.text", "activation")
    assert expected in problem.message


def test_a_step_reads_only_steps_before_it() -> None:
    steps = [text_step("{{ steps.summarize.text }}"), summarize()]
    problem = only(problems(steps))
    assert problem.step_order == 1
    assert "a step reads only steps before it" in problem.message


def test_a_disabled_step_is_not_there_to_read() -> None:
    steps = [{**summarize(), "is_enabled": False}, text_step("{{ steps.summarize.text }}")]
    assert "not an earlier step" in only(problems(steps)).message


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ trigger.__class__ }}", "'__class__' is not allowed"),
        ("{{ trigger['__globals__'] }}", "'__globals__' is not allowed"),
        ("{{ trigger | attr('__class__') }}", "'__class__' is not allowed"),
        ("{{ trigger.subject | shout }}", "No filter named 'shout'"),
        ("{% if trigger.x is prime %}x{% endif %}", "No test named 'prime'"),
        ("{{ trigger.subject }", "template error"),
        ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "nested too deeply"),
    ],
)
def test_broken_or_unsafe_templates_are_refused_at_save(template: str, expected: str) -> None:
    problem = only(problems([text_step(template)]))
    assert problem.level == "save"
    assert expected in problem.message


def test_conditions_are_checked_like_configuration() -> None:
    steps = [summarize(), text_step("x")]
    steps[1]["conditions"] = {"all": [{"left": "{{ steps.classify.label }}", "op": "equals", "right": "a"}]}
    problem = only(problems(steps))
    assert problem.field == "conditions.all.0.left"
    assert "steps.classify is not an earlier step" in problem.message


def test_an_unknowable_output_field_is_a_warning() -> None:
    steps = [step("set_fields", fields="{{ trigger }}"), text_step("{{ steps.set_fields.name }}")]
    found = problems(steps)
    assert [p.level for p in found] == ["warning"]


# --- trigger configuration ----------------------------------------------------------------------

TELEGRAM_TRIGGER = step("new_message", service="telegram", step_type="trigger")


@pytest.mark.parametrize(
    ("trigger_type", "trigger_config", "steps"),
    [
        ("manual", {"run_as": "admin"}, [text_step("x")]),
        ("webhook", {"integration_id": str(uuid.uuid4())}, [text_step("x")]),
        ("email", {"poll_interval_seconds": 60, "folder": "x"}, [step("new_email", "gmail", "trigger")]),
        ("webhook", {"signing_secret": "abc"}, [TELEGRAM_TRIGGER]),
        ("scheduled", {"cron": "0 9 * * *", "run_as": "x"}, [text_step("x")]),
    ],
)
def test_unknown_trigger_config_keys_are_refused_at_save(
    trigger_type: str, trigger_config: dict[str, Any], steps: list[dict[str, Any]]
) -> None:
    problem = only(problems(steps, trigger_type, trigger_config))
    assert problem.level == "save"
    assert problem.field.startswith("trigger_config")


def test_known_trigger_configs_pass() -> None:
    assert problems([text_step("x")], "webhook", {"require_signature": True}) == []
    assert problems([TELEGRAM_TRIGGER], "webhook", {}) == []
    assert problems([step("new_email", "gmail", "trigger")], "email", {"poll_interval_seconds": 30}) == []


# --- required values and rules ------------------------------------------------------------------


def test_an_empty_required_value_blocks_activation_not_saving() -> None:
    problem = only(problems([step("send_message", "telegram", chat_id="", text="hi")]))
    assert (problem.field, problem.level) == ("configuration.chat_id", "activation")
    assert "required" in problem.message


@pytest.mark.parametrize("rules", [{}, {"all": []}, {"any": [{"all": []}]}])
def test_a_filter_needs_at_least_one_rule(rules: dict[str, Any]) -> None:
    problem = only(problems([step("filter", step_type="condition", **rules)]))
    assert problem.level == "activation"
    assert "rule" in problem.message


# --- secrets ------------------------------------------------------------------------------------

BOT_TOKEN = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
URL = "https://api.example.com/x"


@pytest.mark.parametrize(
    ("configuration", "field"),
    [
        ({"url": URL, "auth": {"type": "bearer", "token": "abc123"}}, "configuration.auth.token"),
        ({"url": URL, "headers": {"Authorization": "Bearer abc123"}}, "configuration.headers.Authorization"),
        ({"url": URL, "headers": {"X-API-Key": "abc123"}}, "configuration.headers.X-API-Key"),
        ({"url": URL, "headers": {"Cookie": "session=1"}}, "configuration.headers.Cookie"),
        (
            {"url": URL, "auth": {"type": "basic", "username": "a", "password": "pw"}},
            "configuration.auth.password",
        ),
        ({"url": URL, "method": "POST", "json_body": {"password": "pw"}}, "configuration.json_body.password"),
        ({"url": URL, "query": {"key": "abc123"}}, "configuration.query.key"),
        ({"url": URL, "query": {"access_token": "abc123"}}, "configuration.query.access_token"),
    ],
)
def test_secrets_in_the_http_step_point_to_an_http_integration(
    configuration: dict[str, Any], field: str
) -> None:
    found = [p for p in problems([step("http_request", **configuration)]) if p.level == "save"]
    problem = only(found)
    assert problem.field == field
    assert "HTTP credentials integration" in problem.message


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("sk-proj-" + "a1B2" * 12, "OpenAI"),
        ("sk-ant-api03-" + "x" * 40, "Anthropic"),
        (f"send with {BOT_TOKEN} please", "Telegram"),
        ("ghp_" + "a" * 36, "GitHub"),
        ("AIza" + "b" * 35, "Google"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "JSON",
        ),
        ("AKIAIOSFODNN7EXAMPLE", "AWS"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE", "private key"),
    ],
)
def test_credential_formats_are_refused_anywhere(value: str, kind: str) -> None:
    problem = only(problems([step("set_fields", fields={"note": value})]))
    assert (problem.field, problem.level) == ("configuration.fields.note", "save")
    assert kind in problem.message


def test_secret_named_fields_are_refused_in_any_step() -> None:
    problem = only(problems([step("set_fields", fields={"api_key": "abc123"})]))
    assert problem.field == "configuration.fields.api_key"


def test_secrets_that_arrive_with_the_run_and_ordinary_words_pass() -> None:
    steps = [
        step(
            "http_request",
            url=URL,
            headers={"Authorization": "Bearer {{ trigger.body.token }}"},
            query={"page_token": "{{ trigger.body.next }}"},
        ),
        step("set_fields", fields={"max_tokens": 200, "secretary": "Ada", "token": ""}),
        summarize("Explain what an API key is and why sk- prefixes matter."),
    ]
    assert problems(steps) == []


# --- integration references ---------------------------------------------------------------------


def test_the_http_step_names_only_the_callers_own_http_integration() -> None:
    mine, telegram_one = uuid.uuid4(), uuid.uuid4()
    integrations = {mine: "http", telegram_one: "telegram"}

    def with_integration(value: str) -> list[StepProblem]:
        return problems([step("http_request", url=URL, integration_id=value)], integrations=integrations)

    assert with_integration(str(mine)) == []
    someone_elses = only(with_integration(str(uuid.uuid4())))
    assert (someone_elses.field, someone_elses.level) == ("configuration.integration_id", "save")
    wrong_service = only(with_integration(str(telegram_one)))
    assert "needs a http integration" in wrong_service.message


# --- the engine ---------------------------------------------------------------------------------


def test_the_engine_refuses_a_stored_step_that_breaks_the_rules() -> None:
    def plan_step(order: int, action: str, **configuration: Any) -> dict[str, Any]:
        return {**step(action, **configuration), "step_order": order, "conditions": {}}

    plan = [
        plan_step(2, "format_text", operation="upper", text="{{ steps.new_email.subject }}"),
        plan_step(3, "format_text", operation="upper", text="{{ steps[9].text }}"),
        plan_step(4, "format_text", operation="upper", text="(" * 3000),
        plan_step(5, "set_fields", fields={"x": "{{ " + "(" * 5000 + " }}"}),
    ]
    trigger = {"step_order": 1, "action_name": "new_email"}
    assert step_run_problem(plan, 0, trigger) is None
    assert "steps[9] is not an earlier step" in (step_run_problem(plan, 1, trigger) or "")
    assert step_run_problem(plan, 2, trigger) is None  # no template: plain text
    assert "nested too deeply" in (step_run_problem(plan, 3, trigger) or "")
