"""extract: pull structured data out of a text into the shape a JSON schema describes.

The model is made to call one tool whose parameters are the schema (structured output by tool
calling, which all four providers support); what it returns is then validated against the schema,
because providers do not all enforce it. A model that answers with JSON text instead (some
OpenAI-compatible servers ignore tools) is accepted when that JSON is valid.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import Field, field_validator

from autofy.connectors.llm.actions.base import LLMAction, ModelInput, ModelOutput, text_of
from autofy.connectors.llm.usage import reported_model, token_usage
from autofy.connectors.sdk import ConnectorContext, PermanentError

if TYPE_CHECKING:
    from langchain_core.messages import AIMessage

EXTRACTION_TOOL = "record_extracted_data"
EXTRACT_INSTRUCTIONS = (
    f"You extract data from texts. Call {EXTRACTION_TOOL} once with the data found in the text. "
    "Use only what the text says; leave out optional fields the text does not give."
)
# How many schema violations an error names before it stops listing.
MAX_REPORTED_VIOLATIONS = 5


class ExtractInput(ModelInput):
    text: str = Field(min_length=1, description="The text to extract data from, e.g. an email body.")
    json_schema: dict[str, Any] = Field(
        description=(
            "A JSON Schema of type object describing the data wanted, e.g. "
            '{"type": "object", "properties": {"amount": {"type": "number"}}, "required": ["amount"]}.'
        )
    )
    instructions: str = Field("", description="Extra guidance, e.g. how to read dates or amounts.")

    @field_validator("json_schema")
    @classmethod
    def _object_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as error:
            raise ValueError(f"json_schema is not a valid JSON Schema: {error.message}") from None
        if schema.get("type") != "object":
            raise ValueError('json_schema must describe an object ("type": "object")')
        return schema


class ExtractOutput(ModelOutput):
    data: dict[str, Any] = Field(description="The extracted data, valid against json_schema.")


def _proposed_data(answer: AIMessage) -> Any:
    for call in answer.tool_calls:
        if call["name"] == EXTRACTION_TOOL:
            return call["args"]
    text = text_of(answer).removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        return json.loads(text)
    except ValueError:
        return None


def schema_violations(data: Any, schema: dict[str, Any]) -> list[str]:
    """Each way `data` breaks `schema`, as 'where: what' lines."""
    violations = sorted(Draft202012Validator(schema).iter_errors(data), key=lambda error: list(error.path))
    return [f"{error.json_path}: {error.message}" for error in violations]


class Extract(LLMAction[ExtractInput, ExtractOutput]):
    name = "extract"
    display_name = "Extract structured data"
    description = (
        "Extract structured data from a text (an invoice total, a date, a name) into the fields a "
        "JSON schema describes; the result is checked against the schema."
    )
    base_input_model: ClassVar[type[ModelInput]] = ExtractInput
    output_model = ExtractOutput

    async def run(self, ctx: ConnectorContext, params: ExtractInput) -> ExtractOutput:
        system = EXTRACT_INSTRUCTIONS
        if params.instructions:
            system = f"{system}\n\n{params.instructions}"
        tool = {
            "type": "function",
            "function": {
                "name": EXTRACTION_TOOL,
                "description": "Record the data extracted from the text.",
                "parameters": params.json_schema,
            },
        }
        answer = await self.call_model(
            ctx,
            params.model,
            system=system,
            prompt=params.text,
            temperature=0,
            tools=[tool],
            tool_choice=EXTRACTION_TOOL,
        )
        data = _proposed_data(answer)
        if not isinstance(data, dict):
            raise PermanentError(f"{self.provider.display_name} returned no structured data to extract")
        violations = schema_violations(data, params.json_schema)
        if violations:
            listed = "; ".join(violations[:MAX_REPORTED_VIOLATIONS])
            raise PermanentError(
                f"{self.provider.display_name} returned data that does not match json_schema: {listed}"
            )
        return ExtractOutput(data=data, model=reported_model(answer, params.model), usage=token_usage(answer))
