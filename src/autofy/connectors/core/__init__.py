"""Built-in steps that need no integration: HTTP requests, formatters, fields, delay and filter."""

from __future__ import annotations

from autofy.connectors.core.delay import Delay
from autofy.connectors.core.filter import Filter
from autofy.connectors.core.format_date import FormatDate
from autofy.connectors.core.format_number import FormatNumber
from autofy.connectors.core.format_text import FormatText
from autofy.connectors.core.http_request import HttpRequest
from autofy.connectors.core.set_fields import SetFields
from autofy.connectors.sdk import AuthSpec, Connector


class CoreConnector(Connector):
    service_name = "core"
    display_name = "Built-in steps"
    description = (
        "Steps that need no connected account: call any web API, format text, numbers and dates, "
        "set fields, wait, and only continue when rules pass."
    )
    auth = AuthSpec(kind="none")
    actions = (HttpRequest(), FormatText(), FormatNumber(), FormatDate(), SetFields(), Delay(), Filter())
