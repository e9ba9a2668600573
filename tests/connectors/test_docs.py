"""docs/connectors.md carries the generated reference of every connector in the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from autofy.connectors.catalog import catalog
from autofy.connectors.docs import BEGIN_MARKER, END_MARKER, render, replace_generated, service_section
from autofy.connectors.schemas import ServiceDescription

DOCUMENT = Path(__file__).parents[2] / "docs" / "connectors.md"
REGENERATE = "run `python -m autofy.connectors.docs --write docs/connectors.md`"


@pytest.mark.parametrize("service", catalog().describe().services, ids=lambda s: s.service_name)
def test_every_service_is_documented_as_generated(service: ServiceDescription) -> None:
    assert service_section(service) in DOCUMENT.read_text(), (
        f"{service.service_name} is out of date: {REGENERATE}"
    )


def test_the_generated_section_is_current() -> None:
    document = DOCUMENT.read_text()
    assert replace_generated(document, render(catalog())) == document, REGENERATE


def test_every_action_and_trigger_has_its_section() -> None:
    generated = render(catalog())
    for service in catalog().describe().services:
        for entry in [*service.actions, *service.triggers]:
            assert f"(`{service.service_name}/{entry.name}`)" in generated
    assert generated.startswith(BEGIN_MARKER)
    assert generated.rstrip().endswith(END_MARKER)
