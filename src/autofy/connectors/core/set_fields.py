"""Assemble values under names of your choosing, for later steps to use."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from autofy.connectors.sdk import Action, ConnectorContext, StrictModel


class SetFieldsInput(StrictModel):
    fields: dict[str, Any] = Field(
        description='Names and values to output, e.g. {"customer": "{{ trigger.from }}", '
        '"priority": "high"}. Later steps read them as {{ steps.set_fields.customer }}.'
    )

    @field_validator("fields")
    @classmethod
    def _names_are_identifiers(cls, fields: dict[str, Any]) -> dict[str, Any]:
        for name in fields:
            if not name.isidentifier():
                raise ValueError(f"{name!r} is not a usable name: use letters, digits and underscores")
        return fields


class SetFieldsOutput(BaseModel):
    """Exactly the fields given."""

    model_config = ConfigDict(extra="allow")


class SetFields(Action[SetFieldsInput, SetFieldsOutput]):
    name = "set_fields"
    display_name = "Set fields"
    description = (
        "Output a set of named values built from templates and constants, so later steps can refer "
        "to them by name (combine data from several steps, rename fields, or set defaults)."
    )
    input_model = SetFieldsInput
    output_model = SetFieldsOutput

    async def run(self, ctx: ConnectorContext, params: SetFieldsInput) -> SetFieldsOutput:
        return SetFieldsOutput(**params.fields)
